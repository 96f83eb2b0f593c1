"""Sessions, CSRF, rate limits, bearer tokens and rights changes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event, update
from tests.support.app import make_settings
from tests.support.db import seed_database

from xueliang.accounts import session_cache
from xueliang.accounts.config import AccountSettings
from xueliang.accounts.models import AuthSession, Role, User
from xueliang.accounts.policy import Principal
from xueliang.app import create_app
from xueliang.core.db import Database

Login = Callable[..., Awaitable[httpx.AsyncClient]]


async def test_state_change_without_csrf_is_refused(login: Login) -> None:
    c = await login("admin")
    token = c.headers.pop("X-CSRF-Token")
    r = await c.patch("/api/v1/cameras/1", json={"name": "renamed"})
    assert r.status_code == 403 and r.json()["code"] == "csrf"
    c.headers["X-CSRF-Token"] = token + "x"
    assert (await c.patch("/api/v1/cameras/1", json={"name": "renamed"})).status_code == 403


async def test_session_cookie_flags(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/auth/login", json={"username": "admin", "password": "xueliang-demo"})
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie


async def test_bearer_token_for_devices_needs_no_csrf(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/auth/token", json={"username": "res-v01", "password": "xueliang-demo"})
    assert r.status_code == 200
    token = r.json()["access_token"]
    client.cookies.clear()
    headers = {"Authorization": f"Bearer {token}"}
    assert (await client.get("/api/v1/me", headers=headers)).json()["username"] == "res-v01"
    cams = (await client.get("/api/v1/cameras", headers=headers)).json()
    assert (await client.post(f"/api/v1/cameras/{cams[0]['id']}/open", headers=headers)).status_code == 200
    assert (await client.get("/api/v1/me", headers={"Authorization": "Bearer nonsense"})).status_code == 401


async def test_unauthenticated_is_401_json(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/cameras")
    assert r.status_code == 401 and r.json() == {"code": "not_logged_in", "message": "log in first"}


async def test_logout_ends_the_session(login: Login) -> None:
    c = await login("duty-v02")
    assert (await c.post("/api/v1/auth/logout")).status_code == 204
    assert (await c.get("/api/v1/me")).status_code == 401


async def test_validation_errors_are_json_with_field(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/auth/login", json={"username": ""})
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "invalid" and "password" in body["message"]


@pytest.fixture
def fresh_url(make_db_url: Callable[[], str]) -> str:
    url = make_db_url()
    seed_database(url)
    return url


@pytest.fixture
async def fresh_app(fresh_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    """An app over its own database, for tests that lock accounts or change rights."""
    app = create_app(
        make_settings(
            fresh_url,
            tmp_path,
            accounts=AccountSettings(
                login_free_failures_per_account=3, login_free_failures_per_address=5, login_delay_first_s=60
            ),
        ),
        migrate_on_start=False,
    )
    async with app.router.lifespan_context(app):
        yield app


def client_from(app: FastAPI, address: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(address, 4000)), base_url="http://testserver"
    )


async def test_login_rate_limited_per_account_and_address(fresh_app: FastAPI) -> None:
    async with client_from(fresh_app, "10.9.9.1") as a, client_from(fresh_app, "10.9.9.2") as b:
        for _ in range(3):
            r = await a.post("/api/v1/auth/login", json={"username": "gw-01", "password": "wrong-password"})
            assert r.status_code == 401
        # The account must now wait (a minute here) before its next try, from any address.
        r = await b.post("/api/v1/auth/login", json={"username": "gw-01", "password": "xueliang-demo"})
        assert r.status_code == 429 and r.json()["code"] == "login_locked"
        # Other accounts are still fine from b ...
        assert (
            await b.post("/api/v1/auth/login", json={"username": "gw-02", "password": "xueliang-demo"})
        ).status_code == 200
        # ... but address a must wait after 5 failures across accounts.
        for name in ("gw-03", "gw-04"):
            await a.post("/api/v1/auth/login", json={"username": name, "password": "wrong-password"})
        r = await a.post("/api/v1/auth/login", json={"username": "gw-05", "password": "xueliang-demo"})
        assert r.status_code == 429


async def test_disabling_a_user_ends_their_session_and_is_audited(fresh_app: FastAPI) -> None:
    async with client_from(fresh_app, "127.0.0.1") as admin, client_from(fresh_app, "127.0.0.1") as res:
        r = await admin.post("/api/v1/auth/login", json={"username": "admin", "password": "xueliang-demo"})
        admin.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        await res.post("/api/v1/auth/login", json={"username": "res-v02", "password": "xueliang-demo"})
        assert (await res.get("/api/v1/cameras")).status_code == 200
        users = {u["username"]: u["id"] for u in (await admin.get("/api/v1/users")).json()}
        r = await admin.patch(f"/api/v1/users/{users['res-v02']}", json={"disabled": True})
        assert r.status_code == 200 and r.json()["disabled"] is True
        assert (await res.get("/api/v1/cameras")).status_code == 401
        r = await res.post("/api/v1/auth/login", json={"username": "res-v02", "password": "xueliang-demo"})
        assert r.status_code == 401
        trail = (await admin.get("/api/v1/audit", params={"action": "user.update"})).json()
        assert trail[0]["detail"]["username"] == "res-v02" and trail[0]["detail"]["disabled"] is True


def _auth_statements(app: FastAPI) -> list[str]:
    """Statements that read the auth_sessions table, recorded from now on."""
    seen: list[str] = []
    engine = app.state.ctx.db.engine.sync_engine

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if "auth_sessions" in statement:
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    return seen


async def test_a_session_is_looked_up_once_while_it_is_fresh(fresh_app: FastAPI) -> None:
    async with client_from(fresh_app, "127.0.0.1") as res:
        await res.post("/api/v1/auth/login", json={"username": "res-v02", "password": "xueliang-demo"})
        lookups = _auth_statements(fresh_app)
        for _ in range(5):
            assert (await res.get("/api/v1/me")).status_code == 200
        assert len(lookups) == 1


async def test_a_change_made_elsewhere_reaches_cached_sessions_within_the_ttl(
    fresh_app: FastAPI, fresh_url: str
) -> None:
    """Another process (the CLI, a second server) disables a user behind this process's back."""
    async with client_from(fresh_app, "127.0.0.1") as res:
        await res.post("/api/v1/auth/login", json={"username": "res-v02", "password": "xueliang-demo"})
        assert (await res.get("/api/v1/me")).status_code == 200
        other = Database(fresh_url)
        try:
            async with other.session() as session:
                await session.execute(update(User).where(User.username == "res-v02").values(disabled=True))
                await session.commit()
        finally:
            await other.dispose()
        changed_at = time.monotonic()
        while (await res.get("/api/v1/me")).status_code == 200:
            assert time.monotonic() - changed_at < session_cache.TTL_S + 2, "still served after the TTL"
            await asyncio.sleep(0.1)
        assert (await res.get("/api/v1/cameras")).status_code == 401


