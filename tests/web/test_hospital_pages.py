"""The hospital staff console (issue 17): /hospital for hospital staff and the county admin, the same
404 body as a missing page for every other role (like /playback for residents), the login page when
logged out; staff land there after login; no inline script (the CSP forbids it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from xueliang.seed.demo import DEMO_PASSWORD

Login = Callable[..., Awaitable[httpx.AsyncClient]]
NOT_FOUND = {"code": "not_found", "message": "not found"}


async def test_staff_and_admin_get_the_console(login: Login) -> None:
    for username in ("hs-rmyy", "hs-zyy", "admin"):
        c = await login(username)
        r = await c.get("/hospital")
        assert r.status_code == 200, username
        assert 'src="/static/js/hospital/console.js"' in r.text
        assert 'data-today="' in r.text
        assert 'href="/hospital" class="tab active"' in r.text
    # The console's nav shows the tab to admins (and hospital staff), not to others.
    admin = await login("admin")
    assert 'href="/hospital"' in (await admin.get("/")).text
    op = await login("op-qingxi")
    assert 'href="/hospital"' not in (await op.get("/")).text


async def test_other_roles_get_not_found(login: Login) -> None:
    for username in ("res-v01", "gw-01", "op-qingxi", "duty-v01", "auditor", "editor"):
        c = await login(username)
        r = await c.get("/hospital")
        assert (r.status_code, r.json()) == (404, NOT_FOUND), username


async def test_logged_out_goes_to_login(client: httpx.AsyncClient) -> None:
    r = await client.get("/hospital")
    assert r.status_code == 303
    assert r.headers["location"] == "/login?terminal=console&next=/hospital"


async def test_staff_land_on_hospital(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/auth/login", json={"username": "hs-rmyy", "password": DEMO_PASSWORD})
    assert r.status_code == 200 and r.json()["landing"] == "/hospital"


async def test_no_inline_script(login: Login) -> None:
    text = (await (await login("hs-rmyy")).get("/hospital")).text
    scripts = text.count("<script")
    assert scripts == text.count('<script type="application/json"') + text.count("<script src=") + text.count(
        '<script type="module" src='
    )
    assert " onclick=" not in text and " onload=" not in text and " onsubmit=" not in text
