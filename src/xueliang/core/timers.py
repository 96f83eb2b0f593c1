"""Durable timers: a row per timer (due_at, kind, payload, done) and a runner that fires them.

Why a table: a timer kept only in memory is forgotten by a restart, and an escalation that never
fires is an alarm nobody answers. The runner fires each due timer in the same transaction that marks
it done, so a crash mid-handler rolls both back and the timer fires again on the next start.
Generic on purpose: `core` knows no domain; domains register a handler per `kind`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import weakref
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, Index, Integer, String, Text, event, insert, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, Session, mapped_column

from xueliang.core.clock import Clock
from xueliang.core.db import Base, Database, UtcDateTime
from xueliang.core.lifecycle import StartupHook, Stop

if TYPE_CHECKING:
    from xueliang.core.context import AppContext

log = logging.getLogger(__name__)

AfterCommit = Callable[[], Awaitable[None]]
# A handler runs inside the runner's transaction; it may hand back work to do once that commits
# (pushing to consoles must never announce something that was then rolled back).
Handler = Callable[[AsyncSession, "Timer", datetime], Awaitable[AfterCommit | None]]


class Timer(Base):
    __tablename__ = "timers"
    __table_args__ = (Index("ix_timers_pending", "done", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    key: Mapped[str | None] = mapped_column(String(128), unique=True)
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    done: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    fired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str] = mapped_column(Text, default="")


_runners: weakref.WeakSet[TimerRunner] = weakref.WeakSet()


_EARLIEST_DUE = "xueliang.timers.earliest_due"  # in Session.info: the earliest timer added since commit


def _wake_all(session: Session) -> None:
    due = session.info.pop(_EARLIEST_DUE, None)
    for runner in list(_runners):
        runner.wake(due)


def _wake_after_commit(session: AsyncSession, due_at: datetime) -> None:
    """Runners in this process re-read the next due time once the new timer is committed, if it is
    due before they would look again anyway."""
    sync = session.sync_session
    earliest = sync.info.get(_EARLIEST_DUE)
    sync.info[_EARLIEST_DUE] = due_at if earliest is None else min(earliest, due_at)
    if not event.contains(sync, "after_commit", _wake_all):
        event.listen(sync, "after_commit", _wake_all)


async def schedule(
    session: AsyncSession,
    kind: str,
    due_at: datetime,
    payload: dict[str, Any] | None = None,
    *,
    key: str | None = None,
) -> Timer:
    """Add a timer inside the caller's transaction: it exists exactly when the caller's work does."""
    timer = Timer(kind=kind, key=key, due_at=due_at, payload=payload or {}, done=False, attempts=0)
    session.add(timer)  # written with the caller's next flush or commit
    _wake_after_commit(session, due_at)
    return timer


async def schedule_many(
    session: AsyncSession, timers: list[tuple[str, datetime, dict[str, Any], str | None]]
) -> None:
    """Many timers (kind, due_at, payload, key) in one statement, inside the caller's transaction."""
    if not timers:
        return
    rows = [
        {
            "kind": kind,
            "key": key,
            "due_at": due,
            "payload": payload,
            "done": False,
            "attempts": 0,
            "last_error": "",
        }
        for kind, due, payload, key in timers
    ]
    await session.execute(insert(Timer), rows)
    _wake_after_commit(session, min(due for _, due, _, _ in timers))


async def cancel(session: AsyncSession, key: str) -> bool:
    """Mark a pending timer done without firing it (e.g. the alarm was acknowledged in time)."""
    result = await session.execute(
        update(Timer).where(Timer.key == key, Timer.done.is_(False)).values(done=True)
    )
    return bool(rowcount(result))


def rowcount(result: Any) -> int:
    """Rows an UPDATE touched: how a conditional update tells the one caller that won."""
    return int(result.rowcount) if isinstance(result, CursorResult) else 0


