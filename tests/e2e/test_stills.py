"""Camera stills through the whole node: simulator -> RTSP ingest -> channel's GOP cache -> the still route.

The identity marker the simulator draws into each camera's pictures must survive the decode, the scaling
to 320 px and the JPEG: the still of camera N shows N. Residents get stills of public cameras only."""

from __future__ import annotations

import io

import av
import httpx
import pytest

from tests.support.node import Node, number_of
from tests.support.sim import SIM_CAMERAS
from tests.support.waits import wait_for
from xueliang.media.sim.marker import decode_marker

pytestmark = pytest.mark.slow


def marker_of(jpeg: bytes) -> int | None:
    with av.open(io.BytesIO(jpeg), mode="r") as container:
        frame = next(iter(container.decode(video=0)))
        assert (frame.width, frame.height) == (320, 180)
        return decode_marker(frame.to_ndarray(format="rgb24"))


def still(c: httpx.Client, camera_id: int) -> httpx.Response:
    return c.get(f"/api/v1/cameras/{camera_id}/still.jpg")


def test_stills_show_their_camera_and_only_to_whom_may_watch(node: Node) -> None:
    admin = node.client("admin")
    resident = node.client("res-v01")
    cams = {c["id"]: c for c in admin.get("/api/v1/cameras").json()}
    pulled = [i for i, c in cams.items() if number_of(c["gb_id"]) <= SIM_CAMERAS]
    assert len(pulled) == SIM_CAMERAS
    wait_for(lambda: all(still(admin, i).status_code == 200 for i in pulled), 60, "a still of every camera")

    for camera_id in pulled:
        got = still(admin, camera_id)
        assert got.headers["content-type"] == "image/jpeg"
        assert got.headers["cache-control"] == "private, max-age=5"
        assert marker_of(got.content) == number_of(cams[camera_id]["gb_id"])

    private = pulled[0]  # the simulator's cameras are all public: make one private
    assert admin.patch(f"/api/v1/cameras/{private}", json={"public_view": False}).status_code == 200
    public = {c["id"] for c in resident.get("/api/v1/cameras").json()}
    assert set(pulled) - public == {private}
    for camera_id in pulled:
        got = still(resident, camera_id)
        if camera_id in public:
            assert got.status_code == 200 and marker_of(got.content) == number_of(cams[camera_id]["gb_id"])
        else:
            assert got.status_code == 404
            assert got.json() == {"code": "not_found", "message": "camera not found"}

    not_pulled = next(i for i, c in cams.items() if not c["enabled"])
    none = still(admin, not_pulled)
    assert none.status_code == 404 and none.json()["code"] == "no_picture"

    audit = node.client("auditor").get("/api/v1/audit", params={"action": "camera.still"}).json()
    by_admin = sorted(int(r["target_id"]) for r in audit if r["actor"] == "admin")
    assert by_admin == sorted(pulled), "one camera.still row per user and camera, however often it asks"
