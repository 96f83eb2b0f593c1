"""Shared fixtures: a throw-away database per run (SQLite or PostgreSQL, chosen by XUELIANG_TEST_DB),
seeded once with the demo county; an in-process API client; a real uvicorn server for browser tests;
a whole node (simulator + platform with the media engine). The helpers they use live in tests/support."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.support.app import ARTIFACTS, LiveServer, LoggedIn, make_settings
from tests.support.db import (
    BACKEND,
    Template,
    drop_databases,
    pg_admin,
    pg_reachable,
    pg_url,
    run_async,
    seed_database,
    use_template,
)
from tests.support.net import free_port
from tests.support.node import Node, Simulator, seed_for_sim
from xueliang.accounts import passwords
from xueliang.app import create_app
from xueliang.config import Settings
from xueliang.core.context import AppContext
from xueliang.media.config import MediaSettings
from xueliang.seed.demo import DEMO_PASSWORD

passwords.use_fast_hashing_for_tests()


def pytest_report_header() -> str:
    return f"xueliang test database backend: {BACKEND}"


# Tests that need no database run once, in one of the two passes. Most run in the SQLite pass; these
# long ones run in the PostgreSQL pass instead (`pg_pass`), so the two passes, which run side by side,
# end at about the same time (the Makefile's `-m` expressions; the durations are in the passes' output).
# (Not every test marked nodb is free of the backend: tests/federation seeds its nodes through
# tests/support/db.py, which follows XUELIANG_TEST_DB, so it stays in the SQLite pass.)
IN_THE_POSTGRESQL_PASS: tuple[str, ...] = ()  # none now: the browser tests (below) balance the passes
# The browser tests that use a database run once too, in the PostgreSQL pass (the production backend):
# they test pages, scripts and what a person sees, through the same API whose every route the two
# passes test on both backends. Running them twice cost about 100 s of the 2 cores' time, the most of
# any group, and the two passes then end together. `make test-sqlite` alone still runs them.
BROWSER_TESTS_ONCE = os.environ.get("XUELIANG_TEST_BROWSER_ONCE") == "1"
ROOT = Path(__file__).resolve().parent.parent


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Marks `nodb` every test that cannot reach the selected database: none of its fixtures, however
    indirectly, needs `make_db_url` (every database fixture does), and its module does not look at the
    backend. The SQLite pass runs them, except those also marked `pg_pass` (IN_THE_POSTGRESQL_PASS):
    the PostgreSQL pass runs those and leaves the others out (`-m "not nodb or pg_pass"`)."""
    for item in items:
        if "make_db_url" in getattr(item, "fixturenames", ()):
            if BROWSER_TESTS_ONCE and item.get_closest_marker("browser") is not None:
                item.add_marker(pytest.mark.pg_pass)
            continue
        if getattr(getattr(item, "module", None), "BACKEND", None) is not None:
            continue
        item.add_marker(pytest.mark.nodb)
        where = Path(str(item.path)).resolve().relative_to(ROOT).as_posix()
        if where.startswith(IN_THE_POSTGRESQL_PASS):
            item.add_marker(pytest.mark.pg_pass)


@pytest.fixture(scope="session")
def make_db_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], str]]:
    """Makes a new empty database on the selected backend; all of them are dropped at the end. While it
    lives, `seed_database` fills such a database with a copy of the session's seeded template."""
    created: list[str] = []
    template = Template(tmp_path_factory.mktemp("template"))
    use_template(template)

    def make() -> str:
        if BACKEND == "sqlite":
            return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'xueliang.db'}"
        if not pg_reachable():
            pytest.skip("PostgreSQL selected but no server answers on 127.0.0.1:5432")
        name = f"xl_test_{uuid.uuid4().hex[:12]}"
        run_async(pg_admin(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return pg_url(name)

    yield make
    use_template(None)
    run_async(drop_databases(created))
    template.close()


@pytest.fixture(scope="session")
def seeded_url(make_db_url: Callable[[], str]) -> str:
    """One database with the demo county, shared by read-mostly tests."""
    url = make_db_url()
    seed_database(url)
    return url


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


@pytest.fixture
def settings(seeded_url: str, data_dir: Path) -> Settings:
    return make_settings(seeded_url, data_dir)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings, migrate_on_start=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
async def login(app: FastAPI) -> AsyncIterator[Callable[..., Awaitable[httpx.AsyncClient]]]:
    """`c = await login("op-qingxi")` gives a fresh client with that user's session."""
    clients: list[httpx.AsyncClient] = []

    async def do(username: str, password: str = DEMO_PASSWORD) -> httpx.AsyncClient:
        c = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("127.0.0.1", 50001)), base_url="http://testserver"
        )
        clients.append(c)
        return await LoggedIn(c).login(username, password)

    yield do
    for c in clients:
        await c.aclose()


@pytest.fixture(scope="session")
def live_server(seeded_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = make_settings(seeded_url, tmp_path_factory.mktemp("live"))
    server = LiveServer(create_app(settings, migrate_on_start=False))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Simulator]:
    """One `xueliang sim` process for the session, shared by the nodes of all modules (one at a time)."""
    sim = Simulator(free_port(), tmp_path_factory.mktemp("sim") / "sim.log")
    sim.start()
    yield sim
    sim.stop()


@pytest.fixture(scope="module")
def node(
    request: pytest.FixtureRequest,
    make_db_url: Callable[[], str],
    tmp_path_factory: pytest.TempPathFactory,
    simulator: Simulator,
) -> Iterator[Node]:
    sim = simulator
    url = make_db_url()
    seed_for_sim(url, sim.port)
    if not sim.running:  # a test that stopped it failed before starting it again
        sim.start()
    loop_box: list[asyncio.AbstractEventLoop] = []

    async def remember_loop(_ctx: AppContext) -> None:
        loop_box.append(asyncio.get_running_loop())

    settings = make_settings(url, tmp_path_factory.mktemp("node"), media=MediaSettings(rtsp_port=0))
    server = LiveServer(create_app(settings, migrate_on_start=False, extra_hooks=[remember_loop]))
    server.start()
    try:
        yield Node(server, sim, loop_box)
    finally:
        server.stop()
