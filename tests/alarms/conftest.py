"""Alarm test fixtures: each module gets its own seeded database (cloned from one seeded template, so
it costs a file copy or a CREATE DATABASE ... TEMPLATE), an app on a ManualClock with the alarm
timer runner, and logins against it."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from tests.support.alarms import Login, logins_to
from tests.support.app import make_settings
from tests.support.db import BACKEND, PG_ADMIN, pg_admin, seed_database

from xueliang.app import create_app
from xueliang.core.clock import ManualClock


@pytest.fixture(scope="session")
def alarm_template(make_db_url: Callable[[], str]) -> str:
    url = make_db_url()
    seed_database(url)
    return url


@pytest.fixture(scope="session")
def clone_db(alarm_template: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], str]]:
    """A fresh copy of the seeded template per call; dropped at the end of the session."""
    made: list[str] = []

    def clone() -> str:
        if BACKEND == "sqlite":
            src = Path(alarm_template.split("///", 1)[1])
            dst = tmp_path_factory.mktemp("alarmdb") / "xueliang.db"
            shutil.copyfile(src, dst)
            for suffix in ("-wal", "-shm"):
                if Path(str(src) + suffix).exists():
                    shutil.copyfile(str(src) + suffix, str(dst) + suffix)
            return f"sqlite+aiosqlite:///{dst}"
        name = f"xl_alarm_{uuid.uuid4().hex[:12]}"
        template = alarm_template.rsplit("/", 1)[1]
        asyncio.run(pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        made.append(name)
        return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"

    yield clone
    for name in made:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def alarm_url(clone_db: Callable[[], str]) -> str:
    return clone_db()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def alarm_app(alarm_url: str, tmp_path: Path, clock: ManualClock) -> AsyncIterator[FastAPI]:
    """The app on a ManualClock, with the timer runner registered but driven by the test
    (`await runner(app).run_due()` after `clock.advance`)."""
    application = create_app(
        make_settings(alarm_url, tmp_path, timer_loop=False), clock=clock, migrate_on_start=False
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def alogin(alarm_app: FastAPI) -> AsyncIterator[Login]:
    async with logins_to(alarm_app) as do:
        yield do
