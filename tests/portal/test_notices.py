"""Notices: who may publish where, who they reach, urgent ones for the TV banner until read, and the
publisher's view of which households read them."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from tests.support.alarms import Login
from xueliang.audit.models import AuditEvent
from xueliang.core.db import Database
from xueliang.regions.models import Region


async def region_id(app: Any, code: str) -> int:
    db: Database = app.state.ctx.db
    async with db.session() as session:
        return int((await session.scalars(select(Region.id).where(Region.code == code))).one())


async def urgent_ids(c: httpx.AsyncClient) -> list[int]:
    banner = (await c.get("/api/v1/portal/banner")).json()
    return [n["id"] for n in banner["urgent"]]


async def test_urgent_notice_reaches_its_area_until_read_and_publisher_sees_receipts(
    plogin: Login, portal_app: Any
) -> None:
    qingxi = await region_id(portal_app, "513223101")
    op = await plogin("op-qingxi")
    made = await op.post(
        "/api/v1/portal/notices",
        json={"region_id": qingxi, "urgent": True, "title": "山洪预警", "body": "请沿河农户立即转移。"},
    )
    assert made.status_code == 201, made.text
    nid = made.json()["id"]

    inside, outside = await plogin("res-v02"), await plogin("res-v07")  # 河坝村 (清溪镇), 杨柳村 (石门乡)
    assert nid in await urgent_ids(inside)
    assert nid in [n["id"] for n in (await inside.get("/api/v1/portal/notices")).json()["items"]]
    assert nid not in await urgent_ids(outside)
    missing = await outside.get("/api/v1/portal/notices/999999")
    assert (await outside.get(f"/api/v1/portal/notices/{nid}")).json() == missing.json()
    assert (await outside.post(f"/api/v1/portal/notices/{nid}/read")).status_code == 404

    before = (await inside.get("/api/v1/portal/banner")).json()["notices_unread"]
    assert (await inside.post(f"/api/v1/portal/notices/{nid}/read")).status_code == 204
    assert (await inside.post(f"/api/v1/portal/notices/{nid}/read")).status_code == 204  # idempotent
    assert nid not in await urgent_ids(inside)
    assert (await inside.get("/api/v1/portal/banner")).json()["notices_unread"] == before - 1
    assert (await inside.get(f"/api/v1/portal/notices/{nid}")).json()["read"] is True

    reads = await op.get(f"/api/v1/portal/notices/{nid}/reads")
    assert reads.status_code == 200, reads.text
    body = reads.json()
    assert body["households_read"] == 1 and body["households_total"] >= 5
    assert [r["username"] for r in body["reads"]] == ["res-v02"] and body["reads"][0]["household_code"]
    managed = (await op.get("/api/v1/portal/notices/managed")).json()["items"]
    assert next(n for n in managed if n["id"] == nid)["households_read"] == 1

    # receipts name households: only the publishing side of the area reads them, and it is audited
    for other in ("op-shimen", "res-v02", "duty-v01"):
        c = await plogin(other)
        r = await c.get(f"/api/v1/portal/notices/{nid}/reads")
        assert r.status_code == 404 and r.json()["message"] == "notice not found", other
    db: Database = portal_app.state.ctx.db
    async with db.session() as session:
        audited = await session.scalars(
            select(AuditEvent.action).where(
                AuditEvent.target_type == "portal_notice", AuditEvent.target_id == str(nid)
            )
        )
        assert {"portal.notice.publish", "portal.notice.reads"} <= set(audited)

    withdrawn = await op.post(f"/api/v1/portal/notices/{nid}/withdraw")
    assert withdrawn.status_code == 200 and withdrawn.json()["withdrawn"] is True
    assert (await inside.get(f"/api/v1/portal/notices/{nid}")).status_code == 404


async def test_publishers_publish_only_to_their_own_area(plogin: Login, portal_app: Any) -> None:
    qingxi, shangping = await region_id(portal_app, "513223101"), await region_id(portal_app, "513223101201")
    shimen_village = await region_id(portal_app, "513223102201")
    notice = {"title": "通知", "body": "正文"}
    op_shimen, duty = await plogin("op-shimen"), await plogin("duty-v01")  # duty-v01: 上坪村
    r = await op_shimen.post("/api/v1/portal/notices", json={**notice, "region_id": qingxi})
    assert r.status_code == 404 and r.json()["message"] == "region not found"
    assert (
        await duty.post("/api/v1/portal/notices", json={**notice, "region_id": qingxi})
    ).status_code == 404
    assert (
        await duty.post("/api/v1/portal/notices", json={**notice, "region_id": shimen_village})
    ).status_code == 404
    ok = await duty.post("/api/v1/portal/notices", json={**notice, "region_id": shangping})
    assert ok.status_code == 201
    res_shangping, res_heba = await plogin("res-v01"), await plogin("res-v02")
    mine = (await res_shangping.get("/api/v1/portal/notices")).json()["items"]
    assert ok.json()["id"] in [n["id"] for n in mine]
    assert (await res_heba.get(f"/api/v1/portal/notices/{ok.json()['id']}")).status_code == 404
    for role in ("res-v01", "gw-01", "editor"):
        c = await plogin(role)
        r = await c.post("/api/v1/portal/notices", json={**notice, "region_id": shangping})
        assert r.status_code == 403, role