class TimerRunner:
    """Sleeps until the next due timer (or `max_idle`, so timers added by other processes are seen),
    woken early when this process commits a new timer. Safe to run in several processes at once:
    a timer is claimed by a conditional UPDATE, so exactly one of them fires it."""

    def __init__(
        self, db: Database, clock: Clock, *, max_idle: float = 10.0, retry_after: float = 5.0
    ) -> None:
        self.db = db
        self.clock = clock
        self.max_idle = max_idle
        self.retry_after = retry_after
        self.handlers: dict[str, Handler] = {}
        self._wake = asyncio.Event()
        self._sleeping_until: datetime | None = None  # while waiting: when it will look again anyway
        self._task: asyncio.Task[None] | None = None
        _runners.add(self)

    def register(self, kind: str, handler: Handler) -> None:
        self.handlers[kind] = handler

    def wake(self, due: datetime | None = None) -> None:
        """Look for due timers now. `due`: the earliest timer just added; a runner that will look
        before then anyway sleeps on (an alarm's escalation timer, due in a minute, used to cost two
        extra transactions per alarm batch)."""
        until = self._sleeping_until
        with contextlib.suppress(TypeError):  # naive vs aware: wake, to be safe
            if due is not None and until is not None and due >= until:
                return
        self._wake.set()

    async def next_due(self) -> datetime | None:
        async with self.db.read_session() as session:
            q = select(Timer.due_at).where(Timer.done.is_(False)).order_by(Timer.due_at).limit(1)
            found: datetime | None = (await session.execute(q)).scalar_one_or_none()
            return found

    async def run_due(self) -> int:
        """Fire every timer due now; returns how many fired."""
        now = self.clock.now()
        async with self.db.read_session() as session:  # claiming is the conditional UPDATE in _fire
            q = (
                select(Timer.id)
                .where(Timer.done.is_(False), Timer.due_at <= now, Timer.kind.in_(self.handlers))
                .order_by(Timer.due_at)
                .limit(500)
            )
            ids = list((await session.scalars(q)).all())
        fired = 0
        for timer_id in ids:
            fired += await self._fire(timer_id, now)
        return fired

    async def _fire(self, timer_id: int, now: datetime) -> int:
        after: AfterCommit | None = None
        try:
            async with self.db.session() as session:
                claimed = await session.execute(
                    update(Timer)
                    .where(Timer.id == timer_id, Timer.done.is_(False), Timer.due_at <= now)
                    .values(done=True, fired_at=now, attempts=Timer.attempts + 1)
                )
                if rowcount(claimed) != 1:
                    await session.rollback()
                    return 0
                timer = await session.get(Timer, timer_id)
                assert timer is not None
                after = await self.handlers[timer.kind](session, timer, now)
                await session.commit()
        except Exception as exc:
            log.exception("timer %s failed; retrying in %.0f s", timer_id, self.retry_after)
            await self._postpone(timer_id, now, repr(exc))
            return 0
        if after is not None:
            try:
                await after()
            except Exception:
                log.exception("after-commit work of timer %s failed", timer_id)
        return 1

    async def _postpone(self, timer_id: int, now: datetime, error: str) -> None:
        async with self.db.session() as session:
            await session.execute(
                update(Timer)
                .where(Timer.id == timer_id, Timer.done.is_(False))
                .values(
                    due_at=now + timedelta(seconds=self.retry_after),
                    attempts=Timer.attempts + 1,
                    last_error=error[:2000],
                )
            )
            await session.commit()

    async def _delay(self) -> float:
        due = await self.next_due()
        if due is None:
            return self.max_idle
        return max(0.0, min(self.max_idle, (due - self.clock.now()).total_seconds()))

    async def run_forever(self) -> None:
        while True:
            try:
                self._wake.clear()
                await self.run_due()
                delay = await self._delay()
            except Exception:
                log.exception("timer runner pass failed")
                delay = self.max_idle
            if delay > 0:
                self._sleeping_until = self.clock.now() + timedelta(seconds=delay)
                try:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(delay):  # not wait_for: 3.11's can eat a cancel
                            await self._wake.wait()
                finally:
                    self._sleeping_until = None

    def start(self) -> None:
        self._task = asyncio.create_task(self.run_forever(), name="xueliang-timers")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        _runners.discard(self)


def runner_hook(runner: TimerRunner, *, loop: bool = True) -> StartupHook:
    """Started last, once every domain registered its handlers: timers that fell due while the node
    was down fire at once. `loop=False` leaves firing to explicit `run_due` calls (tests)."""

    async def start(_ctx: AppContext) -> Stop:
        await runner.run_due()
        if loop:
            runner.start()
        return runner.stop

    return start
