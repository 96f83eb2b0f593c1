"""The API's front door over the real app: login, the caller's identity, the published OpenAPI."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx


async def test_login_and_me(login: Callable[..., Awaitable[httpx.AsyncClient]]) -> None:
    c = await login("op-qingxi")
    r = await c.get("/api/v1/me")
    assert r.status_code == 200
    body = r.json()
    assert body["role"] == "operator" and body["region_code"] == "513223101"
    assert "view_live" in body["permissions"]


async def test_wrong_password_is_401_with_code(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/auth/login", json={"username": "op-qingxi", "password": "nope-nope"})
    assert r.status_code == 401
    assert r.json()["code"] == "bad_credentials"


async def test_openapi_published(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/v1/openapi.json")).json()
    assert "/api/v1/cameras/{camera_id}/open" in spec["paths"]
