"""Domain events inside one process: a domain says what happened, others react, neither imports the other.

Why after commit: a listener (the media plane re-reading a camera, a console push, a federation outbox
relay) must never act on a change that was then rolled back. `publish` therefore records the event in
the caller's session and delivers it once that session's transaction commits; a rollback drops it.
Events that are not born in a transaction (a camera's health seen by the media engine) use `emit`.

Listeners run in the event loop, one event at a time in publish order; a failing listener is logged
and does not stop the others."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

log = logging.getLogger(__name__)


class DomainEvent:
    """Base of every domain event: a frozen dataclass naming a fact in the past tense."""


E = TypeVar("E", bound=DomainEvent)
Listener = Callable[[Any], Awaitable[None]]

_PENDING = "xueliang.events.pending"  # in Session.info: [(bus, event), ...] awaiting the commit
_DELIVERING = "xueliang.events.delivering"  # in Session.info: the deliveries its last commit started


class EventBus:
    def __init__(self) -> None:
        self._listeners: defaultdict[type[DomainEvent], list[Listener]] = defaultdict(list)
        self._deliveries: set[asyncio.Task[None]] = set()

    def subscribe(self, kind: type[E], listener: Callable[[E], Awaitable[None]]) -> Callable[[], None]:
        """Listen to events of `kind` (and its subclasses); returns the unsubscribe."""
        self._listeners[kind].append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners[kind]:
                self._listeners[kind].remove(listener)

        return unsubscribe

    def publish(self, session: AsyncSession, event: DomainEvent) -> None:
        """Inside the caller's transaction: delivered after it commits, dropped if it rolls back."""
        sync = session.sync_session
        sync.info.setdefault(_PENDING, []).append((self, event))
        if not sa_event.contains(sync, "after_commit", _deliver_committed):
            sa_event.listen(sync, "after_commit", _deliver_committed)
            sa_event.listen(sync, "after_transaction_end", _drop_uncommitted)

    async def emit(self, event: DomainEvent) -> None:
        """Deliver now, to every listener in turn (for facts that no transaction carries)."""
        for kind in type(event).__mro__:
            for listener in list(self._listeners.get(kind, ())):
                try:
                    await listener(event)
                except Exception:
                    log.exception("listener %r failed on %r", listener, event)

    def deliver_later(self, events: list[DomainEvent]) -> asyncio.Task[None]:
        async def deliver() -> None:
            for event in events:
                await self.emit(event)

        task = asyncio.get_running_loop().create_task(deliver(), name="xueliang-domain-events")
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)
        return task

    async def delivered(self, session: AsyncSession) -> None:
        """Wait until the listeners have seen what this session's last commit published: a route
        answers only once the change took effect (a camera edited is a camera the plane re-read)."""
        tasks = session.sync_session.info.pop(_DELIVERING, [])
        if tasks:
            await asyncio.gather(*tasks)

    async def drain(self) -> None:
        """Wait for deliveries already scheduled (shutdown, and tests that assert on a listener)."""
        while self._deliveries:
            await asyncio.gather(*list(self._deliveries), return_exceptions=True)


def _deliver_committed(session: Session) -> None:
    pending: list[tuple[EventBus, DomainEvent]] = session.info.pop(_PENDING, [])
    by_bus: dict[EventBus, list[DomainEvent]] = {}
    for bus, event in pending:
        by_bus.setdefault(bus, []).append(event)
    session.info[_DELIVERING] = [bus.deliver_later(events) for bus, events in by_bus.items()]


def _drop_uncommitted(session: Session, transaction: SessionTransaction) -> None:
    """The outermost transaction ended (a commit already took its events): rolled back or closed."""
    if transaction.parent is None:
        session.info.pop(_PENDING, None)
