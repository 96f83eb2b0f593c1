"""The alarms domain at run time: what `create_app` installs for it.

- the escalation handler on the core's durable timers (escalations survive restarts);
- the intake batcher (group commit of presses from HTTP and MQTT, alarms/intake.py);
- a technical alarm when a camera that was online goes offline (a `CameraStatusChanged` listener);
- the registry of open alarm sockets, woken when accounts says a user's sessions or rights changed
  (`UserAccessChanged`), so a logout or a disable closes them at once (alarms/ws.py);
- on PostgreSQL, the LISTEN/NOTIFY bridge that carries console pushes between processes;
- the MQTT listener for hardware alarm buttons."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.events import UserAccessChanged
from xueliang.alarms import escalation, flows
from xueliang.alarms.config import AlarmSettings
from xueliang.alarms.events import AlarmChanged
from xueliang.alarms.intake import IntakeBatcher
from xueliang.alarms.mqtt import AlarmMqtt
from xueliang.alarms.push import alarm_event
from xueliang.alarms.ws import AlarmSockets
from xueliang.cameras.events import CameraStatusChanged
from xueliang.core.context import AppContext
from xueliang.core.lifecycle import StartupHook, Stop
from xueliang.core.timers import AfterCommit, Timer, TimerRunner
from xueliang.notify.hub import Hub
from xueliang.notify.pg import PgBridge, asyncpg_dsn

log = logging.getLogger(__name__)


def install(ctx: AppContext, settings: AlarmSettings) -> list[StartupHook]:
    """Called by `create_app` once the core's services (timers, hub) exist; returns the start-up hooks."""
    ctx.services.require(TimerRunner).register(escalation.TIMER_KIND, escalation_handler(ctx))
    ctx.events.subscribe(CameraStatusChanged, offline_alarms(ctx))
    ctx.events.subscribe(UserAccessChanged, ctx.services.add(AlarmSockets()).user_changed)
    hooks = [started(ctx.services.add(IntakeBatcher(ctx)))]
    if settings.pg_bridge:
        hooks.append(pg_bridge_hook())
    if settings.mqtt_enabled and ctx.settings.runs_worker():  # one MQTT listener per node
        hooks.append(started(ctx.services.add(AlarmMqtt(ctx, settings.mqtt(ctx.settings.data_dir)))))
    return hooks


def escalation_handler(
    ctx: AppContext,
) -> Callable[[AsyncSession, Timer, datetime], Awaitable[AfterCommit | None]]:
    async def handle(session: AsyncSession, timer: Timer, now: datetime) -> AfterCommit | None:
        alarm = await escalation.escalate(
            session, int(timer.payload["alarm_id"]), int(timer.payload["level"]), now
        )
        if alarm is None:
            return None  # acknowledged (or closed) in time
        event = await alarm_event(session, alarm, "escalated")
        changed = AlarmChanged(alarm.id, alarm.region_path, "escalated")

        async def push() -> None:
            await ctx.services.require(Hub).publish(event)
            await ctx.events.emit(changed)

        return push

    return handle


def offline_alarms(ctx: AppContext) -> Callable[[CameraStatusChanged], Awaitable[None]]:
    """A camera that was online and stops sending is a technical alarm, routed like any other. Cameras
    that never came up since start-up (a node started before its cameras) raise nothing."""
    last: dict[int, str] = {}

    async def on_status(event: CameraStatusChanged) -> None:
        was, last[event.camera_id] = last.get(event.camera_id), event.status
        if event.status == "offline" and was == "online":
            try:
                await flows.raise_technical_alarm(ctx, event.camera_id, event.reason)
            except Exception:
                log.exception("could not raise the offline alarm of camera %s", event.camera_id)

    return on_status


def started(service: IntakeBatcher | AlarmMqtt) -> StartupHook:
    """The intake batcher and the MQTT listener run in the background from start-up to shutdown (the
    MQTT one connects and keeps reconnecting: no broker, no crash)."""

    async def start(_ctx: AppContext) -> Stop:
        service.start()
        return service.stop

    return start


def pg_bridge_hook() -> StartupHook:
    async def start(ctx: AppContext) -> Stop | None:
        if not ctx.db.url.startswith("postgresql"):
            return None
        bridge = PgBridge(ctx.services.require(Hub), asyncpg_dsn(ctx.db.url))
        await bridge.start()
        return bridge.stop

    return start
