"""The GB device admin API in the policy matrix style: who sees which devices (expectations from the
demo county's region codes, not from the policy), out of scope answered exactly like missing, bad
input 4xx, every change audited; a device's own password wins over the shared one at REGISTER."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import select

from tests.gb28181.device import FakeDevice
from tests.gb28181.support import DOMAIN, PLATFORM_ID, SHARED, admin_client, platform
from xueliang.audit.models import AuditEvent
from xueliang.core.context import AppContext
from xueliang.regions.models import Region

UNBOUND, QINGXI, SHIMEN = "51322310001180000101", "51322310001180000102", "51322310201180000103"
# username -> the devices it lists (None: the role may not use the API at all)
EXPECTED: dict[str, set[str] | None] = {
    "admin": {UNBOUND, QINGXI, SHIMEN},
    "op-qingxi": {QINGXI},
    "op-shimen": {SHIMEN},
    "duty-v01": None,
    "gw-03": None,
    "auditor": None,
    "res-v01": None,
}


async def region_id(app: FastAPI, code: str) -> int:
    ctx: AppContext = app.state.ctx
    async with ctx.db.session() as session:
        return int((await session.scalars(select(Region.id).where(Region.code == code))).one())


async def test_device_api_matrix_scope_and_per_device_password(gb_app: FastAPI) -> None:
    v01, v06 = await region_id(gb_app, "513223101201"), await region_id(gb_app, "513223102201")
    ids: dict[str, int] = {}
    async with admin_client(gb_app) as admin:
        for device_id, region in ((UNBOUND, None), (QINGXI, v01), (SHIMEN, v06)):
            r = await admin.post(
                "/api/v1/gb28181/devices", json={"device_id": device_id, "region_id": region}
            )
            assert r.status_code == 201, r.text
            ids[device_id] = r.json()["id"]
        assert (await admin.post("/api/v1/gb28181/devices", json={"device_id": QINGXI})).status_code == 409
        assert (await admin.post("/api/v1/gb28181/devices", json={"device_id": "123"})).status_code == 422
        assert (await admin.get(f"/api/v1/gb28181/devices/{2**31}")).status_code == 422
        for bad in ({"region_id": 0}, {"region_id": 2**31}, {}):
            r = await admin.put(f"/api/v1/gb28181/devices/{ids[UNBOUND]}/region", json=bad)
            assert r.status_code == 422 and "code" in r.json()

    for username, expected in EXPECTED.items():
        async with admin_client(gb_app, username) as c:
            r = await c.get("/api/v1/gb28181/devices")
            if expected is None:
                assert r.status_code == 403, username
                assert (await c.get(f"/api/v1/gb28181/devices/{ids[QINGXI]}")).status_code == 403
                continue
            assert r.status_code == 200, username
            listed = {d["device_id"] for d in r.json()}
            assert expected <= listed and not (listed & (set(ids) - expected)), username
            missing = await c.get("/api/v1/gb28181/devices/999999")
            for device_id, pk in ids.items():
                got = await c.get(f"/api/v1/gb28181/devices/{pk}")
                if device_id in expected:
                    assert got.status_code == 200
                else:  # out of scope: exactly like a missing one
                    assert (got.status_code, got.json()) == (404, missing.json()), (username, device_id)
                    put = await c.put(f"/api/v1/gb28181/devices/{pk}/password", json={"password": "x" * 12})
                    assert (put.status_code, put.json()) == (404, missing.json())

    async with admin_client(gb_app, "op-qingxi") as op:
        pk = ids[QINGXI]
        other_town = await op.put(f"/api/v1/gb28181/devices/{pk}/region", json={"region_id": v06})
        assert other_town.status_code == 422  # a region outside the operator's scope
        township = await region_id(gb_app, "513223101")
        assert (
            await op.put(f"/api/v1/gb28181/devices/{pk}/region", json={"region_id": township})
        ).status_code == 422
        assert (
            await op.post("/api/v1/gb28181/devices", json={"device_id": "51322310001180000109"})
        ).status_code == 422
        assert (
            await op.put(f"/api/v1/gb28181/devices/{pk}/password", json={"password": "short"})
        ).status_code == 422
        own = "own-password-102"
        assert (
            await op.put(f"/api/v1/gb28181/devices/{pk}/password", json={"password": own})
        ).status_code == 204
        assert (await op.get(f"/api/v1/gb28181/devices/{pk}")).json()["has_password"] is True

    ctx: AppContext = gb_app.state.ctx
    async with ctx.db.session() as session:
        actions = set(
            (
                await session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("gb28181.%")))
            ).all()
        )
    assert {"gb28181.device.create", "gb28181.device.password"} <= actions

    dev = await FakeDevice(QINGXI, PLATFORM_ID, DOMAIN, platform(gb_app).port).open()
    dev.answer_queries = False
    try:
        assert (await dev.register(SHARED)).status == 403  # its own password replaces the shared one
        assert (await dev.register(own)).status == 200
        for _ in range(4):
            assert (await dev.register("guess-" + own)).reason == "Wrong password"
        assert (await dev.register(own)).reason == "Too many failures"  # 5 wrong in a minute: blocked
    finally:
        dev.close()
