"""Check-ins: GPS inside and outside the radius, QR codes genuine, forged and with no GPS, and the
offline batch sent twice (no duplicates, the phone's times kept)."""

from __future__ import annotations

import math
import re
import uuid
from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from tests.grid.conftest import local
from tests.support.alarms import Login, ctx_of

from xueliang.grid import qr
from xueliang.grid.models import CheckIn, Incident, Visit

API = "/api/v1/grid"


def metres(message: str) -> int:
    """The distance a refusal names ("you are 181 m from ...")."""
    found = re.search(r"you are (\d+) m", message)
    assert found, message
    return int(found.group(1))


def offset(lat: float, lon: float, north_m: float) -> tuple[float, float]:
    return lat + north_m / 110_540, lon + 0 * math.cos(math.radians(lat))


async def my_route(c: httpx.AsyncClient) -> dict[str, Any]:
    today = (await c.get(f"{API}/today")).json()
    route: dict[str, Any] = today["routes"][0]["route"]
    return route


async def count(app: FastAPI, model: Any, *uuids: str) -> int:
    async with ctx_of(app).db.read_session() as s:
        q = select(func.count()).select_from(model).where(model.uuid.in_(uuids))
        return int((await s.execute(q)).scalar_one())


def body(cp: dict[str, Any], north_m: float | None, **extra: Any) -> dict[str, Any]:
    at = local(0, "09:30").isoformat()
    out: dict[str, Any] = {"uuid": str(uuid.uuid4()), "checkpoint_id": cp["id"], "at": at}
    if north_m is not None:
        out["lat"], out["lon"] = offset(cp["lat"], cp["lon"], north_m)
        out["accuracy_m"] = 8
    return out | extra


async def test_gps_inside_and_outside_the_radius(gapp: FastAPI, glogin: Login) -> None:
    gw = await glogin("gw-01")
    cp = (await my_route(gw))["checkpoints"][0]

    far = body(cp, 180)
    r = await gw.post(f"{API}/checkins", json=far)
    assert r.status_code == 400 and r.json()["code"] == "too_far"
    assert 178 <= metres(r.json()["message"]) <= 183 and "within 50 m" in r.json()["message"]
    assert await count(gapp, CheckIn, far["uuid"]) == 0  # nothing stored

    near = body(cp, 30)
    first = await gw.post(f"{API}/checkins", json=near)
    assert first.status_code == 201, first.text
    assert first.json()["proof"] == "gps" and 29 < first.json()["distance_m"] < 31
    again = await gw.post(f"{API}/checkins", json=near)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["id"] == first.json()["id"]
    assert await count(gapp, CheckIn, near["uuid"]) == 1

    done = {c["id"]: c["done"] for c in (await my_route(gw))["checkpoints"]}
    assert done[cp["id"]] is True

    other = await glogin("gw-02")  # not their checkpoint: as if it did not exist
    r = await other.post(f"{API}/checkins", json=body(cp, 0))
    assert r.status_code == 404 and r.json()["code"] == "not_found"


async def test_qr_genuine_forged_and_without_gps(gapp: FastAPI, glogin: Login) -> None:
    gw = await glogin("gw-03")
    cps = (await my_route(gw))["checkpoints"]
    cp, other_cp = cps[1], cps[2]
    secret = ctx_of(gapp).secret
    genuine = qr.payload(secret, cp["id"])

    forged = f"xl-cp:{cp['id']}:{'0' * 20}"
    r = await gw.post(f"{API}/checkins", json=body(cp, 10, qr=forged))
    assert r.status_code == 400 and r.json()["code"] == "qr_invalid", r.text
    r = await gw.post(f"{API}/checkins", json=body(cp, 10, qr="hello"))
    assert r.status_code == 400 and r.json()["code"] == "qr_invalid"
    r = await gw.post(f"{API}/checkins", json=body(cp, 10, qr=qr.payload(secret, other_cp["id"])))
    assert r.status_code == 400 and r.json()["code"] == "qr_invalid"

    replayed = body(cp, None, qr=genuine)  # a photographed code, scanned with no position
    r = await gw.post(f"{API}/checkins", json=replayed)
    assert r.status_code == 400 and r.json()["code"] == "no_gps"
    r = await gw.post(f"{API}/checkins", json=body(cp, 140, qr=genuine))  # beyond twice the radius
    assert r.status_code == 400 and r.json()["code"] == "too_far"
    assert 138 <= metres(r.json()["message"]) <= 143
    assert await count(gapp, CheckIn, replayed["uuid"]) == 0

    ok = await gw.post(f"{API}/checkins", json=body(cp, 80, qr=genuine))  # QR: within 2 x 50 m
    assert ok.status_code == 201 and ok.json()["proof"] == "qr"


async def test_offline_batch_sent_twice(gapp: FastAPI, glogin: Login) -> None:
    gw = await glogin("gw-04")
    cps = (await my_route(gw))["checkpoints"]
    person = (await gw.get(f"{API}/today")).json()["visits"][0]["person"]
    queued_at = [local(0, "08:10") + timedelta(minutes=7 * n) for n in range(4)]
    items: list[dict[str, Any]] = [
        {**body(cp, 5), "type": "checkin", "at": queued_at[n].isoformat()} for n, cp in enumerate(cps[:2])
    ]
    items.append(
        {
            "type": "visit",
            "uuid": str(uuid.uuid4()),
            "person_id": person["id"],
            "at": queued_at[2].isoformat(),
            "outcome": "seen",
            "wellbeing": "good",
            "needs": ["不会使用一键报警按钮"],
            "lat": person["lat"],
            "lon": person["lon"],
        }
    )
    items.append(
        {
            "type": "incident",
            "uuid": str(uuid.uuid4()),
            "category": "road_traffic",
            "text": "桥面破损",
            "at": queued_at[3].isoformat(),
        }
    )
    items.append({**body(cps[2], 900), "type": "checkin"})  # far: refused alone
    items.append({"type": "visit", "uuid": "not-a-uuid"})

    first = (await gw.post(f"{API}/sync", json={"items": items})).json()["results"]
    assert [r["status"] for r in first] == ["ok", "ok", "ok", "ok", "error", "error"], first
    assert first[4]["code"] == "too_far" and first[5]["code"] == "invalid"
    # the phone words a refused record itself (static/js/grid/errors.js): the catalogue's key and params
    assert first[4]["key"] == "checkin.too_far"
    assert set(first[4]["params"]) == {"distance", "checkpoint", "limit"}
    for _ in range(2):  # the phone did not hear the answer and sends its whole queue again
        again = (await gw.post(f"{API}/sync", json={"items": items})).json()["results"]
        assert [r["status"] for r in again[:4]] == ["duplicate"] * 4
        assert [r["id"] for r in again[:4]] == [r["id"] for r in first[:4]]

    uuids = [i["uuid"] for i in items[:4]]
    assert await count(gapp, CheckIn, *uuids[:2]) == 2
    assert await count(gapp, Visit, uuids[2]) == 1
    assert await count(gapp, Incident, uuids[3]) == 1
    async with ctx_of(gapp).db.read_session() as s:
        kept = {c.uuid: c.at for c in (await s.scalars(select(CheckIn).where(CheckIn.uuid.in_(uuids)))).all()}
        kept |= {v.uuid: v.at for v in (await s.scalars(select(Visit).where(Visit.uuid == uuids[2]))).all()}
        incidents = await s.scalars(select(Incident).where(Incident.uuid == uuids[3]))
        kept |= {i.uuid: i.reported_at for i in incidents.all()}
    assert [kept[u] for u in uuids] == queued_at  # the phone's times, not the upload's
