"""The access matrix of the portal routes: what residents, department editors, county editors and other
staff may read and change. Out of scope answers exactly like missing (404, same body)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.support.alarms import Login
from xueliang.audit.models import AuditEvent
from xueliang.core.clock import ManualClock
from xueliang.core.db import Database

MISSING = 999_999


async def dept_id(c: httpx.AsyncClient, name: str) -> int:
    items = (await c.get("/api/v1/portal/departments", params={"q": name})).json()["items"]
    return int(items[0]["id"])


async def draft_id(c: httpx.AsyncClient) -> int:
    """The seed's one draft: the audit bureau's information request."""
    items = (
        await c.get("/api/v1/portal/admin/services", params={"published": "false", "q": "审计局"})
    ).json()
    return int(items["items"][0]["id"])


def same_missing(a: httpx.Response, b: httpx.Response) -> None:
    assert a.status_code == b.status_code == 404, (a.text, b.text)
    assert a.json() == b.json()


async def test_residents_read_published_content_only(plogin: Login) -> None:
    admin, resident = await plogin("admin"), await plogin("res-v04")
    draft = await draft_id(admin)
    assert (await admin.get(f"/api/v1/portal/services/{draft}")).status_code == 200
    same_missing(
        await resident.get(f"/api/v1/portal/services/{draft}"),
        await resident.get(f"/api/v1/portal/services/{MISSING}"),
    )
    listed = (await resident.get("/api/v1/portal/services", params={"limit": 200, "q": "审计局"})).json()
    assert draft not in [s["id"] for s in listed["items"]]
    total = (await resident.get("/api/v1/portal/services", params={"limit": 1})).json()["total"]
    assert total >= 300
    directory = (await resident.get("/api/v1/portal/departments", params={"limit": 100})).json()
    assert directory["total"] == 60 and all(d["phones"] and d["hours"] for d in directory["items"])
    births = (
        await resident.get("/api/v1/portal/services", params={"category": "birth", "limit": 200})
    ).json()
    assert births["total"] > 5 and all("birth" in s["categories"] for s in births["items"])
    counts = {c["code"]: c["count"] for c in (await resident.get("/api/v1/portal/categories")).json()}
    assert counts["birth"] == births["total"]
    assert (await resident.get("/api/v1/portal/services", params={"category": "x"})).status_code == 422
    for path in (
        "/api/v1/portal/admin/services",
        "/api/v1/portal/admin/jobs",
        f"/api/v1/portal/admin/editors/{MISSING}",
        "/api/v1/portal/notices/managed",
    ):
        r = await resident.get(path)
        assert r.status_code == 403 and r.json()["code"] == "forbidden", path
    for method, path, body in (
        ("POST", "/api/v1/portal/admin/services", {"code": "X", "department_id": 1, "title": "x"}),
        ("PATCH", f"/api/v1/portal/admin/services/{draft}", {"title": "x"}),
        ("POST", f"/api/v1/portal/admin/services/{draft}/publish", None),
        (
            "POST",
            "/api/v1/portal/admin/prices",
            {"day": "2026-12-01", "items": [{"product_id": 1, "market_id": 1, "price": 1}]},
        ),
        ("POST", "/api/v1/portal/admin/import/services?format=json", None),
        ("POST", "/api/v1/portal/notices", {"region_id": 1, "title": "x"}),
    ):
        r = await resident.request(method, path, json=body)
        assert r.status_code == 403, (path, r.text)


async def test_department_editor_touches_only_their_department(plogin: Login, portal_app: Any) -> None:
    editor, admin = await plogin("editor-rsj"), await plogin("admin")
    rsj, mzj = await dept_id(admin, "人力资源和社会保障局"), await dept_id(admin, "县民政局")
    mine = (await editor.get("/api/v1/portal/admin/services", params={"limit": 200})).json()
    assert mine["total"] > 0 and {s["department_id"] for s in mine["items"]} == {rsj}
    other = (await admin.get("/api/v1/portal/services", params={"department_id": mzj, "limit": 1})).json()[
        "items"
    ][0]

    same_missing(
        await editor.patch(f"/api/v1/portal/admin/services/{other['id']}", json={"title": "改"}),
        await editor.patch(f"/api/v1/portal/admin/services/{MISSING}", json={"title": "改"}),
    )
    same_missing(
        await editor.post(f"/api/v1/portal/admin/services/{other['id']}/unpublish"),
        await editor.post(f"/api/v1/portal/admin/services/{MISSING}/unpublish"),
    )
    same_missing(
        await editor.patch(f"/api/v1/portal/admin/departments/{mzj}", json={"hours": "x"}),
        await editor.patch(f"/api/v1/portal/admin/departments/{MISSING}", json={"hours": "x"}),
    )
    new = {"code": "T-RSJ-1", "title": "灵活就业人员社保补贴申领", "categories": ["employment"]}
    refused = await editor.post("/api/v1/portal/admin/services", json={**new, "department_id": mzj})
    assert refused.status_code == 404 and refused.json()["message"] == "department not found"
    made = await editor.post("/api/v1/portal/admin/services", json={**new, "department_id": rsj})
    assert made.status_code == 201 and made.json()["published"] is False
    sid = made.json()["id"]
    resident = await plogin("res-v05")
    assert (await resident.get(f"/api/v1/portal/services/{sid}")).status_code == 404
    assert (await editor.post(f"/api/v1/portal/admin/services/{sid}/publish")).json()["published"] is True
    assert (await resident.get(f"/api/v1/portal/services/{sid}")).json()["title"] == new["title"]
    patched = await editor.patch(
        f"/api/v1/portal/admin/services/{sid}", json={"fees": "不收费", "materials": ["身份证"]}
    )
    assert patched.status_code == 200 and patched.json()["materials"] == ["身份证"]
    moved = await editor.patch(f"/api/v1/portal/admin/services/{sid}", json={"department_id": mzj})
    assert moved.status_code == 404, "moving a service out of one's departments is refused"
    bad = await editor.patch(f"/api/v1/portal/admin/services/{sid}", json={"categories": ["nonsense"]})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid"
    # prices need the county scope; a job of no department too
    r = await editor.post(
        "/api/v1/portal/admin/prices",
        json={"day": "2026-12-01", "items": [{"product_id": 1, "market_id": 1, "price": 1}]},
    )
    assert r.status_code == 422 and r.json()["code"] == "forbidden_scope"

    db: Database = portal_app.state.ctx.db
    async with db.session() as session:
        actions = set(
            await session.scalars(
                select(AuditEvent.action).where(
                    AuditEvent.target_type == "portal_service", AuditEvent.target_id == str(sid)
                )
            )
        )
    assert {"portal.service.create", "portal.service.publish", "portal.service.update"} <= actions


async def test_jobs_filter_and_expire_by_themselves(plogin: Login, clock: ManualClock) -> None:
    resident = await plogin("res-v06")
    cities = (await resident.get("/api/v1/portal/jobs/cities")).json()
    assert len(cities) == 10
    jobs = (await resident.get("/api/v1/portal/jobs", params={"city": "重庆", "type": "SEASONAL"})).json()
    assert jobs["total"] > 0 and {(j["city"], j["type"]) for j in jobs["items"]} == {("重庆", "SEASONAL")}
    assert (await resident.get("/api/v1/portal/jobs", params={"type": "NONSENSE"})).status_code == 422

    admin = await plogin("admin")
    now = clock.now()
    posting = {
        "title": "核桃采收工",
        "employer": "雪梁核桃专业合作社",
        "city": "成都",
        "type": "SEASONAL",
        "salary_min": 150,
        "salary_max": 200,
        "salary_unit": "DAY",
        "date_posted": now.date().isoformat(),
        "valid_through": (now + timedelta(hours=2)).isoformat(),
        "published": True,
    }
    made = await admin.post("/api/v1/portal/admin/jobs", json=posting)
    assert made.status_code == 201, made.text
    jid = made.json()["id"]
    assert (await resident.get(f"/api/v1/portal/jobs/{jid}")).status_code == 200
    clock.advance(3 * 3600)
    assert (await resident.get(f"/api/v1/portal/jobs/{jid}")).status_code == 404
    listed = (await resident.get("/api/v1/portal/jobs", params={"city": "成都", "limit": 200})).json()[
        "items"
    ]
    assert jid not in [j["id"] for j in listed]
    assert (await admin.get(f"/api/v1/portal/jobs/{jid}")).status_code == 200, "editors still see it"
    bad = await admin.post(
        "/api/v1/portal/admin/jobs", json={**posting, "salary_min": 300, "salary_max": 100}
    )
    assert bad.status_code == 422


@pytest.mark.parametrize("username", ["op-qingxi", "auditor", "gw-01"])
async def test_staff_without_the_portal_role_do_not_edit(plogin: Login, username: str) -> None:
    c = await plogin(username)
    assert (await c.get("/api/v1/portal/admin/services")).status_code == 403
    assert (await c.get("/api/v1/portal/services", params={"limit": 1})).status_code == 200


async def test_admin_sets_an_editors_scope(plogin: Login) -> None:
    admin = await plogin("admin")
    users = (await admin.get("/api/v1/users")).json()
    editor = next(u for u in users if u["username"] == "editor-rsj")
    scope = (await admin.get(f"/api/v1/portal/admin/editors/{editor['id']}")).json()
    assert scope["county"] is False and len(scope["department_ids"]) == 1
    resident = next(u for u in users if u["username"] == "res-v01")
    same_missing(
        await admin.get(f"/api/v1/portal/admin/editors/{resident['id']}"),
        await admin.get(f"/api/v1/portal/admin/editors/{MISSING}"),
    )
    editor_client = await plogin("editor-rsj")
    r = await editor_client.put(f"/api/v1/portal/admin/editors/{editor['id']}", json={"county": True})
    assert r.status_code == 403, "an editor does not widen their own scope"
