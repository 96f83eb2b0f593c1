"""The server hides its start-up heap from the garbage collector; test apps leave it alone."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.app import make_settings

from xueliang.app import create_app


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()  # frozen objects are never freed: do not keep the whole test session's heap


@pytest.mark.usefixtures("unfrozen")
@pytest.mark.parametrize("freeze", [True, False])
async def test_start_up_heap_is_frozen_only_when_asked(seeded_url: str, tmp_path: Path, freeze: bool) -> None:
    app = create_app(make_settings(seeded_url, tmp_path), migrate_on_start=False, freeze_heap=freeze)
    async with app.router.lifespan_context(app):
        frozen = gc.get_freeze_count()
    assert (frozen > 10_000) is freeze, frozen
