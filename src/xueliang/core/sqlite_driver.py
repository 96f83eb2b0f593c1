"""SQLite calls made on the event loop's own thread, behind the async driver interface SQLAlchemy's
aiosqlite dialect expects.

aiosqlite runs every statement on a helper thread: a queue put, a thread wake-up, the GIL handed over
and back, and a loop wake-up through its self-pipe. Measured here, `SELECT 1` through an AsyncSession
cost 380-600 us that way against 1-2 us for the statement itself, and an alarm's ~25 statements
spent most of their 10-15 ms in those hand-overs. SQLite on local disk answers in microseconds
(a WAL commit with fsync ~0.2 ms here), so running it inline is cheaper than any hand-over.

What would block the loop is waiting for a lock another *process* holds: connections keep a short
busy timeout (BUSY_TIMEOUT_MS), and the dialect retries BEGIN IMMEDIATE without blocking (core.sqlite)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_dbapi,
)

BUSY_TIMEOUT_MS = 20  # the longest a statement may hold the loop waiting on another process's lock
# (sqlite3's `timeout` is SQLite's busy timeout: the one place it is set)


class InlineCursor:
    """A sqlite3 cursor with the coroutine methods of an async driver's; none of them suspends."""

    __slots__ = ("_cursor",)

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value

    async def execute(self, sql: str, parameters: Any = ()) -> InlineCursor:
        self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, seq_of_parameters: Any) -> InlineCursor:
        self._cursor.executemany(sql, seq_of_parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def setinputsizes(self, *_sizes: Any) -> None:
        return None

    async def close(self) -> None:
        self._cursor.close()


class InlineConnection:
    """A sqlite3 connection with aiosqlite's coroutine interface."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._connection: sqlite3.Connection | None = conn  # aiosqlite's "still open" marker

    @property
    def sqlite(self) -> sqlite3.Connection:
        return self._conn

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._conn.isolation_level = value  # type: ignore[assignment]

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def create_function(self, name: str, num_params: int, func: Callable[..., Any], **kw: Any) -> None:
        self._conn.create_function(name, num_params, func, **kw)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()


class InlineAdaptConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    @property
    def isolation_level(self) -> str | None:
        return self._connection.isolation_level  # type: ignore[no-any-return]

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self._connection.isolation_level = value  # aiosqlite's setter queues to its thread; none here

    def _terminate_force_close(self) -> None:
        self._connection.stop()


class InlineDBAPI(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module SQLAlchemy's aiosqlite dialect talks to, built on the stdlib sqlite3."""

    def __init__(self) -> None:
        super().__init__(sqlite3, sqlite3)

    def connect(self, *arg: Any, **kw: Any) -> InlineAdaptConnection:
        kw.pop("async_creator_fn", None)
        kw["check_same_thread"] = False  # the pool hands a connection to one user at a time
        kw["timeout"] = BUSY_TIMEOUT_MS / 1000
        conn = sqlite3.connect(*arg, **kw)
        driver: Any = InlineConnection(conn)  # the async-driver protocol, by duck typing
        return InlineAdaptConnection(self, driver)
