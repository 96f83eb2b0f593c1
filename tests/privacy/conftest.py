"""Privacy tests write masks and approvals, so they get a database of their own (a copy of the seeded
template): the shared seeded one stays as the other tests expect it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime

import pytest
from fastapi import FastAPI

from tests.support.alarms import Login, logins_to
from tests.support.app import make_settings
from tests.support.db import seed_database
from xueliang.app import create_app
from xueliang.core.clock import ManualClock


@pytest.fixture(scope="session")
def privacy_url(make_db_url: Callable[[], str]) -> str:
    url = make_db_url()
    seed_database(url)
    return url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2030, 5, 6, 2, 0, tzinfo=UTC))


@pytest.fixture
async def papp(
    privacy_url: str, tmp_path_factory: pytest.TempPathFactory, clock: ManualClock
) -> AsyncIterator[FastAPI]:
    """The privacy database's app (no media engine) on a manual clock."""
    app = create_app(make_settings(privacy_url, tmp_path_factory.mktemp("privacy")), clock=clock)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def plogin(papp: FastAPI) -> AsyncIterator[Login]:
    async with logins_to(papp) as login:
        yield login
