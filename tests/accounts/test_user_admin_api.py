"""User administration through the API: validation, scope and audit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

Login = Callable[..., Awaitable[httpx.AsyncClient]]


async def test_admin_creates_user_with_checks(login: Login) -> None:
    c = await login("admin")
    ok = await c.post(
        "/api/v1/users",
        json={
            "username": "op-new",
            "password": "long-enough-1",
            "role": "operator",
            "region_code": "513223102",
            "display_name": "新值班员",
        },
    )
    assert ok.status_code == 201, ok.text
    dup = await c.post(
        "/api/v1/users",
        json={
            "username": "op-new",
            "password": "long-enough-1",
            "role": "operator",
            "region_code": "513223102",
        },
    )
    assert dup.status_code == 409 and dup.json()["code"] == "conflict"
    wrong_level = await c.post(
        "/api/v1/users",
        json={
            "username": "res-x",
            "password": "long-enough-1",
            "role": "resident",
            "region_code": "513223102",
        },
    )
    assert wrong_level.status_code == 422 and "village" in wrong_level.json()["message"]
    short = await c.post(
        "/api/v1/users",
        json={"username": "res-y", "password": "short", "role": "resident", "region_code": "513223102201"},
    )
    assert short.status_code == 422
    new = await login("op-new", "long-enough-1")
    cams = (await new.get("/api/v1/cameras")).json()
    assert cams and all(cam["region_code"].startswith("513223102") for cam in cams)
    trail = (await c.get("/api/v1/audit", params={"action": "user.create"})).json()
    assert any(e["detail"]["username"] == "op-new" for e in trail)
