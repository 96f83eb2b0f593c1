"""Alarm test fixtures: each module gets its own seeded database (cloned from one seeded template, so
it costs a file copy or a CREATE DATABASE ... TEMPLATE), an app on a ManualClock with the alarm
timer runner, and logins against it."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from tests.conftest import BACKEND, PG_ADMIN, LoggedIn, _pg_admin, make_settings, seed_database

from xueliang.accounts import service as accounts
from xueliang.accounts.models import User
from xueliang.accounts.policy import Principal
from xueliang.app import create_app
from xueliang.core.clock import ManualClock
from xueliang.core.context import AppContext
from xueliang.core.db import Database
from xueliang.core.tasks import TimerRunner

Login = Callable[..., Awaitable[httpx.AsyncClient]]


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
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        made.append(name)
        return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"

    yield clone
    for name in made:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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
    from xueliang.alarms.tasks import intake_hook, timer_hook

    application = create_app(
        make_settings(alarm_url, tmp_path),
        clock=clock,
        migrate_on_start=False,
        startup_hooks=[timer_hook(background=False), intake_hook()],
    )
    async with application.router.lifespan_context(application):
        yield application


def ctx_of(app: FastAPI) -> AppContext:
    ctx: AppContext = app.state.ctx
    return ctx


def runner(app: FastAPI) -> TimerRunner:
    found: TimerRunner = ctx_of(app).extras["timers"]
    return found


@asynccontextmanager
async def logins_to(app: FastAPI) -> AsyncIterator[Login]:
    """`c = await login("op-qingxi")`: clients of `app` logged in as that user, closed at the end."""
    clients: list[httpx.AsyncClient] = []

    async def do(username: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50002))
        c = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        clients.append(c)
        return await LoggedIn(c).login(username)

    try:
        yield do
    finally:
        for c in clients:
            await c.aclose()


@pytest.fixture
async def alogin(alarm_app: FastAPI) -> AsyncIterator[Login]:
    async with logins_to(alarm_app) as do:
        yield do


async def principal(db: Database, username: str) -> Principal:
    async with db.session() as session:
        user = await accounts.find_user(session, username)
        assert isinstance(user, User)
        return await accounts.principal_for(session, user)


def new_uuid() -> str:
    return str(uuid.uuid4())
