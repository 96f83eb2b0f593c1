"""The hospital domain at run time: what `create_app` installs for it. Two kinds of durable timers
(core/timers.py), so they survive restarts: the reminder the day before, and the end of the wait for
a household's OK to a booking a grid worker made for it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.core.context import AppContext
from xueliang.core.lifecycle import StartupHook
from xueliang.core.timers import AfterCommit, Timer, TimerRunner
from xueliang.hospital import push, service
from xueliang.hospital.config import HospitalSettings
from xueliang.notify.hub import Hub

Handler = Callable[[AsyncSession, Timer, datetime], Awaitable[AfterCommit | None]]


def install(ctx: AppContext, settings: HospitalSettings) -> list[StartupHook]:
    """Called by `create_app` once the core's services (timers, hub) exist; returns the start-up hooks."""
    if not settings.enabled:
        return []
    push.register(str(ctx.db.engine.url), ctx.services.require(Hub))  # messages nudge TVs (hospital/push.py)
    tz = ZoneInfo(ctx.settings.timezone)
    runner = ctx.services.require(TimerRunner)
    runner.register(service.REMINDER_KIND, _handler(service.remind, tz))
    runner.register(service.CONFIRM_KIND, _handler(service.expire_pending, tz))
    return []


def _handler(job: Callable[[AsyncSession, int, service.When], Awaitable[bool]], tz: ZoneInfo) -> Handler:
    async def handle(session: AsyncSession, timer: Timer, now: datetime) -> AfterCommit | None:
        await job(session, int(timer.payload["booking_id"]), service.When(now, tz))
        return None  # the message's push goes out on the commit (hospital/push.py)

    return handle
