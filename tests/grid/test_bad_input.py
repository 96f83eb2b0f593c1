"""Bad input is a clear 4xx with a message, and nothing is half-stored: photos too large or not
images, routes with one point or outside the village, visits for someone else's person; and the
checkpoint QR sheet and a real photo go through."""

from __future__ import annotations

import io
import uuid
from typing import Any

from fastapi import FastAPI
from PIL import Image
from sqlalchemy import func, select
from tests.grid.conftest import local
from tests.support.alarms import Login, ctx_of

from xueliang.grid.models import IncidentPhoto, PatrolRoute
from xueliang.regions.models import Place

API = "/api/v1/grid"


def png(size: int = 32) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (size, size), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


async def photo_count(app: FastAPI) -> int:
    async with ctx_of(app).db.read_session() as s:
        return int((await s.execute(select(func.count()).select_from(IncidentPhoto))).scalar_one())


async def test_photos(gapp: FastAPI, glogin: Login) -> None:
    gw = await glogin("gw-05")
    r = await gw.post(
        f"{API}/incidents",
        json={
            "uuid": str(uuid.uuid4()),
            "category": "fire_hazard",
            "text": "柴堆",
            "at": local().isoformat(),
        },
    )
    assert r.status_code == 201, r.text
    inc = r.json()["id"]
    before = await photo_count(gapp)

    big = png() + b"\0" * (11 * 1024 * 1024)  # an image, but 11 MB: refused before it is read
    r = await gw.post(f"{API}/incidents/{inc}/photos", files={"file": ("big.png", big, "image/png")})
    assert r.status_code == 413 and r.json()["code"] == "too_large" and "too large" in r.json()["message"]
    just_over = png() + b"\0" * (10 * 1024 * 1024)  # within the request limit, over the photo's 10 MB
    r = await gw.post(f"{API}/incidents/{inc}/photos", files={"file": ("big.png", just_over, "image/png")})
    assert r.status_code == 413 and r.json()["code"] == "photo_too_large" and "MB" in r.json()["message"]
    fake = b"%PDF-1.4 not an image at all" * 10
    r = await gw.post(f"{API}/incidents/{inc}/photos", files={"file": ("photo.jpg", fake, "image/jpeg")})
    assert r.status_code == 400 and r.json()["code"] == "not_an_image"
    truncated = png()[:40]
    r = await gw.post(f"{API}/incidents/{inc}/photos", files={"file": ("cut.png", truncated, "image/png")})
    assert r.status_code == 400 and r.json()["code"] == "not_an_image"
    assert await photo_count(gapp) == before
    assert not list((ctx_of(gapp).settings.data_dir / "grid" / "photos").glob(f"{inc}/*"))

    good = await gw.post(f"{API}/incidents/{inc}/photos", files={"file": ("ok.png", png(), "image/png")})
    assert good.status_code == 201 and good.json()["content_type"] == "image/png"
    photo = good.json()["id"]
    shown = await gw.get(f"{API}/incidents/{inc}/photos/{photo}")
    assert shown.status_code == 200 and shown.content == png()
    op = await glogin("op-qingxi")  # staff of the village's township
    assert (await op.get(f"{API}/incidents/{inc}/photos/{photo}")).status_code == 200
    for outsider in ("op-shimen", "gw-01", "res-v05", "auditor"):
        c = await glogin(outsider)
        r = await c.get(f"{API}/incidents/{inc}/photos/{photo}")
        assert r.status_code == 404 and r.json()["code"] == "not_found", outsider


async def route_body(c: Any, village_id: int) -> dict[str, Any]:
    routes = (await c.get(f"{API}/routes", params={"region_id": village_id})).json()
    r = routes[0]
    return {
        "region_id": village_id,
        "name": "新路线",
        "line": r["line"],
        "days": [1, 3, 5],
        "window_start": "09:00",
        "window_end": "17:00",
        "worker_id": r["worker_id"],
        "checkpoints": [{k: c[k] for k in ("name", "lat", "lon", "radius_m")} for c in r["checkpoints"][:3]],
    }


