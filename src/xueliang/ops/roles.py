"""Roles of a `xueliang serve` process: what each one starts (issue 20, docs/operations.md).

- `all` (the default): one process does everything, on SQLite or PostgreSQL (today's node).
- `web`: HTTP, pages and WebSockets; any number behind a load balancer. Live video is served by the
  media process that owns the camera: stream URLs lead there (`media/plane/owner_views.py`).
- `media`: ingest, live outputs, recording, the RTSP re-serve, for its share of the cameras, held by
  leases in PostgreSQL (`media/plane/leases.py`).
- `worker`: the durable timers (escalations, grid and hospital schedules), retention, exports, MQTT.

Every role builds the same app through `create_app` (ADR 0003); the role only decides which
background work starts (`NodeSettings.runs_web/runs_media/runs_worker`, read by the runtimes) and
adds the lease manager (media), the owner map (web) and a heartbeat row per process, which the
system page reads. Events between processes go through PostgreSQL LISTEN/NOTIFY (notify/pg.py and
the lease channel)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from fastapi import FastAPI

from xueliang.cameras.events import CameraChanged
from xueliang.cameras.streams import LiveStreams
from xueliang.core.context import AppContext
from xueliang.core.lifecycle import StartupHook, Stop
from xueliang.core.settings import NodeSettings
from xueliang.media.plane import MediaPlane
from xueliang.media.plane.leases import (
    LeaseManager,
    Listener,
    beat,
    leave,
    notify,
    process_name,
    process_stats,
)
from xueliang.media.plane.owner_views import OwnerStreams
from xueliang.media.plane.owner_views import router as owner_router
from xueliang.ops.system import router as system_router

log = logging.getLogger(__name__)

ROLES = ("all", "web", "media", "worker")


@dataclass(frozen=True, slots=True)
class RolePlan:
    """What a role runs, for the docs, `serve`'s first log line and the tests."""

    web: bool
    media: bool
    worker: bool

    def describe(self) -> str:
        parts = [
            name for name, on in (("web", self.web), ("media", self.media), ("worker", self.worker)) if on
        ]
        return " + ".join(parts)


def plan(settings: NodeSettings) -> RolePlan:
    return RolePlan(settings.runs_web(), settings.runs_media(), settings.runs_worker())


class RoleRefused(ValueError):
    """This role cannot run with these settings (one line for the CLI)."""


def check(settings: NodeSettings) -> None:
    """A split role needs PostgreSQL: SQLite is one process by design (ADR 0002)."""
    if settings.role not in ROLES:
        raise RoleRefused(f"unknown role {settings.role!r}: use one of {', '.join(ROLES)}")
    if settings.role != "all" and not settings.resolved_database_url().startswith("postgresql"):
        raise RoleRefused(f"--role {settings.role} needs PostgreSQL; SQLite runs one process: use --role all")


def media_url(settings: NodeSettings) -> str:
    return settings.media_url or f"http://{settings.host}:{settings.port}"


def install(app: FastAPI, ctx: AppContext) -> list[StartupHook]:
    """Called by `create_app` after the domains: the role's cross-process parts (PostgreSQL only)."""
    settings = ctx.settings
    app.include_router(system_router)  # the system page's data, in every role
    if settings.role == "all":
        return []
    name = process_name(settings.role)
    hooks: list[StartupHook] = []
    relayed: set[int] = set()  # changes heard from another process, re-emitted here: not sent back

    async def tell_camera(event: CameraChanged) -> None:
        if event.camera_id in relayed:
            return
        with contextlib.suppress(Exception):  # the owner also re-reads its cameras on every lease pass
            await notify(ctx, f"camera:{event.camera_id}:{name}")

    ctx.events.subscribe(CameraChanged, tell_camera)
    plane = ctx.services.get(MediaPlane)
    if settings.role == "media" and plane is not None:
        manager = ctx.services.add(LeaseManager(ctx, plane, name=name, url=media_url(settings)))
        plane.owns = manager.owns  # before the plane starts: it starts with no camera

        async def start_leases(_ctx: AppContext) -> Stop:
            await manager.start()
            return manager.stop

        hooks.append(start_leases)
        return hooks
    if settings.role == "web":
        streams = ctx.services.add(OwnerStreams(ctx), LiveStreams)
        assert isinstance(streams, OwnerStreams)
        app.include_router(owner_router)

        async def start_owners(_ctx: AppContext) -> Stop:
            await streams.start()
            return streams.stop

        hooks.append(start_owners)
        hooks.append(relay_camera_changes(name, relayed))
    hooks.append(heartbeat(name, settings.role))
    return hooks


def heartbeat(name: str, role: str, every: float = 2.0) -> StartupHook:
    """A row per process in `node_processes`, renewed with its CPU and memory (the system page)."""

    async def start(ctx: AppContext) -> Stop:
        await beat(ctx, name, role, "", process_stats())

        async def run() -> None:
            while True:
                await asyncio.sleep(every)
                try:
                    await beat(ctx, name, role, "", process_stats())
                except Exception as exc:
                    log.warning("heartbeat not written: %s", exc)

        task = asyncio.create_task(run(), name="process-heartbeat")

        async def stop() -> None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            with contextlib.suppress(Exception):
                await leave(ctx, name)

        return stop

    return start


def relay_camera_changes(name: str, relayed: set[int]) -> StartupHook:
    """Web role: a camera changed through another process is announced here too (`CameraChanged`),
    so this process's caches that follow cameras (the grid's coverage) drop their entry."""

    async def start(ctx: AppContext) -> Stop:
        from xueliang.notify.pg import asyncpg_dsn

        tasks: set[asyncio.Task[None]] = set()

        async def relay(camera_id: int) -> None:
            relayed.add(camera_id)
            try:
                await ctx.events.emit(CameraChanged(camera_id))
            finally:
                relayed.discard(camera_id)

        def heard(payload: str) -> None:
            kind, _, rest = payload.partition(":")
            camera, _, origin = rest.partition(":")
            if kind == "camera" and origin != name and camera.isdigit():
                task = asyncio.get_running_loop().create_task(relay(int(camera)))
                tasks.add(task)
                task.add_done_callback(tasks.discard)

        listener = Listener(asyncpg_dsn(ctx.db.url), heard)
        await listener.start()
        return listener.stop

    return start
