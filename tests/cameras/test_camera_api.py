"""Camera administration and opening through the API, with validation and audit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

Login = Callable[..., Awaitable[httpx.AsyncClient]]


async def test_admin_camera_lifecycle(login: Login) -> None:
    c = await login("admin")
    regions = {r["code"]: r["id"] for r in (await c.get("/api/v1/regions")).json()}
    body = {
        "gb_id": "51322300001329999001",
        "region_id": regions["513223102203"],
        "name": "白岩村新摄像机",
        "kind": "intersection",
        "lat": 31.66,
        "lon": 103.91,
        "heading": 90,
        "fov_angle": 80,
        "fov_range": 60,
        "public_view": True,
        "stream_url": "rtsp://127.0.0.1:8554/cam/1",
    }
    r = await c.post("/api/v1/cameras", json=body)
    assert r.status_code == 201, r.text
    cam_id = r.json()["id"]
    assert (await c.post("/api/v1/cameras", json=body)).status_code == 409
    bad = await c.patch(f"/api/v1/cameras/{cam_id}", json={"heading": 400})
    assert bad.status_code == 422 and "heading" in bad.json()["message"]
    bad_url = await c.patch(f"/api/v1/cameras/{cam_id}", json={"stream_url": "ftp://x"})
    assert bad_url.status_code == 422
    r = await c.patch(f"/api/v1/cameras/{cam_id}", json={"public_view": False})
    assert r.status_code == 200 and r.json()["public_view"] is False
    township = await c.post(
        "/api/v1/cameras", json={**body, "gb_id": "51322300001329999002", "region_id": regions["513223102"]}
    )
    assert township.status_code == 422
    too_big = await c.post(
        "/api/v1/cameras", json={**body, "gb_id": "51322300001329999003", "region_id": 2**31}
    )
    assert too_big.status_code == 422 and "region_id" in too_big.json()["message"]
    assert (await c.delete(f"/api/v1/cameras/{cam_id}")).status_code == 204
    assert (await c.get(f"/api/v1/cameras/{cam_id}")).status_code == 404
    actions = [e["action"] for e in (await c.get("/api/v1/audit", params={"target_type": "camera"})).json()]
    assert {"camera.create", "camera.update", "camera.delete"} <= set(actions)


async def test_opening_a_camera_is_audited(login: Login) -> None:
    res = await login("res-v03")
    cam = (await res.get("/api/v1/cameras")).json()[0]
    assert (await res.post(f"/api/v1/cameras/{cam['id']}/open")).status_code == 200
    auditor = await login("auditor")
    events = (await auditor.get("/api/v1/audit", params={"action": "camera.open", "actor": "res-v03"})).json()
    assert (
        events and events[0]["target_id"] == str(cam["id"]) and events[0]["detail"]["gb_id"] == cam["gb_id"]
    )