async def test_own_changes_reach_cached_sessions_at_once(fresh_app: FastAPI) -> None:
    async with client_from(fresh_app, "127.0.0.1") as res:
        r = await res.post("/api/v1/auth/login", json={"username": "res-v02", "password": "xueliang-demo"})
        res.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        assert (await res.get("/api/v1/me")).json()["locale"] != "en"
        assert (await res.put("/api/v1/me/locale", json={"locale": "en"})).status_code == 204
        assert (await res.get("/api/v1/me")).json()["locale"] == "en"
        assert 'lang="en"' in (await res.get("/tv")).text


def test_a_lookup_that_raced_a_change_is_not_remembered() -> None:
    """Rows read before a change committed must not be cached after the change forgot the user."""
    session_cache.clear()
    user = User(id=7, username="u", role=Role.resident, region_id=1)
    auth = AuthSession(token_hash="h", user_id=7, csrf_token="c")
    resolved = session_cache.Resolved(auth, user, Principal(7, "u", Role.resident, 1, "/1/", None))
    began = session_cache.generation()
    session_cache._forget("db", 7, None)  # the change commits while the lookup is reading
    session_cache.put("db", "h", resolved, began)
    assert session_cache.get("db", "h") is None
    session_cache.put("db", "h", resolved, session_cache.generation())
    assert session_cache.get("db", "h") is resolved
