"""The portal's pages (issue 17): /portal and /m/portal for every logged-in user; /portal-admin and its
TV preview only for portal editors, admin and the roles that publish notices, and for everyone else
the same 404 body as a missing page (like /playback for residents); the preview alone may be framed,
by our own pages only. Logged out, every page sends to the login page of its terminal."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from xueliang.core.headers import CSP

Login = Callable[..., Awaitable[httpx.AsyncClient]]
NOT_FOUND = {"code": "not_found", "message": "not found"}


async def test_admin_page_for_editors_and_publishers(login: Login) -> None:
    for username in ("admin", "editor", "editor-rsj", "op-qingxi", "duty-v01"):
        await _admin_pages_open(await login(username))


async def _admin_pages_open(c: httpx.AsyncClient) -> None:
    page = await c.get("/portal-admin")
    assert page.status_code == 200
    assert 'src="/static/js/portal/admin.js"' in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    preview = await c.get("/portal-admin/preview", params={"kind": "service", "id": 1})
    assert preview.status_code == 200
    assert preview.headers["content-security-policy"] == CSP.replace(
        "frame-ancestors 'none'", "frame-ancestors 'self'"
    )
    assert "script-src 'self'" in preview.headers["content-security-policy"]  # still no inline script
    assert preview.headers["x-frame-options"] == "SAMEORIGIN"
    assert "/static/css/tv.css" in preview.text


async def test_admin_page_is_missing_for_other_roles(login: Login) -> None:
    for username in ("res-v01", "gw-01", "vol-v01-1", "auditor"):
        await _admin_pages_missing(await login(username))


async def _admin_pages_missing(c: httpx.AsyncClient) -> None:
    for path in ("/portal-admin", "/portal-admin/preview?kind=service&id=1"):
        r = await c.get(path)
        assert (r.status_code, r.json()) == (404, NOT_FOUND), path
    # The portal itself is for everyone, on the PC and the phone, and the nav says where it is.
    pc = await c.get("/portal")
    assert pc.status_code == 200 and 'src="/static/js/portal/app.js"' in pc.text
    assert 'href="/portal-admin"' not in pc.text
    phone = await c.get("/m/portal")
    assert phone.status_code == 200 and 'src="/static/js/portal/app.js"' in phone.text
    assert "/static/css/mobile.css" in phone.text


async def test_logged_out_goes_to_login(client: httpx.AsyncClient) -> None:
    for path, terminal in (("/portal", "console"), ("/m/portal", "mobile"), ("/portal-admin", "console")):
        r = await client.get(path)
        assert r.status_code == 303
        assert r.headers["location"] == f"/login?terminal={terminal}&next={path}"


async def test_pages_have_no_inline_script(login: Login) -> None:
    c = await login("admin")
    for path in ("/portal", "/m/portal", "/portal-admin", "/portal-admin/preview", "/m"):
        text = (await c.get(path)).text
        scripts = text.count("<script")
        # Only the boot JSON block and script files: no inline code, no on...= handlers.
        assert scripts == text.count('<script type="application/json"') + text.count(
            "<script src="
        ) + text.count('<script type="module" src='), path
        assert " onclick=" not in text and " onload=" not in text, path


async def test_qr_of_an_online_link(login: Login, client: httpx.AsyncClient) -> None:
    link = "https://zwfw.xueliang.example.gov.cn/item/S0001"
    assert (await client.get("/portal/qr.svg", params={"text": link})).status_code == 401
    c = await login("res-v01")
    r = await c.get("/portal/qr.svg", params={"text": link})
    assert r.status_code == 200 and r.headers["content-type"] == "image/svg+xml"
    assert r.text.lstrip().startswith("<svg")
    for bad in ("javascript:alert(1)", "https://x.example/" + "a" * 500, ""):
        r = await c.get("/portal/qr.svg", params={"text": bad})
        assert r.status_code == 422 and r.json()["code"] == "invalid"
