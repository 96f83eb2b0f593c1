"""The admin console's system page and its data (`GET /api/v1/ops/system`) on a one-process node:
who may read it (county admins; others get a refusal from the API and the page as missing), and what
it reports. The split node's view (processes and cameras from the database) is checked by
tests/ops/test_roles.py against real processes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

API = "/api/v1/ops/system"
Login = Callable[..., Awaitable[httpx.AsyncClient]]


async def test_system_data_for_the_county_admin_only(client: httpx.AsyncClient, login: Login) -> None:
    assert (await client.get(API)).status_code == 401
    admin = await login("admin")
    body = (await admin.get(API)).json()
    assert body["role"] == "all"
    assert body["disk"]["total_bytes"] > 0 and 0 <= body["disk"]["free_bytes"] <= body["disk"]["total_bytes"]
    assert body["machine"]["cpus"] >= 1 and body["machine"]["memory_total_bytes"] > 0
    [proc] = body["processes"]
    assert proc["role"] == "all" and proc["rss_bytes"] > 0 and proc["cpu_percent"] >= 0
    # The test app pulls no camera (media off): every enabled camera is listed as not online.
    offline = body["cameras"]["offline"]
    assert body["cameras"]["enabled"] == len(offline) > 0
    assert {"camera_id", "name", "status", "reason", "owner"} <= set(offline[0])
    assert body["recording"] == {"cameras_recording": 0, "open_gaps": [], "storage_errors": []}
    page = await admin.get("/system")
    assert page.status_code == 200 and 'src="/static/js/system/console.js"' in page.text
    assert "<script>" not in page.text  # no inline script (CSP)
    for username in ("op-qingxi", "res-v01", "auditor"):
        other = await login(username)
        refused = await other.get(API)
        assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
        hidden = await other.get("/system")
        assert hidden.status_code == 404 and hidden.json() == {"code": "not_found", "message": "not found"}
