"""SQLite for one async process: writers queue in order, readers never wait.

SQLite has one writer at a time. Its busy handler does not wait for the lock, it polls after sleeps
that grow to 100 ms, so under contention a writer waits for the next poll rather than for the lock:
bench/alarms.py saw press→ack tails of seconds at 100 alarms/s. So:

- write transactions (the default) take this process's writer gate first, an asyncio lock that
  serves waiters in arrival order, then `BEGIN IMMEDIATE`; the gate is handed on right after the
  COMMIT or ROLLBACK (the dialect below), so a writer never sleeps on the busy handler for another
  writer of its own process. Other processes (the CLI beside a server) still meet the busy timeout.
- read transactions (`READ_ONLY` execution option, `Database.read_session`) begin DEFERRED with
  `PRAGMA query_only` on: they read a WAL snapshot without the write lock, and a write in one fails
  at once instead of upgrading a stale snapshot (SQLITE_BUSY_SNAPSHOT).
- statements run inline on the loop's thread (core.sqlite_driver), so a write lock held by another
  process must not be waited for there: BEGIN IMMEDIATE is retried with asyncio sleeps instead."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import weakref
from collections.abc import Callable
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import Connection
from sqlalchemy.util import await_
from sqlalchemy.util.concurrency import in_greenlet

from xueliang.core.sqlite_driver import InlineConnection, InlineDBAPI

DRIVER = "sqlite+xueliang"
READ_ONLY = "xueliang_read_only"  # execution option: this connection only reads
GATE_TIMEOUT_S = 30.0  # then "database is locked", as SQLite's own busy timeout used to say
BUSY_RETRY_S = (0.002, 0.005, 0.01, 0.02, 0.05)  # between BEGIN IMMEDIATE tries (another process writes)


class WriterGate:
    """One FIFO lock per event loop (an asyncio lock belongs to one loop; tests run several)."""

    def __init__(self) -> None:
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def for_running_loop(self) -> asyncio.Lock | None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock


async def _acquire(lock: asyncio.Lock) -> None:
    try:
        async with asyncio.timeout(GATE_TIMEOUT_S):  # not wait_for: in 3.11 it can swallow a cancel
            await lock.acquire()
    except TimeoutError:
        raise sqlite3.OperationalError(
            f"database is locked (no write turn within {GATE_TIMEOUT_S:.0f} s)"
        ) from None


def _begin_immediate(driver: InlineConnection, waiting: bool) -> None:
    """Take the write lock; while another process holds it, wait without holding up the loop."""
    deadline = time.monotonic() + GATE_TIMEOUT_S
    tries = 0
    while True:
        try:
            driver.sqlite.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or not waiting or time.monotonic() > deadline:
                raise
        await_(asyncio.sleep(BUSY_RETRY_S[min(tries, len(BUSY_RETRY_S) - 1)]))
        tries += 1


def _raw(dbapi_connection: Any) -> Any:
    """The driver connection, whether handed the pool's proxy or the connection itself."""
    return getattr(dbapi_connection, "dbapi_connection", None) or dbapi_connection


class GatedSQLiteDialect(SQLiteDialect_aiosqlite):
    """aiosqlite that hands the writer gate on once a transaction has ended, however it ended."""

    supports_statement_cache = True  # adds no SQL of its own to compile

    @classmethod
    def import_dbapi(cls) -> Any:
        return InlineDBAPI()

    def retrieve_dbapi_version(self, dbapi: Any) -> Any:
        return sqlite3.sqlite_version_info

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.gate = WriterGate()
        self._holders: dict[int, asyncio.Lock] = {}  # id(driver connection) -> gate it holds
        self._query_only: dict[int, bool] = {}

    def on_connect(self) -> Callable[[Any], None]:
        """Every new connection: WAL, durable commits, foreign keys; query_only at its default."""
        inherited = super().on_connect()

        def setup(dbapi_connection: Any) -> None:
            if inherited is not None:
                inherited(dbapi_connection)
            cursor = dbapi_connection.cursor()
            for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
                cursor.execute(f"PRAGMA {pragma}")
            cursor.close()
            self._query_only[id(_raw(dbapi_connection))] = False

        return setup

    def begin(self, conn: Connection) -> None:
        raw = _raw(conn.connection)
        key = id(raw)
        read_only = bool(conn.get_execution_options().get(READ_ONLY, False))
        if self._query_only.get(key, False) != read_only:
            conn.exec_driver_sql(f"PRAGMA query_only={1 if read_only else 0}")
            self._query_only[key] = read_only
        if read_only:
            conn.exec_driver_sql("BEGIN")
            return
        lock = self.gate.for_running_loop() if in_greenlet() else None
        if lock is not None:
            await_(_acquire(lock))
            self._holders[key] = lock
        driver = conn.connection.driver_connection
        assert isinstance(driver, InlineConnection)
        try:
            _begin_immediate(driver, waiting=lock is not None)
        except BaseException:
            self._release(raw)
            raise

    def _release(self, dbapi_connection: Any) -> None:
        lock = self._holders.pop(id(_raw(dbapi_connection)), None)
        if lock is not None and lock.locked():
            lock.release()

    def do_commit(self, dbapi_connection: Any) -> None:
        try:
            super().do_commit(dbapi_connection)  # type: ignore[no-untyped-call]
        finally:
            self._release(dbapi_connection)

    def do_rollback(self, dbapi_connection: Any) -> None:
        try:
            super().do_rollback(dbapi_connection)  # type: ignore[no-untyped-call]
        finally:
            self._release(dbapi_connection)

    def do_close(self, dbapi_connection: Any) -> None:
        self._release(dbapi_connection)
        self._query_only.pop(id(_raw(dbapi_connection)), None)
        super().do_close(dbapi_connection)  # type: ignore[no-untyped-call]

    def do_terminate(self, dbapi_connection: Any) -> None:
        self._release(dbapi_connection)
        self._query_only.pop(id(_raw(dbapi_connection)), None)
        super().do_terminate(dbapi_connection)


registry.register("sqlite.xueliang", __name__, "GatedSQLiteDialect")
