"""Domain events reach listeners only after the publishing transaction commits, in order, never after a
rollback, and one failing listener does not keep the event from the others."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from xueliang.core.db import Database
from xueliang.core.events import DomainEvent, EventBus


@dataclass(frozen=True)
class Thing(DomainEvent):
    n: int


@dataclass(frozen=True)
class SpecialThing(Thing):
    pass


@pytest.fixture
async def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'events.db'}")
    async with database.session() as s:
        await s.execute(text("CREATE TABLE t (n INTEGER)"))
        await s.commit()
    yield database  # type: ignore[misc]
    await database.dispose()


async def test_delivered_after_commit_in_order(db: Database) -> None:
    bus, seen = EventBus(), []

    async def listen(event: Thing) -> None:
        seen.append(event.n)

    bus.subscribe(Thing, listen)
    async with db.session() as s:
        await s.execute(text("INSERT INTO t VALUES (1)"))
        bus.publish(s, Thing(1))
        bus.publish(s, SpecialThing(2))  # a subclass reaches the listeners of its base
        assert seen == []  # nothing before the commit
        await s.commit()
        await bus.delivered(s)
    assert seen == [1, 2]


async def test_rollback_drops_the_events(db: Database) -> None:
    bus, seen = EventBus(), []

    async def listen(event: Thing) -> None:
        seen.append(event.n)

    bus.subscribe(Thing, listen)
    async with db.session() as s:
        await s.execute(text("INSERT INTO t VALUES (1)"))
        bus.publish(s, Thing(1))
        await s.rollback()
        await s.execute(text("INSERT INTO t VALUES (2)"))
        bus.publish(s, Thing(2))
        await s.commit()
        await bus.delivered(s)
    async with db.session() as s:
        closed_unfinished = s
        await s.execute(text("INSERT INTO t VALUES (3)"))
        bus.publish(s, Thing(3))  # the session ends without a commit: rolled back
    await bus.drain()
    assert seen == [2]
    assert not closed_unfinished.sync_session.info.get("xueliang.events.pending")


async def test_failing_listener_does_not_stop_the_others(db: Database) -> None:
    bus, seen = EventBus(), []

    async def broken(_event: Thing) -> None:
        raise RuntimeError("listener bug")

    async def listen(event: Thing) -> None:
        seen.append(event.n)

    bus.subscribe(Thing, broken)
    unsubscribe = bus.subscribe(Thing, listen)
    await bus.emit(Thing(7))
    unsubscribe()
    await bus.emit(Thing(8))
    assert seen == [7]
