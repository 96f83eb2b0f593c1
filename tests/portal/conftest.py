"""Portal test fixtures: one seeded database for the portal tests (copied from the session's seeded
template, so it costs a file copy or a CREATE DATABASE ... TEMPLATE), an app on a ManualClock that
starts at the seed's time, and logins against it. Tests pick distinct users and products, so they do
not depend on each other's writes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from fastapi import FastAPI

from tests.support.alarms import Login, logins_to
from tests.support.app import make_settings
from tests.support.db import seed_database
from xueliang.app import create_app
from xueliang.core.clock import ManualClock, SystemClock


@pytest.fixture(scope="session")
def portal_url(make_db_url: Callable[[], str]) -> str:
    url = make_db_url()
    seed_database(url)
    return url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(SystemClock().now())


@pytest.fixture
async def portal_app(portal_url: str, tmp_path: Path, clock: ManualClock) -> AsyncIterator[FastAPI]:
    settings = make_settings(portal_url, tmp_path, timer_loop=False)
    application = create_app(settings, clock=clock, migrate_on_start=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def plogin(portal_app: FastAPI) -> AsyncIterator[Login]:
    async with logins_to(portal_app) as do:
        yield do
