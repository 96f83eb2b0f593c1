"""Grid tests: one copy of the demo county for all of them (they write check-ins, visits and
incidents, so they do not share the session's read-mostly database; each test reads its expectations
from the database, or works on days of its own), an app on a ManualClock at 09:00 local time today
(the seed's history is the 7 days before), timers fired by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from tests.support.alarms import Login, logins_to
from tests.support.app import make_settings
from tests.support.db import seed_database

from xueliang.app import create_app
from xueliang.core.clock import ManualClock, SystemClock

TZ = ZoneInfo("Asia/Shanghai")


def local(day_offset: int = 0, hhmm: str = "09:00") -> datetime:
    """Today (where the seed's history ends) + `day_offset` days at local `hhmm`, in UTC."""
    today = SystemClock().now().astimezone(TZ).date()
    h, m = (int(x) for x in hhmm.split(":"))
    day = today.fromordinal(today.toordinal() + day_offset)
    return datetime.combine(day, time(h, m), tzinfo=TZ).astimezone(UTC)


@pytest.fixture(scope="session")
def grid_url(make_db_url: Callable[[], str]) -> str:
    url = make_db_url()
    seed_database(url)
    return url


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(local(0, "09:00"))


@pytest.fixture
async def gapp(grid_url: str, tmp_path: Path, clock: ManualClock) -> AsyncIterator[FastAPI]:
    application = create_app(
        make_settings(grid_url, tmp_path, timer_loop=False), clock=clock, migrate_on_start=False
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def glogin(gapp: FastAPI) -> AsyncIterator[Login]:
    async with logins_to(gapp) as do:
        yield do
