"""Read and write sessions (core.db, core.sqlite): reads never wait for a writer, a write in a read
session is refused by the database, writers of one process take turns in arrival order, and a write
lock held by another process is waited for without stalling the event loop."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import time
from collections.abc import AsyncIterator, Callable

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from tests.support.db import BACKEND

from xueliang.core.db import Database


@pytest.fixture
async def db(make_db_url: Callable[[], str]) -> AsyncIterator[Database]:
    database = Database(make_db_url())
    async with database.session() as s:
        await s.execute(text("CREATE TABLE t (n INTEGER)"))
        await s.commit()
    yield database
    await database.dispose()


async def count(db: Database) -> int:
    async with db.read_session() as s:
        return int((await s.execute(text("SELECT count(*) FROM t"))).scalar_one())


async def test_a_read_session_refuses_writes(db: Database) -> None:
    async with db.read_session() as s:
        assert (await s.execute(text("SELECT count(*) FROM t"))).scalar_one() == 0
        with pytest.raises(DBAPIError, match=r"(?i)read.?only"):
            await s.execute(text("INSERT INTO t VALUES (1)"))
    async with db.session() as s:  # the same pooled connection writes again in a write session
        await s.execute(text("INSERT INTO t VALUES (1)"))
        await s.commit()
    assert await count(db) == 1


async def test_reads_do_not_wait_for_an_open_writer(db: Database) -> None:
    async with db.session() as writer:
        await writer.execute(text("INSERT INTO t VALUES (1)"))
        started = time.perf_counter()
        assert await asyncio.wait_for(count(db), 5) == 0  # the snapshot before the commit
        assert time.perf_counter() - started < 1.0
        await writer.commit()
    assert await count(db) == 1


async def test_writers_take_turns_in_arrival_order(db: Database) -> None:
    order: list[int] = []

    async def write(n: int) -> None:
        async with db.session() as s:
            order.append(n)
            await s.execute(text("SELECT count(*) FROM t"))
            await asyncio.sleep(0.002)  # hold the turn across a suspension
            await s.execute(text("INSERT INTO t VALUES (:n)"), {"n": n})
            await s.commit()

    tasks = []
    for n in range(40):
        tasks.append(asyncio.create_task(write(n)))
        await asyncio.sleep(0)  # each writer asks for its turn before the next is made
    await asyncio.gather(*tasks)
    assert await count(db) == 40
    if BACKEND == "sqlite":
        assert order == list(range(40))


@pytest.mark.skipif(BACKEND != "sqlite", reason="PostgreSQL writers do not take turns")
async def test_a_cancelled_writer_gives_its_turn_back(db: Database) -> None:
    async with db.session() as holder:
        await holder.execute(text("INSERT INTO t VALUES (1)"))

        async def waiting() -> None:
            async with db.session() as s:
                await s.execute(text("INSERT INTO t VALUES (2)"))
                await s.commit()

        task = asyncio.create_task(waiting())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await holder.commit()
    async with db.session() as s:  # would wait forever if the cancelled writer kept a turn
        await asyncio.wait_for(s.execute(text("INSERT INTO t VALUES (3)")), 5)
        await s.commit()
    assert await count(db) == 2


@pytest.mark.skipif(BACKEND != "sqlite", reason="another process's SQLite write lock")
async def test_another_process_holding_the_lock_does_not_stall_the_loop(db: Database) -> None:
    hold = (
        "import sqlite3, sys, time\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('BEGIN IMMEDIATE'); c.execute('INSERT INTO t VALUES (7)')\n"
        "print('locked', flush=True); time.sleep(0.8); c.execute('COMMIT')\n"
    )
    path = db.url.split("///", 1)[1]
    other = await asyncio.create_subprocess_exec(
        sys.executable, "-c", hold, path, stdout=asyncio.subprocess.PIPE
    )
    assert other.stdout is not None
    assert await asyncio.wait_for(other.stdout.readline(), 10) == b"locked\n"
    ticks = 0
    longest = 0.0

    async def heartbeat() -> None:
        nonlocal ticks, longest
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            ticks, longest = ticks + 1, max(longest, now - last)
            last = now

    beat = asyncio.create_task(heartbeat())
    try:
        started = time.perf_counter()
        async with db.session() as s:
            await s.execute(text("INSERT INTO t VALUES (8)"))
            await s.commit()
        waited = time.perf_counter() - started
    finally:
        beat.cancel()
    assert await asyncio.wait_for(other.wait(), 10) == 0
    assert waited > 0.3, "the write should have waited for the other process's lock"
    assert ticks > 20 and longest < 0.25, f"the loop stalled for {longest:.3f} s"
    assert await count(db) == 2


@pytest.mark.skipif(BACKEND != "sqlite", reason="SQLite driver behaviour")
async def test_errors_are_sqlite_errors(db: Database) -> None:
    async with db.session() as s:
        with pytest.raises(DBAPIError) as caught:
            await s.execute(text("INSERT INTO no_such_table VALUES (1)"))
        assert isinstance(caught.value.orig, sqlite3.OperationalError)
