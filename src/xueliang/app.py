"""The ASGI application factory: settings in, a ready app out. Nothing is built at import time.

`create_app` composes the node in one order: the core's services (database, clock, events, hub,
timers), then each domain's runtime (media, recordings, alarms), each registering its services and
handing back its start-up hooks, then the routes. Start-up runs the hooks in that order, shutdown
runs their stops in reverse."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import APIRouter, FastAPI
from starlette.routing import BaseRoute

from xueliang import __version__
from xueliang.alarms import runtime as alarms_runtime
from xueliang.alarms.push import station_notice_event
from xueliang.api import API_PREFIX, ERROR_RESPONSES, api_router, install_error_handlers
from xueliang.config import Settings
from xueliang.core import http_guard, migrate, route_index
from xueliang.core.clock import Clock, SystemClock
from xueliang.core.context import AppContext
from xueliang.core.db import Database
from xueliang.core.heap import freeze_startup_heap
from xueliang.core.lifecycle import StartupHook, Stop
from xueliang.core.timers import TimerRunner, runner_hook
from xueliang.federation import runtime as federation_runtime
from xueliang.federation.video import runtime as federation_video_runtime
from xueliang.gb28181 import runtime as gb28181_runtime
from xueliang.grid import runtime as grid_runtime
from xueliang.grid.events import GridNoticeRaised
from xueliang.hospital import runtime as hospital_runtime
from xueliang.media import runtime as media_runtime
from xueliang.notify.hub import Hub
from xueliang.ops import metrics as ops_metrics
from xueliang.ops import roles as ops_roles
from xueliang.portal import runtime as portal_runtime
from xueliang.recordings import runtime as recordings_runtime
from xueliang.recordings.playback_views import playback_router
from xueliang.web.views import mount_web

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    migrate_on_start: bool = True,
    freeze_heap: bool = False,
    extra_hooks: Sequence[StartupHook] = (),
) -> FastAPI:
    """`freeze_heap` (the server, not tests, which make many apps in one process) hides the start-up
    heap from the garbage collector. `extra_hooks` run after the node's own, for tools and tests that
    must act in the app's event loop at start-up."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url()
    ctx = AppContext(
        settings=settings,
        db=Database(url),
        clock=clock or SystemClock(),
        secret=settings.resolved_secret_key(),
    )
    app = FastAPI(
        title="Xueliang",
        version=__version__,
        lifespan=_lifespan(ctx, url, migrate_on_start, freeze_heap),
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        description="Rural community safety and services platform. Errors are JSON `{code, message}`.",
        responses=ERROR_RESPONSES,  # every operation documents its refusals (4XX: api.ErrorOut)
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    http_guard.install(  # security headers, body limits, no NaN/Infinity: for every route
        app,
        max_body_bytes=settings.max_body_bytes,
        max_body_bytes_by_prefix=settings.max_body_bytes_by_prefix,
        csp_exempt=[f"{API_PREFIX}/docs"],
    )
    app.router.routes.extend(_prepared_api_routes())
    app.router._mark_routes_changed()  # as include_router does (FastAPI 0.165: caches follow it)

    # The core's services, then each domain's runtime, in the order they start.
    for section in settings.sections():
        ctx.services.add(section)  # a domain reads its own: ctx.services.require(AccountSettings)
    ctx.services.add(Hub())
    timers = ctx.services.add(TimerRunner(ctx.db, ctx.clock, max_idle=settings.timer_max_idle_s))
    hooks: list[StartupHook] = []
    if settings.media.enabled and settings.runs_media():  # the role (ops/roles.py) splits the work
        hooks += media_runtime.install(app, ctx, settings.media)
    hooks += recordings_runtime.install(ctx, settings.recording)
    hooks += alarms_runtime.install(ctx, settings.alarms)
    hooks += grid_runtime.install(ctx, settings.grid)
    _grid_notices_to_alarm_consoles(ctx)
    hooks += portal_runtime.install(ctx, settings.portal)
    hooks += hospital_runtime.install(ctx, settings.hospital)
    hooks += gb28181_runtime.install(ctx, settings.gb28181)
    hooks += federation_runtime.install(ctx, settings.federation)
    hooks += federation_video_runtime.install(app, ctx, settings.federation)  # needs the media plane
    hooks += ops_metrics.install(app, ctx, settings.ops)  # /metrics, /readyz: reads the others' state
    hooks += ops_roles.install(app, ctx)  # leases (media), owners of live video (web), heartbeats
    if settings.runs_worker():
        hooks.append(runner_hook(timers, loop=settings.timer_loop))  # last: every handler is registered
    hooks += extra_hooks
    app.state.startup_hooks = hooks

    mount_web(app)
    route_index.install(app)  # last: a request tries only its path's routes (core/route_index.py)
    return app


@functools.cache
def _prepared_api_routes() -> tuple[BaseRoute, ...]:
    """The API's routes as FastAPI prepares them for an app (each route's dependants, parameter models
    and effective context: ~0.12 s of CPU): the same for every app a process makes, so prepared once
    and shared (tests make hundreds of apps). Prepared under a router configured as an app's own
    (`responses`); endpoints find their node through `request.app`, never through the route. What the
    sharing gives up: an app's `dependency_overrides` do not reach these routes (nothing uses them;
    tests run the real dependencies)."""
    holder = APIRouter(responses=ERROR_RESPONSES)
    holder.include_router(api_router())
    holder.include_router(playback_router)
    return tuple(holder.routes)


def _grid_notices_to_alarm_consoles(ctx: AppContext) -> None:
    """Each missed checkpoint, care visit or follow-up the grid stores also shows in the alarm console
    of the station that handles its village (issue 16): the two domains stay independent, joined here."""
    hub = ctx.services.require(Hub)

    async def forward(event: GridNoticeRaised) -> None:
        await hub.publish(station_notice_event(event.region_path, event.kind, event.text, event.detail))

    ctx.events.subscribe(GridNoticeRaised, forward)


def _lifespan(
    ctx: AppContext, url: str, migrate_on_start: bool, freeze_heap: bool
) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if migrate_on_start:
            await migrate.upgrade_async(url)
        stops: list[Stop] = []
        try:
            for hook in app.state.startup_hooks:
                stop = await hook(ctx)
                if stop is not None:
                    stops.append(stop)
            if freeze_heap:
                log.info("start-up heap frozen: %d objects", freeze_startup_heap())
            yield
        finally:
            for stop in reversed(stops):
                await stop()
            await ctx.events.drain()
            await ctx.db.dispose()

    return lifespan
