"""The simulator tests' own seeded database: what they register, bind, move and alarm stays out of
the one the other gb28181 tests share (some of those count audit entries)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.db import seed_database


@pytest.fixture(scope="session")
def sim_url(make_db_url: Callable[[], str]) -> str:
    url = make_db_url()
    seed_database(url)
    return url
