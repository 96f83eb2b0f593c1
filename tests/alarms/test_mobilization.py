"""Village mobilization: the default plan from the exits, activation, "in position", stand-down."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy import select
from tests.support.alarms import Login, ctx_of, new_uuid

from xueliang.core.clock import ManualClock
from xueliang.regions.models import Region

API = "/api/v1/alarms"


async def test_four_gates(alarm_app: FastAPI, alogin: Login, clock: ManualClock) -> None:
    async with ctx_of(alarm_app).db.session() as s:
        village = (await s.scalars(select(Region).where(Region.code == "513223101201"))).one()
    op, duty = await alogin("op-qingxi"), await alogin("duty-v01")
    plan = (await duty.get(f"{API}/plans/{village.id}")).json()
    assert [p["kind"] for p in plan["points"]] == ["exit"] * 4
    assigned = [u for p in plan["points"] for u in p["assignees"]]
    assert len(assigned) == 3  # two volunteers and the grid worker spread over the exits
    assert (await (await alogin("op-shimen")).get(f"{API}/plans/{village.id}")).status_code == 404

    points = plan["points"] + [
        {
            "kind": "control_line",
            "name": "bridge road",
            "lat": 31.73,
            "lon": 103.82,
            "line": [[103.82, 31.73], [103.821, 31.731]],
            "assignees": [assigned[0]],
        },
    ]
    r = await op.put(f"{API}/plans/{village.id}", json={"points": points})
    assert r.status_code == 200 and len(r.json()["points"]) == 5
    bad = [*points[:1], {**points[1], "assignees": [1]}]  # user 1 is the county admin, not a guard here
    assert (await op.put(f"{API}/plans/{village.id}", json={"points": bad})).status_code == 422

    res = await alogin("res-v01")
    alarm = (await res.post(API, json={"uuid": new_uuid(), "source": "tv"})).json()["alarm"]
    assert (await res.post(f"{API}/{alarm['id']}/mobilize")).status_code == 403
    mob = await op.post(f"{API}/{alarm['id']}/mobilize")
    assert mob.status_code == 201, mob.text
    assert mob.json()["points_total"] == 4 and mob.json()["points_manned"] == 0
    assert (await op.post(f"{API}/{alarm['id']}/mobilize")).status_code == 409

    vol = await alogin("vol-v01-1")
    mine = (await vol.get(f"{API}/tasks/mine")).json()
    assert mine and all(t["alarm_id"] == alarm["id"] and t["state"] == "assigned" for t in mine)
    other = await alogin("vol-v01-2")
    assert (await other.post(f"{API}/tasks/{mine[0]['id']}/in-position")).status_code == 404
    clock.advance(90)
    done = await vol.post(f"{API}/tasks/{mine[0]['id']}/in-position")
    assert done.status_code == 200 and done.json()["state"] == "in_position"
    assert (await vol.post(f"{API}/tasks/{mine[0]['id']}/in-position")).status_code == 200  # harmless repeat
    seen = (await op.get(f"{API}/{alarm['id']}/mobilization")).json()
    assert seen["points_manned"] == 1
    manned = next(t for t in seen["tasks"] if t["state"] == "in_position")
    assert manned["in_position_at"] and manned["point_name"]

    down = await op.post(f"{API}/{alarm['id']}/stand-down")
    assert down.status_code == 200 and {t["state"] for t in down.json()["tasks"]} == {"closed"}
    assert (await vol.get(f"{API}/tasks/mine")).json() == []
    assert (await vol.post(f"{API}/tasks/{mine[0]['id']}/in-position")).status_code == 409
    assert (await op.post(f"{API}/{alarm['id']}/stand-down")).status_code == 409
    events = [e["action"] for e in (await op.get(f"{API}/{alarm['id']}")).json()["events"]]
    assert events[-2:] == ["mobilized", "stood_down"]
