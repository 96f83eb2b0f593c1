"""Long-running alarm services started with the app: the durable timer runner (escalations), the
PostgreSQL event bridge, and the MQTT button listener. `alarm_startup_hooks(settings)` gives them
to `create_app(..., startup_hooks=...)`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.alarms import escalation, flows
from xueliang.alarms.intake import IntakeBatcher
from xueliang.alarms.mqtt import AlarmMqtt, MqttConfig
from xueliang.alarms.push import alarm_event
from xueliang.config import Settings
from xueliang.core.context import AppContext
from xueliang.core.tasks import AfterCommit, Timer, TimerRunner
from xueliang.notify.hub import hub_of
from xueliang.notify.pg import PgBridge, asyncpg_dsn

log = logging.getLogger(__name__)
Stop = Callable[[], Awaitable[None]]
StartupHook = Callable[[AppContext], Awaitable[Stop | None]]


class AlarmSettings(BaseSettings):
    """`XUELIANG_ALARM_*` environment variables (kept apart from core Settings until merged there)."""

    model_config = SettingsConfigDict(env_prefix="XUELIANG_ALARM_", extra="ignore")

    mqtt_enabled: bool = True
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_prefix: str = "xueliang/v1"
    mqtt_client_id: str = "xueliang-alarms"
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    mqtt_session_expiry_s: int = 86_400
    pg_bridge: bool = True  # on PostgreSQL: cross-process pushes by LISTEN/NOTIFY
    # How late timers of another process that died are found (this process's own wake the runner,
    # and a restart looks at once); each look is two statements, 0.15 % of a core at 1 s.
    timer_max_idle_s: float = 10.0

    def mqtt(self) -> MqttConfig:
        return MqttConfig(
            host=self.mqtt_host,
            port=self.mqtt_port,
            prefix=self.mqtt_prefix.rstrip("/"),
            client_id=self.mqtt_client_id,
            username=self.mqtt_username,
            password=self.mqtt_password,
            session_expiry_s=self.mqtt_session_expiry_s,
        )


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

        async def push() -> None:
            await hub_of(ctx).publish(event)

        return push

    return handle


def timer_hook(max_idle: float = 10.0, *, background: bool = True) -> StartupHook:
    """`background=False` registers the runner without its loop, for tests that drive it by hand."""

    async def start(ctx: AppContext) -> Stop:
        runner = TimerRunner(ctx.db, ctx.clock, max_idle=max_idle)
        runner.register(escalation.TIMER_KIND, escalation_handler(ctx))
        ctx.extras["timers"] = runner
        await runner.run_due()  # escalations that fell due while we were down fire now
        if background:
            runner.start()
        return runner.stop

    return start


def intake_hook() -> StartupHook:
    """Group commit for presses from HTTP and MQTT (alarms/intake.py)."""

    async def start(ctx: AppContext) -> Stop:
        batcher = IntakeBatcher(ctx)
        ctx.extras["alarm_intake"] = batcher
        batcher.start()
        return batcher.stop

    return start


def pg_bridge_hook() -> StartupHook:
    async def start(ctx: AppContext) -> Stop | None:
        if not ctx.db.url.startswith("postgresql"):
            return None
        bridge = PgBridge(hub_of(ctx), asyncpg_dsn(ctx.db.url))
        await bridge.start()
        return bridge.stop

    return start


def mqtt_hook(config: MqttConfig) -> StartupHook:
    async def start(ctx: AppContext) -> Stop:
        listener = AlarmMqtt(ctx, config)
        ctx.extras["alarm_mqtt"] = listener
        listener.start()  # connects in the background and keeps reconnecting: no broker, no crash
        return listener.stop

    return start


def camera_offline_hook() -> StartupHook:
    """A camera that was online and stops sending is a technical alarm, routed like any other. Cameras
    that never came up since start-up (a node started before its cameras) raise nothing."""

    async def start(ctx: AppContext) -> Stop | None:
        plane = ctx.extras.get("media")
        if plane is None:
            return None
        last: dict[int, str] = {}

        async def on_status(event: Any) -> None:
            camera_id = getattr(event, "camera_id", None)
            status = str(getattr(getattr(event, "status", ""), "value", getattr(event, "status", "")))
            if camera_id is None or getattr(event, "kind", "camera") != "camera":
                return
            was, last[camera_id] = last.get(camera_id), status
            if status == "offline" and was == "online":
                try:
                    await flows.raise_technical_alarm(ctx, camera_id, getattr(event, "reason", ""))
                except Exception:
                    log.exception("could not raise the offline alarm of camera %s", camera_id)

        plane.status_listeners.append(on_status)

        async def stop() -> None:
            plane.status_listeners.remove(on_status)

        return stop

    return start


def alarm_startup_hooks(settings: Settings, alarm_settings: AlarmSettings | None = None) -> list[StartupHook]:
    cfg = alarm_settings or AlarmSettings()
    hooks = [timer_hook(cfg.timer_max_idle_s), intake_hook(), camera_offline_hook()]
    if cfg.pg_bridge:
        hooks.append(pg_bridge_hook())
    if cfg.mqtt_enabled:
        hooks.append(mqtt_hook(cfg.mqtt()))
    return hooks
