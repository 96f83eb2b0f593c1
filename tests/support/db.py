"""Test databases: the backend chosen by XUELIANG_TEST_DB (SQLite or PostgreSQL), the PostgreSQL admin
connection, and the demo county's migrate + seed."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import socket
from collections.abc import Coroutine
from typing import Any, TypeVar

from xueliang.core import migrate
from xueliang.core.db import Database
from xueliang.seed.load import seed_demo

BACKEND = os.environ.get("XUELIANG_TEST_DB", "sqlite")
PG_ADMIN = os.environ.get(
    "XUELIANG_TEST_PG_ADMIN_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)

T = TypeVar("T")


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run in a worker thread: works even where a loop already runs in this thread (Playwright's
    sync API keeps one running in the main thread)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def pg_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


async def pg_admin(sql: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(PG_ADMIN.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def seed_database(url: str) -> None:
    async def run() -> None:
        await migrate.upgrade_async(url)
        db = Database(url)
        try:
            async with db.session() as session:
                from xueliang.core.clock import SystemClock

                await seed_demo(session, now=SystemClock().now(), rtsp_base="rtsp://127.0.0.1:8554")
        finally:
            await db.dispose()

    run_async(run())
