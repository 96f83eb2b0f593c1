"""The API routes an app gets are prepared once per process and shared (app.py `_prepared_api_routes`):
they must be exactly what FastAPI's own `include_router` gives an app, and every app must answer from
its own node."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from tests.support.app import make_settings

from xueliang.api import ERROR_RESPONSES, api_router
from xueliang.app import create_app
from xueliang.recordings.playback_views import playback_router


def _reference() -> dict[str, Any]:
    """The API's OpenAPI document as an app that includes the routers itself would have it."""
    ref = FastAPI(responses=ERROR_RESPONSES)
    ref.include_router(api_router())
    ref.include_router(playback_router)
    return ref.openapi()


def test_shared_routes_document_exactly_what_include_router_gives(tmp_path: Path) -> None:
    app = create_app(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", tmp_path))
    doc, ref = app.openapi(), _reference()
    assert ref["paths"], "the reference app has the API's routes"
    for path, item in ref["paths"].items():
        assert doc["paths"].get(path) == item, path
    for name, schema in ref["components"]["schemas"].items():
        assert doc["components"]["schemas"].get(name) == schema, name


async def test_two_apps_answer_each_from_its_own_node(make_db_url: Any, tmp_path: Path) -> None:
    """Two nodes in one process, one seeded and one empty: the shared routes reach each app's own
    database (a route that kept the first app would answer both alike)."""
    from tests.support.db import seed_database

    seeded = make_db_url()
    seed_database(seeded)
    apps = [
        create_app(make_settings(seeded, tmp_path / "a"), migrate_on_start=False),
        create_app(make_settings(make_db_url(), tmp_path / "b"), migrate_on_start=True),
    ]
    answers = []
    for app in apps:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50002))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                body = {"username": "admin", "password": "xueliang-demo"}
                r = await c.post("/api/v1/auth/login", json=body)
                answers.append(r.status_code)
    assert answers == [200, 401]  # the empty node has no such user
