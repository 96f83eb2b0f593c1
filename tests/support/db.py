"""Test databases: the backend chosen by XUELIANG_TEST_DB (SQLite or PostgreSQL), the PostgreSQL admin
connection, and the demo county.

The demo county is migrated and seeded once per test session into a template database; every database
that `seed_database` fills afterwards is a copy of it (a file copy on SQLite, `CREATE DATABASE ...
TEMPLATE` on PostgreSQL), which is what a fresh migrate + seed would have written, minutes earlier."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import socket
import uuid
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import func, update

from xueliang.cameras.models import Camera
from xueliang.core import migrate
from xueliang.core.db import Database
from xueliang.seed.load import seed_demo

BACKEND = os.environ.get("XUELIANG_TEST_DB", "sqlite")
PG_ADMIN = os.environ.get(
    "XUELIANG_TEST_PG_ADMIN_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
SEED_RTSP_BASE = "rtsp://127.0.0.1:8554"  # the cameras' stream URLs in a seeded database

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


async def drop_databases(names: list[str], at_once: int = 32) -> None:
    """Drops the session's databases several at a time: each DROP DATABASE waits for a checkpoint,
    and waiting ones share it, so a pass that made a hundred databases ends in seconds, not minutes."""
    gate = asyncio.Semaphore(at_once)

    async def drop(name: str) -> None:
        async with gate:
            await pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    await asyncio.gather(*(drop(name) for name in names))


def pg_url(name: str) -> str:
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def sqlite_path(url: str) -> Path:
    return Path(url.split("///", 1)[1])


async def _migrate_and_seed(url: str) -> None:
    await migrate.upgrade_async(url)
    db = Database(url)
    try:
        async with db.session() as session:
            from xueliang.core.clock import SystemClock

            await seed_demo(session, now=SystemClock().now(), rtsp_base=SEED_RTSP_BASE)
    finally:
        await db.dispose()


async def _pg_is_empty(url: str) -> bool:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        tables = await conn.fetchval(
            "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace"
        )
        return int(tables) == 0
    finally:
        await conn.close()


class Template:
    """The session's demo-county template: seeded on first use, copied into empty databases."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.url: str | None = None
        self.retired: list[str] = []  # PostgreSQL databases to drop at the end of the session

    def ensure(self) -> str:
        if self.url is None:
            if BACKEND == "sqlite":
                url = f"sqlite+aiosqlite:///{self.workdir / 'template.db'}"
            else:
                name = f"xl_tpl_{uuid.uuid4().hex[:12]}"
                run_async(pg_admin(f'CREATE DATABASE "{name}"'))
                url = pg_url(name)
            self.url = url  # set first, so close() drops a template whose seeding failed
            run_async(_migrate_and_seed(url))
        return self.url

    def copy_into(self, url: str) -> bool:
        """Make the empty database at `url` a copy of the template; False where it is not empty."""
        template = self.ensure()
        if BACKEND == "sqlite":
            target = sqlite_path(url)
            if target.exists() and target.stat().st_size > 0:
                return False
            source = sqlite_path(template)
            shutil.copyfile(source, target)
            wal = Path(f"{source}-wal")
            if wal.exists() and wal.stat().st_size > 0:
                shutil.copyfile(wal, f"{target}-wal")
            return True
        if not run_async(_pg_is_empty(url)):
            return False
        name, template_name = url.rsplit("/", 1)[1], template.rsplit("/", 1)[1]
        # Renamed out of the way, not dropped: a DROP DATABASE waits for a checkpoint (seconds on a
        # busy server); the empty one is dropped with the others when the session ends.
        retired = f"{name}_empty"
        run_async(pg_admin(f'ALTER DATABASE "{name}" RENAME TO "{retired}"'))
        self.retired.append(retired)
        run_async(pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"'))
        return True

    def close(self) -> None:
        if BACKEND != "sqlite":
            names = self.retired + ([self.url.rsplit("/", 1)[1]] if self.url is not None else [])
            run_async(drop_databases(names))
        self.retired = []
        self.url = None


_template: Template | None = None


def use_template(template: Template | None) -> None:
    """Set by the `make_db_url` fixture for its session (None when the session ends)."""
    global _template
    _template = template


async def _point_cameras_at(url: str, rtsp_base: str) -> None:
    db = Database(url)
    try:
        async with db.session() as session:
            await session.execute(
                update(Camera).values(stream_url=func.replace(Camera.stream_url, SEED_RTSP_BASE, rtsp_base))
            )
            await session.commit()
    finally:
        await db.dispose()


def seed_database(url: str, rtsp_base: str = SEED_RTSP_BASE) -> None:
    """Migrate and seed the demo county into the new, empty database at `url`, its cameras streaming from
    `rtsp_base`: a copy of the session's template where there is one, else the real migrate + seed."""
    if _template is None or not _template.copy_into(url):
        run_async(_migrate_and_seed(url))
    if rtsp_base != SEED_RTSP_BASE:
        run_async(_point_cameras_at(url, rtsp_base))