async def route_count(app: FastAPI) -> int:
    async with ctx_of(app).db.read_session() as s:
        return int((await s.execute(select(func.count()).select_from(PatrolRoute))).scalar_one())


async def test_route_geometry_and_qr_sheet(gapp: FastAPI, glogin: Login) -> None:
    duty = await glogin("duty-v01")
    mine = (await duty.get(f"{API}/routes")).json()
    village = mine[0]["region_id"]
    good = await route_body(duty, village)
    before = await route_count(gapp)

    one_point = good | {"line": good["line"][:1]}
    r = await duty.post(f"{API}/routes", json=one_point)
    assert r.status_code == 400 and r.json()["code"] == "too_few_points", r.text
    far_lon, far_lat = good["line"][0][0] + 0.05, good["line"][0][1]  # about 5 km east
    outside = good | {"line": [*good["line"], [far_lon, far_lat]]}
    r = await duty.post(f"{API}/routes", json=outside)
    assert (
        r.status_code == 400 and r.json()["code"] == "outside_village" and "line point" in r.json()["message"]
    )
    cp_out = good | {"checkpoints": [*good["checkpoints"], {"name": "远处", "lat": far_lat, "lon": far_lon}]}
    r = await duty.post(f"{API}/routes", json=cp_out)
    assert r.status_code == 400 and r.json()["code"] == "outside_village" and "远处" in r.json()["message"]
    async with ctx_of(gapp).db.read_session() as s:
        elsewhere = (await s.scalars(select(Place.id).where(Place.region_id != village).limit(1))).one()
    foreign = [{**good["checkpoints"][0], "place_id": elsewhere}]
    r = await duty.post(f"{API}/routes", json=good | {"checkpoints": foreign})
    assert r.status_code == 400 and r.json()["code"] == "bad_place"
    r = await duty.post(f"{API}/routes", json=good | {"window_start": "25:00"})
    assert r.status_code == 422
    assert await route_count(gapp) == before  # nothing stored

    made = await duty.post(f"{API}/routes", json=good)
    assert made.status_code == 201, made.text
    route = made.json()
    assert len(route["checkpoints"]) == 3 and route["days"] == [1, 3, 5]
    sheet = await duty.get(f"{API}/routes/{route['id']}/qr.png")
    assert sheet.status_code == 200 and sheet.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(sheet.content)).size[0] >= 800

    keep = route["checkpoints"][0]
    edited = good | {
        "checkpoints": [{"id": keep["id"], "name": "改名", "lat": keep["lat"], "lon": keep["lon"]}]
    }
    r = await duty.put(f"{API}/routes/{route['id']}", json=edited)
    assert r.status_code == 200 and [c["id"] for c in r.json()["checkpoints"]] == [keep["id"]]
    assert (await duty.delete(f"{API}/routes/{route['id']}")).status_code == 204
    assert (await duty.get(f"{API}/routes/{route['id']}")).status_code == 404

    other = await glogin("duty-v02")  # another village's officer: the village is not theirs
    r = await other.post(f"{API}/routes", json=good)
    assert r.status_code == 404 and r.json()["code"] == "not_found"


async def test_visit_for_someone_elses_person(glogin: Login) -> None:
    gw1, gw2 = await glogin("gw-01"), await glogin("gw-02")
    person = (await gw1.get(f"{API}/today")).json()["visits"][0]["person"]
    visit = {
        "uuid": str(uuid.uuid4()),
        "person_id": person["id"],
        "at": local().isoformat(),
        "outcome": "seen",
    }
    r = await gw2.post(f"{API}/visits", json=visit)
    assert r.status_code == 404 and r.json() == {"code": "not_found", "message": "person not found"}
    r = await gw1.post(f"{API}/visits", json=visit | {"outcome": "asleep"})
    assert r.status_code == 422
    r = await gw1.post(f"{API}/visits", json=visit)
    assert r.status_code == 201 and r.json()["late"] is False
