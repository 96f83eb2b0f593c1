"""Helpers of the gb28181 tests: settings with short keepalive timeouts, the running platform, a
logged-in API client, database probes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
from fastapi import FastAPI

from tests.support.app import LoggedIn
from xueliang.core.context import AppContext
from xueliang.gb28181.config import Gb28181Settings
from xueliang.gb28181.platform import GbPlatform

SHARED = "shared-pass-28181"
PLATFORM_ID = "51322300002000000001"
DOMAIN = PLATFORM_ID[:10]


QUICK_EXPIRY = {"keepalive_interval": 0.5}  # offline after 1.5 s without a keepalive


def gb_settings(**extra: object) -> Gb28181Settings:
    values: dict[str, object] = {
        "enabled": True,
        "sip_id": PLATFORM_ID,
        "host": "127.0.0.1",
        "port": 0,
        "device_password": SHARED,
        # Long enough that a device of a test about something else stays online on a busy machine
        # (3 missed intervals make it offline); the tests of that expiry ask for QUICK_EXPIRY.
        "keepalive_interval": 5.0,
        "keepalive_misses": 3,
        "watchdog_period": 0.2,
        "query_timeout": 3.0,
    }
    values.update(extra)
    return Gb28181Settings(**values)  # type: ignore[arg-type]


def platform(app: FastAPI) -> GbPlatform:
    ctx: AppContext = app.state.ctx
    return ctx.services.require(GbPlatform)


@contextlib.asynccontextmanager
async def admin_client(app: FastAPI, username: str = "admin") -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50002))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield await LoggedIn(c).login(username)


async def scalar(app: FastAPI, query: Any) -> Any:
    ctx: AppContext = app.state.ctx
    async with ctx.db.session() as session:
        return (await session.execute(query)).scalar()


async def until(app: FastAPI, probe: Callable[[], Awaitable[Any]], expected: Any, what: str) -> None:
    """Polls an async probe (a query) until it answers `expected`, at most 5 s."""
    deadline = asyncio.get_running_loop().time() + 5
    while (got := await probe()) != expected:
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {got!r}")
        await asyncio.sleep(0.05)
