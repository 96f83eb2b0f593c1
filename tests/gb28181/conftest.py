"""The gb28181 tests' app: its own freshly seeded database (devices and cameras made here stay out of
the shared one) and the SIP platform on a free UDP/TCP port with short keepalive timeouts."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from fastapi import FastAPI

from tests.gb28181.support import gb_settings
from tests.support.app import make_settings
from tests.support.db import seed_database
from xueliang.app import create_app


@pytest.fixture(scope="session")
def gb_url(make_db_url: Callable[[], str]) -> str:
    url = make_db_url()
    seed_database(url)
    return url


@pytest.fixture
async def gb_app(gb_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[FastAPI]:
    """Settings overrides come as the fixture's indirect parameter, e.g. {"stream_transport": "TCP"}."""
    overrides = getattr(request, "param", {})
    app = create_app(
        make_settings(gb_url, tmp_path, gb28181=gb_settings(**overrides)), migrate_on_start=False
    )
    async with app.router.lifespan_context(app):
        yield app
