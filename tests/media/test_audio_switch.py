"""The per-camera audio switch (issue 15): off by default, turned on and off by a camera manager through
the camera API, visible only to managers (as the stream URL is), and refused when it is not a boolean."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

Login = Callable[..., Awaitable[httpx.AsyncClient]]


async def test_audio_is_off_by_default_and_switched_per_camera_by_a_manager(login: Login) -> None:
    admin = await login("admin")
    cameras = (await admin.get("/api/v1/cameras")).json()
    assert cameras and all(c["audio_enabled"] is False for c in cameras)  # seeded cameras: no sound
    cam_id = cameras[0]["id"]
    on = await admin.patch(f"/api/v1/cameras/{cam_id}", json={"audio_enabled": True})
    assert on.status_code == 200 and on.json()["audio_enabled"] is True
    assert (await admin.get(f"/api/v1/cameras/{cam_id}")).json()["audio_enabled"] is True
    assert (await admin.get(f"/api/v1/cameras/{cameras[1]['id']}")).json()["audio_enabled"] is False
    bad = await admin.patch(f"/api/v1/cameras/{cam_id}", json={"audio_enabled": "loud"})
    assert bad.status_code == 422 and "audio_enabled" in bad.json()["message"]
    off = await admin.patch(f"/api/v1/cameras/{cam_id}", json={"audio_enabled": False})
    assert off.status_code == 200 and off.json()["audio_enabled"] is False

    resident = await login("res-v01")
    seen = (await resident.get("/api/v1/cameras")).json()
    assert seen and all("audio_enabled" not in c for c in seen)  # a manager's setting, like stream_url
