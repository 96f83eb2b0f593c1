"""Sessions, CSRF, rate limits, bearer tokens and rights changes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import make_settings, seed_database
from xueliang.app import create_app

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
            fresh_url, tmp_path, login_max_failures_per_account=3, login_max_failures_per_address=5
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
        # The account is now locked, even with the right password, from any address.
        r = await b.post("/api/v1/auth/login", json={"username": "gw-01", "password": "xueliang-demo"})
        assert r.status_code == 429 and r.json()["code"] == "login_locked"
        # Other accounts are still fine from b ...
        assert (
            await b.post("/api/v1/auth/login", json={"username": "gw-02", "password": "xueliang-demo"})
        ).status_code == 200
        # ... but address a is locked after 5 failures across accounts.
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
