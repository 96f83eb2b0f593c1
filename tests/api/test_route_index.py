"""The prefix index in front of FastAPI's router (core/route_index.py) picks, for every route of the node
in both process roles that differ, exactly the route FastAPI's own walk picks, or leaves the request to
FastAPI; refusals it leaves to FastAPI (404, 405, the slash redirect) keep their bodies; a route added
after the first request is found."""

from __future__ import annotations

import inspect
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute, _EffectiveRouteContext, _IncludedRouter
from starlette.routing import BaseRoute, Match, Mount
from tests.support.app import make_settings

from xueliang.alarms.config import AlarmSettings
from xueliang.app import create_app
from xueliang.core.route_index import Leaf, PrefixDispatch, literal_prefix, request_key
from xueliang.media.config import MediaSettings

SAMPLE = {"int": "7", "str": "x", "path": "a/b", "float": "1.5", "uuid": str(uuid.UUID(int=7))}


def _app(role: str, url: str) -> FastAPI:
    full: dict[str, Any] = {"media": MediaSettings(enabled=True), "alarms": AlarmSettings()}
    return create_app(make_settings(url, Path("unused"), role=role, **full), migrate_on_start=False)


def _dispatch(app: FastAPI) -> PrefixDispatch:
    dispatch = app.router.middleware_stack
    assert isinstance(dispatch, PrefixDispatch)
    return dispatch


def _scope(method: str, path: str, kind: str = "http") -> dict[str, Any]:
    return {"type": kind, "method": method, "path": path, "root_path": "", "headers": [], "query_string": b""}


def fastapi_choice(app: FastAPI, scope: dict[str, Any]) -> BaseRoute | None:
    """What FastAPI's own router runs for `scope` on a full match (its walk, as APIRouter.app does it)."""
    for route in app.router.routes:
        match, _ = route.matches(scope)
        if match is Match.FULL:
            found: Any = route
            while isinstance(found, _IncludedRouter):
                _, _, found, _ = found._match(scope)
            return found  # type: ignore[no-any-return]
    return None


def index_choice(leaf: Leaf) -> BaseRoute:
    route = leaf.route
    if isinstance(route, _EffectiveRouteContext):
        return route.original_route
    return route


def _requests(app: FastAPI) -> list[tuple[str, str, str]]:
    """(kind, method, path) for every route, its parameters filled, plus the wrong method and slash."""
    asked = []
    for leaf in _all_leaves(app):
        template = leaf.path_format or "/"
        path = re.sub(r"\{\w+(?::(\w+))?\}", lambda m: SAMPLE[m.group(1) or "str"], template)
        route = index_choice(leaf)
        methods = getattr(leaf.route, "methods", None) or getattr(route, "methods", None)
        if isinstance(route, Mount):
            path = template.replace("/{path}", "/x.js")
        if methods:
            asked += [("http", m, path) for m in methods]
            asked += [("http", "PATCH", path), ("http", "GET", path + "/"), ("http", "GET", path + "x")]
        else:
            asked += [("websocket", "GET", path), ("http", "GET", path)]
    return asked


def _all_leaves(app: FastAPI) -> list[Leaf]:
    index = _dispatch(app).index
    index.check()
    unique = {id(leaf): leaf for leaves in index._by_key.values() for leaf in leaves}
    return list(unique.values())


def test_the_index_picks_what_fastapi_picks_for_every_route() -> None:
    for role, url in (
        ("all", "sqlite+aiosqlite:///unused.db"),
        ("web", "postgresql+asyncpg://n@127.0.0.1:1/u"),
    ):
        app = _app(role, url)
        dispatch = _dispatch(app)
        requests = _requests(app)
        assert len(requests) > 900, len(requests)
        picked = 0
        for kind, method, path in requests:
            expected = fastapi_choice(app, _scope(method, path, kind))
            found = dispatch.pick(_scope(method, path, kind))
            if found is None:
                # left to FastAPI: no full match, or one inside a router that is not an API route
                assert expected is None or not isinstance(expected, APIRoute) or kind != "http", (
                    method,
                    path,
                )
                continue
            picked += 1
            assert index_choice(found[0]) is expected, (role, method, path)
        assert picked > 250, picked


def test_a_request_tries_only_its_domains_routes() -> None:
    app = _app("all", "sqlite+aiosqlite:///unused.db")
    index = _dispatch(app).index
    every = len(_all_leaves(app))
    booking = index.candidates("/api/v1/hospital/bookings")
    assert 0 < len(booking) < every / 20, (len(booking), every)
    key = ("api", "v1", "hospital", "bookings")
    assert all(key[: len(p)] == p for p in (literal_prefix(leaf.path_format) for leaf in booking))
    assert request_key("/api/v1/hospital/bookings/7/cancel") == key


async def test_refusals_left_to_fastapi_keep_their_answers_and_late_routes_are_found(tmp_path: Path) -> None:
    app = create_app(
        make_settings(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", tmp_path), migrate_on_start=False
    )
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        missing = await c.get("/api/v1/portal/no-such-thing")
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"
        wrong = await c.delete("/api/v1/portal/banner")
        assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"
        assert wrong.headers["x-content-type-options"] == "nosniff"  # the guards still wrap it
        slash = await c.get("/api/v1/portal/banner/", follow_redirects=False)
        assert slash.status_code == 307 and slash.headers["location"].endswith("/api/v1/portal/banner")
        anonymous = await c.get("/api/v1/portal/banner")
        assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_logged_in"

        @app.get("/api/v1/portal/late-route")
        async def late() -> dict[str, str]:
            return {"found": "yes"}

        assert (await c.get("/api/v1/portal/late-route")).json() == {"found": "yes"}
    assert app.url_path_for("late") == "/api/v1/portal/late-route"


def _sync_calls(dependant: Any) -> Iterator[str]:
    for sub in dependant.dependencies:
        call = sub.call
        if call is not None and not (
            inspect.iscoroutinefunction(call)
            or inspect.isasyncgenfunction(call)
            or inspect.isgeneratorfunction(call)
        ):
            yield f"{call.__module__}.{call.__qualname__}"
        yield from _sync_calls(sub)


def test_no_route_runs_a_dependency_or_endpoint_on_a_worker_thread() -> None:
    """FastAPI runs a plain `def` dependency or endpoint on a worker thread: a hand-off per request that
    costs more than most of them do (accounts/deps.py ctx_dependency)."""
    app = _app("all", "sqlite+aiosqlite:///unused.db")
    found = set()
    for leaf in _all_leaves(app):
        dependant = getattr(leaf.route, "dependant", None)
        if dependant is None:
            continue
        found |= {(leaf.path_format, name) for name in _sync_calls(dependant)}
        call = dependant.call
        if call is not None and not (inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call)):
            found.add((leaf.path_format, f"endpoint {call.__qualname__}"))
    assert not found, sorted(found)[:10]
