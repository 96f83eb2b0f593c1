"""The grid domain at run time: what `create_app` installs for it.

- the grid timer kinds on the core's durable timers (grid/tasks.py): daily generation and retention,
  route windows closing, "I'm OK" deadlines, tasks falling due;
- the coverage cache (grid/coverage_cache.py), dropped when a camera changes; shapely loads only
  with the first coverage request;
- every stored notice (missed checkpoint, visit, follow-up) also emitted as `GridNoticeRaised` on the
  app's event bus, for listeners outside the grid (the station console's flow: grid/events.py);
- a start-up pass that generates today's and tomorrow's work at once, so a node that was down over
  midnight catches up before its first request (the unique keys make a second pass a no-op)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.core.context import AppContext
from xueliang.core.lifecycle import StartupHook, Stop
from xueliang.core.timers import AfterCommit, Timer, TimerRunner
from xueliang.grid import tasks
from xueliang.grid.config import GridSettings
from xueliang.grid.coverage_cache import install_coverage
from xueliang.grid.events import notice_of
from xueliang.grid.tiles import install_tiles
from xueliang.notify.hub import Hub

log = logging.getLogger(__name__)


def install(ctx: AppContext, settings: GridSettings) -> list[StartupHook]:
    """Called by `create_app` once the core's services (timers, hub) exist; returns the start-up hooks."""
    if not settings.enabled:
        return []
    install_coverage(ctx)  # the coverage cache, dropped on every camera change
    install_tiles(ctx, settings)  # the offline base map (opened, or drawn, on first use)
    runner = ctx.services.require(TimerRunner)
    handler = timer_handler(ctx, settings)
    for kind in tasks.KINDS:
        runner.register(kind, handler)
    return [generate_on_start(settings)] if ctx.settings.runs_worker() else []


def timer_handler(
    ctx: AppContext, settings: GridSettings
) -> Callable[[AsyncSession, Timer, datetime], Awaitable[AfterCommit | None]]:
    tz = ZoneInfo(ctx.settings.timezone)

    async def handle(session: AsyncSession, timer: Timer, now: datetime) -> AfterCommit | None:
        events = await tasks.on_timer(session, timer, now, tz, settings)
        if not events:
            return None

        async def push() -> None:
            hub = ctx.services.require(Hub)
            for event in events:
                await hub.publish(event)
            for event in events:  # and to other domains' listeners (grid/events.py)
                notice = notice_of(event)
                if notice is not None:
                    await ctx.events.emit(notice)

        return push

    return handle


def generate_on_start(settings: GridSettings) -> StartupHook:
    async def start(ctx: AppContext) -> Stop | None:
        try:
            async with ctx.db.session() as session:
                await tasks.generate(
                    session, ctx.clock.now(), ZoneInfo(ctx.settings.timezone), settings.horizon_days
                )
                await session.commit()
        except Exception:  # a node must start even if this pass fails; the daily timer retries
            log.exception("grid task generation at start-up failed")
        return None

    return start
