"""Privacy tests write masks and approvals, so they get a database of their own (a copy of the seeded
template): the shared seeded one stays as the other tests expect it."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.support.db import seed_database


@pytest.fixture(scope="session")
def privacy_url(make_db_url: Callable[[], str]) -> str:
    url = make_db_url()
    seed_database(url)
    return url
