"""Shared fixtures: a throw-away database per run (SQLite or PostgreSQL, chosen by XUELIANG_TEST_DB),
seeded once with the demo county; an in-process API client; a real uvicorn server for browser tests."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from xueliang.accounts import passwords
from xueliang.app import create_app
from xueliang.config import Settings
from xueliang.core import migrate
from xueliang.core.db import Database
from xueliang.seed.demo import DEMO_PASSWORD
from xueliang.seed.load import seed_demo

BACKEND = os.environ.get("XUELIANG_TEST_DB", "sqlite")
PG_ADMIN = os.environ.get(
    "XUELIANG_TEST_PG_ADMIN_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
)
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

T = TypeVar("T")

passwords.use_fast_hashing_for_tests()


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run in a worker thread: works even where a loop already runs in this thread (Playwright's
    sync API keeps one running in the main thread)."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def pytest_report_header() -> str:
    return f"xueliang test database backend: {BACKEND}"


def _pg_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


async def _pg_admin(sql: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(PG_ADMIN.replace("postgresql+asyncpg", "postgresql"))
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def make_db_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[], str]]:
    """Makes a new empty database on the selected backend; all of them are dropped at the end."""
    created: list[str] = []

    def make() -> str:
        if BACKEND == "sqlite":
            return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'xueliang.db'}"
        if not _pg_reachable():
            pytest.skip("PostgreSQL selected but no server answers on 127.0.0.1:5432")
        name = f"xl_test_{uuid.uuid4().hex[:12]}"
        run_async(_pg_admin(f'CREATE DATABASE "{name}"'))
        created.append(name)
        return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"

    yield make
    for name in created:
        run_async(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


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


@pytest.fixture(scope="session")
def seeded_url(make_db_url: Callable[[], str]) -> str:
    """One database with the demo county, shared by read-mostly tests."""
    url = make_db_url()
    seed_database(url)
    return url


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("data")


def make_settings(url: str, data_dir: Path, **extra: object) -> Settings:
    """Settings for a test app; the media engine stays off unless a test turns it on."""
    extra.setdefault("media_enabled", False)
    return Settings(database_url=url, data_dir=data_dir, secret_key="test-secret-" + "x" * 32, **extra)  # type: ignore[arg-type]


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


class LoggedIn:
    """An API client logged in as one user, sending the CSRF header as the browser pages do."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def login(self, username: str, password: str = DEMO_PASSWORD) -> httpx.AsyncClient:
        r = await self.client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        self.client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return self.client


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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LiveServer:
    """The real app under uvicorn in a background thread, on an ephemeral loopback port."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self, timeout: float = 20.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("live server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)


@pytest.fixture(scope="session")
def live_server(seeded_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = make_settings(seeded_url, tmp_path_factory.mktemp("live"))
    server = LiveServer(create_app(settings, migrate_on_start=False))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
