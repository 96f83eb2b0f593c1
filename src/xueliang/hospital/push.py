"""Hospital messages pushed to the household's TV and phone: once the transaction that wrote a message
commits, the hub carries `household.messages` (the portal's event stream, portal/push.py, turns it into
a `messages` nudge; the topic name is the contract, the domains do not import each other).

Messages are written deep in the booking service (booked, reminder, stopped, moved, no-show, a grid
worker's booking waiting for OK) by routes and by durable timers alike, so the service only notes the
household in its session and this module publishes after that session commits; a rollback drops the
note, so no TV is nudged about a message that was never stored. The hubs are found by the session's
database (registered by hospital/runtime.py), as the session does not know its app."""

from __future__ import annotations

import asyncio
import logging
import weakref

from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session, SessionTransaction

from xueliang.core.db import database_key
from xueliang.notify.hub import Event, Hub

log = logging.getLogger(__name__)

TOPIC = "household.messages"
_TOLD = "xueliang.hospital.told"
_hubs: dict[str, weakref.WeakSet[Hub]] = {}
_publishing: set[asyncio.Task[None]] = set()


def register(db_key: str, hub: Hub) -> None:
    _hubs.setdefault(db_key, weakref.WeakSet()).add(hub)


def told(session: AsyncSession, household_id: int) -> None:
    """Inside the caller's transaction: the household gets a nudge once it commits."""
    sync = session.sync_session
    sync.info.setdefault(_TOLD, set()).add(household_id)
    if not sa_event.contains(sync, "after_commit", _after_commit):
        sa_event.listen(sync, "after_commit", _after_commit)
        sa_event.listen(sync, "after_transaction_end", _after_end)


def _after_commit(session: Session) -> None:
    homes: set[int] = session.info.pop(_TOLD, set())
    hubs = list(_hubs.get(database_key(session), ()))
    if not homes or not hubs:
        return
    loop = asyncio.get_running_loop()
    for hub in hubs:
        for home in sorted(homes):
            task = loop.create_task(hub.publish(Event(TOPIC, {"household_id": home}, {"m": "messages"})))
            _publishing.add(task)
            task.add_done_callback(_publishing.discard)


def _after_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_TOLD, None)  # rolled back (a commit already took them)
