"""The generic durable timer runner and the cross-process event bridge."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from tests.support.db import BACKEND

from xueliang.core import timers
from xueliang.core.clock import ManualClock, SystemClock
from xueliang.core.db import Database
from xueliang.core.timers import AfterCommit, Handler, Timer, TimerRunner
from xueliang.notify.hub import Event, Hub
from xueliang.notify.pg import PgBridge, asyncpg_dsn


async def test_fires_once_across_runners_and_retries_after_failure(alarm_url: str) -> None:
    clock = ManualClock()
    db_a, db_b = Database(alarm_url), Database(alarm_url)
    fired: list[str] = []
    failing = {"left": 1}

    async def handler(session: AsyncSession, timer: Timer, now: datetime) -> AfterCommit | None:
        if timer.payload["name"] == "flaky" and failing["left"]:
            failing["left"] -= 1
            raise RuntimeError("handler crashed half-way")
        fired.append(timer.payload["name"])
        return None

    a, b = TimerRunner(db_a, clock, retry_after=10), TimerRunner(db_b, clock, retry_after=10)
    for runner in (a, b):
        runner.register("test.kind", handler)
    try:
        async with db_a.session() as s:
            for name in ("one", "two", "three"):
                await timers.schedule(
                    s, "test.kind", clock.now(), {"name": name}, key=f"t-{name}-{id(clock)}"
                )
            later = clock.now() + timedelta(seconds=1)
            await timers.schedule(s, "test.kind", later, {"name": "flaky"}, key=f"t-flaky-{id(clock)}")
            await timers.schedule(
                s, "test.kind", clock.now(), {"name": "cancelled"}, key=f"t-cancel-{id(clock)}"
            )
            await s.commit()
        async with db_a.session() as s:
            assert await timers.cancel(s, f"t-cancel-{id(clock)}")
            await s.commit()
        await asyncio.gather(a.run_due(), b.run_due(), a.run_due())
        assert sorted(fired) == ["one", "three", "two"]  # each exactly once, the cancelled one never
        clock.advance(1)
        assert await a.run_due() == 0  # the handler crashed: rolled back and put off
        assert await b.run_due() == 0
        clock.advance(11)
        assert await b.run_due() == 1 and fired[-1] == "flaky"
        async with db_a.session() as s:
            flaky = (await s.scalars(select(Timer).where(Timer.key == f"t-flaky-{id(clock)}"))).one()
            assert flaky.done and flaky.attempts == 2 and "crashed" in flaky.last_error
    finally:
        await a.stop()
        await b.stop()
        await db_a.dispose()
        await db_b.dispose()


def _firing_handler() -> tuple[asyncio.Event, Handler]:
    """A timer handler that sets the event once its transaction has committed."""
    fired = asyncio.Event()

    async def handler(session: AsyncSession, timer: Timer, now: datetime) -> AfterCommit | None:
        async def after() -> None:
            fired.set()

        return after

    return fired, handler


async def test_background_runner_wakes_for_a_new_timer(alarm_url: str) -> None:
    db = Database(alarm_url)
    fired, handler = _firing_handler()
    runner = TimerRunner(db, SystemClock(), max_idle=3600)  # only a wake-up can make it look again
    runner.register("test.wake", handler)
    runner.start()
    try:
        await asyncio.sleep(0)
        async with db.session() as s:
            await timers.schedule(s, "test.wake", SystemClock().now(), {})
            await s.commit()
        await asyncio.wait_for(fired.wait(), 5)
    finally:
        await runner.stop()
        await db.dispose()


async def test_a_timer_due_after_the_runners_next_look_does_not_wake_it(alarm_url: str) -> None:
    """An alarm's escalation timer is due in a minute; waking the runner for it cost two extra
    transactions per alarm batch."""
    db = Database(alarm_url)
    fired, handler = _firing_handler()
    runner = TimerRunner(db, SystemClock(), max_idle=600)
    runner.register("test.later", handler)
    runner.start()
    try:
        for _ in range(100):  # until its first pass is over and it sleeps
            if runner._sleeping_until is not None:
                break
            await asyncio.sleep(0.01)
        planned = runner._sleeping_until
        assert planned is not None
        async with db.session() as s:
            await timers.schedule(s, "test.later", SystemClock().now() + timedelta(hours=1), {})
            await s.commit()
        await asyncio.sleep(0.05)  # room for a wrong wake-up to show: a pass would plan anew
        assert runner._sleeping_until == planned, "woken for a timer it would see in time anyway"
        async with db.session() as s:
            await timers.schedule(s, "test.later", SystemClock().now(), {})
            await s.commit()
        await asyncio.wait_for(fired.wait(), 5)  # max_idle is 10 minutes: only a wake-up fires it
        assert runner._sleeping_until != planned
    finally:
        await runner.stop()
        await db.dispose()


@pytest.mark.skipif(BACKEND != "postgresql", reason="LISTEN/NOTIFY is PostgreSQL's")
async def test_events_cross_processes_through_postgres(alarm_url: str) -> None:
    here, there = Hub(), Hub()
    a, b = PgBridge(here, asyncpg_dsn(alarm_url)), PgBridge(there, asyncpg_dsn(alarm_url))
    await a.start()
    await b.start()
    try:
        sub_here = here.subscribe(lambda e: "staff")
        sub_there = there.subscribe(lambda e: "staff")
        await here.publish(Event("alarm", {"region_path": "x/"}, {"staff": '{"n":1}'}))
        assert await asyncio.wait_for(sub_there.next(), 5) == '{"n":1}'
        assert await asyncio.wait_for(sub_here.next(), 5) == '{"n":1}'
        await there.publish(Event("alarm", {"region_path": "x/"}, {"staff": '{"n":2}'}))
        # notifications arrive in commit order: an echo of n=1 would come before n=2
        assert await asyncio.wait_for(sub_here.next(), 5) == '{"n":2}', "own event came back"
    finally:
        await a.stop()
        await b.stop()
