"""The REST workflow: raise, retry, coalesce, scope, transitions, the race to acknowledge, records."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import func, select
from tests.support.alarms import Login, ctx_of, new_uuid

from xueliang.alarms.flows import raise_technical_alarm
from xueliang.alarms.models import Alarm, AlarmPress
from xueliang.audit.models import AuditEvent
from xueliang.cameras.models import Camera
from xueliang.core.clock import ManualClock
from xueliang.regions.models import Region

API = "/api/v1/alarms"


async def _raise(c: object, **body: object) -> dict[str, object]:
    import httpx

    assert isinstance(c, httpx.AsyncClient)
    r = await c.post(API, json={"uuid": new_uuid(), "source": "tv", **body})
    assert r.status_code in (200, 201), r.text
    data: dict[str, object] = r.json()
    return data


async def test_press_retry_and_flood_make_one_alarm(alarm_app: FastAPI, alogin: Login) -> None:
    res = await alogin("res-v03")
    key = new_uuid()
    first = await res.post(API, json={"uuid": key, "source": "tv"})
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["created"] and not body["duplicate"]
    alarm = body["alarm"]
    assert alarm["status"] == "received" and "household_phone" not in alarm  # the sender's view
    again = await res.post(API, json={"uuid": key.upper(), "source": "tv"})
    assert (
        again.status_code == 200 and again.json()["duplicate"] and again.json()["alarm"]["id"] == alarm["id"]
    )
    flood = [await res.post(API, json={"uuid": new_uuid(), "source": "tv"}) for _ in range(5)]
    assert {r.status_code for r in flood} == {200}
    assert {r.json()["alarm"]["id"] for r in flood} == {alarm["id"]}
    assert flood[-1].json()["alarm"]["press_count"] == 6
    async with ctx_of(alarm_app).db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Alarm).where(Alarm.id == alarm["id"])) == 1
        assert await s.scalar(select(func.count()).where(AlarmPress.alarm_id == alarm["id"])) == 6


async def test_operator_sees_routing_and_handles_it(
    alarm_app: FastAPI, alogin: Login, clock: ManualClock
) -> None:
    res = await alogin("res-v02")
    op = await alogin("op-qingxi")
    raised = (await _raise(res))["alarm"]
    assert isinstance(raised, dict)
    alarm_id = raised["id"]
    listed = (await op.get(API, params={"open": True})).json()
    mine = next(a for a in listed if a["id"] == alarm_id)
    assert mine["station_name"] == "清溪镇" and mine["household_code"] and mine["region_name"] == "河坝村"
    assert mine["cameras"] and all(c["distance_m"] <= 800 for c in mine["cameras"])
    assert (await op.post(f"{API}/{alarm_id}/resolve")).status_code == 409  # must acknowledge first
    clock.advance(20)
    ack = await op.post(f"{API}/{alarm_id}/acknowledge", json={"note": "calling back"})
    assert ack.status_code == 200 and ack.json()["state"] == "acknowledged"
    assert (await res.get(f"{API}/{alarm_id}")).json()["status"] == "in_progress"
    assert (await op.post(f"{API}/{alarm_id}/on-scene")).status_code == 409
    r = await op.post(f"{API}/{alarm_id}/dispatch", json={"to": "patrol 2", "note": "two officers"})
    assert r.status_code == 200 and r.json()["dispatched_to"] == "patrol 2"
    assert (await op.post(f"{API}/{alarm_id}/on-scene")).json()["state"] == "on_scene"
    done = await op.post(f"{API}/{alarm_id}/resolve", json={"note": "neighbour dispute, settled"})
    assert done.json()["state"] == "resolved"
    assert (await op.post(f"{API}/{alarm_id}/false-alarm")).status_code == 409
    detail = (await op.get(f"{API}/{alarm_id}")).json()
    assert [e["action"] for e in detail["events"]] == [
        "raised",
        "acknowledged",
        "dispatched",
        "on_scene",
        "resolved",
    ]
    assert detail["events"][1]["note"] == "calling back"
    async with ctx_of(alarm_app).db.session() as s:
        actions = set(
            (await s.scalars(select(AuditEvent.action).where(AuditEvent.target_id == str(alarm_id)))).all()
        )
    assert {
        "alarm.raise",
        "alarm.acknowledge",
        "alarm.dispatch",
        "alarm.on_scene",
        "alarm.resolve",
    } <= actions
    # closed: the household's next press opens a new alarm
    assert (await _raise(res))["created"] is True


async def test_scope(alarm_app: FastAPI, alogin: Login) -> None:
    res = await alogin("res-v04")
    raised = (await _raise(res))["alarm"]
    assert isinstance(raised, dict)
    alarm_id = raised["id"]
    for other in ("res-v05", "op-shimen", "gw-01", "vol-v04-1", "auditor", "duty-v05"):
        c = await alogin(other)
        assert (await c.get(f"{API}/{alarm_id}")).status_code == 404, other
        assert alarm_id not in {a["id"] for a in (await c.get(API)).json()}, other
    shimen = await alogin("op-shimen")
    for action in ("acknowledge", "resolve"):
        assert (await shimen.post(f"{API}/{alarm_id}/{action}")).status_code == 404
    assert (await res.post(f"{API}/{alarm_id}/acknowledge")).status_code == 403  # may read, not act
    for staff in ("duty-v04", "admin", "op-qingxi"):
        c = await alogin(staff)
        assert (await c.get(f"{API}/{alarm_id}")).json()["household_code"], staff
    other_household = await res.post(API, json={"uuid": new_uuid(), "household_id": 1})
    assert other_household.json()["alarm"]["id"] == alarm_id  # a resident raises for their own household only
    assert (
        await shimen.post(API, json={"uuid": new_uuid(), "household_id": raised["id"] + 10_000})
    ).status_code == 404
    auditor = await alogin("auditor")
    assert (await auditor.post(API, json={"uuid": new_uuid()})).status_code == 403


async def test_two_operators_acknowledge_at_once(alarm_app: FastAPI, alogin: Login) -> None:
    res = await alogin("res-v01")
    first, second = await alogin("op-qingxi"), await alogin("duty-v01")
    for _ in range(3):
        raised = await _raise(res)
        alarm = raised["alarm"]
        assert isinstance(alarm, dict)
        a, b = await asyncio.gather(
            first.post(f"{API}/{alarm['id']}/acknowledge"), second.post(f"{API}/{alarm['id']}/acknowledge")
        )
        assert sorted([a.status_code, b.status_code]) == [200, 409], (a.text, b.text)
        loser = a if a.status_code == 409 else b
        assert loser.json()["code"] == "illegal_transition"
        await first.post(f"{API}/{alarm['id']}/false-alarm", json={"note": "test"})


async def test_staff_reports_are_separate_alarms(alogin: Login) -> None:
    duty = await alogin("duty-v06")
    a = await _raise(duty, source="pc", lat=31.65, lon=103.9, note="fire at the barn")
    b = await _raise(duty, source="pc", note="fallen tree on the road")
    assert a["created"] and b["created"]
    assert isinstance(a["alarm"], dict) and isinstance(b["alarm"], dict)
    assert a["alarm"]["id"] != b["alarm"]["id"] and a["alarm"]["station_name"] == "石门乡"
    vol = await alogin("vol-v06-1")
    c, d = await _raise(vol, source="app"), await _raise(vol, source="app")
    assert c["created"] and not d["created"]  # a phone button pressed twice is one alarm


async def test_records_stats_and_csv(alarm_app: FastAPI, alogin: Login, clock: ManualClock) -> None:
    res, op = await alogin("res-v07"), await alogin("op-shimen")
    taken = []
    for delay in (10, 40, 70):
        alarm = (await _raise(res))["alarm"]
        assert isinstance(alarm, dict)
        clock.advance(delay)
        await op.post(f"{API}/{alarm['id']}/acknowledge")
        end = "false-alarm" if delay == 70 else "resolve"
        assert (await op.post(f"{API}/{alarm['id']}/{end}")).status_code == 200
        taken.append(alarm["id"])
    since = (clock.now() + timedelta(seconds=1)).isoformat()
    rows = (await op.get(f"{API}/stats")).json()
    shimen = next(r for r in rows if r["station_name"] == "石门乡")
    assert shimen["alarms"] >= 3 and shimen["tta_p50_s"] is not None
    everything = (await op.get(f"{API}/stats", params={"until": "2100-01-01T00:00:00Z"})).json()
    assert everything == rows
    assert (await op.get(f"{API}/stats", params={"since": since})).json() == []
    r = await op.get(f"{API}/export.csv", params={"state": "false_alarm"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(r.text.lstrip("\ufeff"))))
    row = next(t for t in table if t["id"] == str(taken[2]))
    assert row["state"] == "false_alarm" and float(row["tta_s"]) == 70.0 and row["station"] == "石门乡"
    assert (await (await alogin("res-v07")).get(f"{API}/export.csv")).status_code == 403


async def test_station_config_and_technical_alarm(alarm_app: FastAPI, alogin: Login) -> None:
    ctx = ctx_of(alarm_app)
    async with ctx.db.session() as s:
        shimen = (await s.scalars(select(Region).where(Region.code == "513223102"))).one()
        qingxi = (await s.scalars(select(Region).where(Region.code == "513223101"))).one()
        camera = (
            await s.scalars(
                select(Camera)
                .join(Region, Region.id == Camera.region_id)
                .where(Region.code == "513223102203")
            )
        ).first()
    assert camera is not None
    op = await alogin("op-shimen")
    assert (
        await op.put(f"{API}/stations/{qingxi.id}/config", json={"escalate_after_s": [30]})
    ).status_code == 404
    assert (
        await op.put(f"{API}/stations/{shimen.id}/config", json={"escalate_after_s": [90, 30]})
    ).status_code == 422
    r = await op.put(f"{API}/stations/{shimen.id}/config", json={"escalate_after_s": [45, 120]})
    assert r.status_code == 200 and (await op.get(f"{API}/stations/{shimen.id}/config")).json()[
        "escalate_after_s"
    ] == [45, 120]
    first = await raise_technical_alarm(ctx, camera.id, "no video for 30 s")
    again = await raise_technical_alarm(ctx, camera.id, "still no video")
    assert first.created and not again.created and again.alarm.id == first.alarm.id
    shown = (await op.get(f"{API}/{first.alarm.id}")).json()
    assert shown["kind"] == "camera_offline" and shown["camera_id"] == camera.id and shown["press_count"] == 2
    assert (shown["ack_due_at"] is not None) and shown["station_region_id"] == shimen.id
    qx = await alogin("op-qingxi")
    assert (await qx.get(f"{API}/{first.alarm.id}")).status_code == 404
