"""The ASGI application factory: settings in, a ready app out. Nothing is built at import time."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from xueliang import __version__
from xueliang.api import API_PREFIX, api_router, install_error_handlers
from xueliang.config import Settings
from xueliang.core import migrate
from xueliang.core.clock import Clock, SystemClock
from xueliang.core.context import AppContext
from xueliang.core.db import Database
from xueliang.core.heap import freeze_startup_heap
from xueliang.media.plane import MediaPlane
from xueliang.media.plane_rtsp import router as rtsp_router
from xueliang.recordings.config import RecordingSettings
from xueliang.recordings.tasks import RecordingsNode, recordings_hook
from xueliang.recordings.views import playback_router
from xueliang.web.views import mount_web

log = logging.getLogger(__name__)

Stop = Callable[[], Awaitable[None]]
StartupHook = Callable[[AppContext], Awaitable[Stop | None]]


def _media_hook(plane: MediaPlane) -> StartupHook:
    async def start(_ctx: AppContext) -> Stop:
        await plane.start()
        return plane.stop

    return start


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    migrate_on_start: bool = True,
    startup_hooks: list[StartupHook] | None = None,
    recording: RecordingSettings | None = None,
    freeze_heap: bool = False,
) -> FastAPI:
    """`startup_hooks` let long-running services (alarm timers, MQTT) start with the app and hand back
    their own shutdown; the media engine is one of them unless `settings.media_enabled` is off.
    `recording` defaults to the `XUELIANG_RECORDING_*` environment. `freeze_heap` (the server, not
    tests, which make many apps in one process) hides the start-up heap from the garbage collector."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url()
    ctx = AppContext(
        settings=settings,
        db=Database(url),
        clock=clock or SystemClock(),
        secret=settings.resolved_secret_key(),
    )
    hooks = list(startup_hooks or [])
    recordings = RecordingsNode(ctx, recording or RecordingSettings())
    ctx.extras["recordings"] = recordings
    hooks.append(recordings_hook(recordings))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if migrate_on_start:
            await migrate.upgrade_async(url)
        stops: list[Stop] = []
        try:
            for hook in hooks:
                stop = await hook(ctx)
                if stop is not None:
                    stops.append(stop)
            if freeze_heap:
                log.info("start-up heap frozen: %d objects", freeze_startup_heap())
            yield
        finally:
            for stop in reversed(stops):
                await stop()
            await ctx.db.dispose()

    app = FastAPI(
        title="Xueliang",
        version=__version__,
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        description="Rural community safety and services platform. Errors are JSON `{code, message}`.",
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    app.include_router(api_router())
    app.include_router(playback_router)
    if settings.media_enabled:
        plane = MediaPlane(ctx)
        plane.hooks.append(recordings)  # the recorder follows the plane's cameras
        ctx.extras["media"] = plane
        app.include_router(plane.gateway.router)
        app.include_router(rtsp_router)
        hooks.insert(0, _media_hook(plane))
    mount_web(app)
    return app
