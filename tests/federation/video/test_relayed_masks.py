"""A village camera seen through its township (two real nodes joined by the message link and the video
link, the village pulling the simulator and recording): its privacy masks, drawn at the village, reach
the township with the catalog and the township's operator gets the masked picture (the masked region
filled, the camera's marker intact), live and played back from the village's recording (masked at the
township; a relayed dome with the set in force where the village's PTZ commands left it); an
edit of them at the township is applied by the village or refused with its reason; while nobody
watches, the township shows the camera as the village reports it, not "starting", and the engine's
live status while it is pulled."""

from __future__ import annotations

import asyncio
import io
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from typing import Any

import av
import pytest
from tests.federation.video import nodes
from tests.federation.video.nodes import Federation, FedNode
from tests.support.node import Simulator
from tests.support.waits import wait_for
from websockets.asyncio.client import connect

from xueliang.media.plane.masking import masked_id
from xueliang.media.sim.marker import decode_marker

MASK = [[0.5, 0.5], [1.0, 0.5], [1.0, 1.0], [0.5, 1.0]]  # the lower right quarter; the marker is top left


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory, simulator: Simulator) -> Iterator[Federation]:
    fed = nodes.start(
        tmp_path_factory.mktemp("relayed-masks"),
        simulator.port,
        names=("township", "village"),
        recording=("village",),
        link=True,
    )
    try:
        wait_for(
            lambda: (
                fed["village"].gb_id in fed["township"].links.links and fed["village"].uplink.state.connected
            ),
            30,
            "the village's video link to the township",
        )
        yield fed
    finally:
        nodes.stop(fed)


def query(node: FedNode, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(node.db_url.removeprefix("sqlite+aiosqlite:///"), timeout=10) as conn:
        return conn.execute(sql, params).fetchall()


def health(node: FedNode, username: str, camera_id: int) -> dict[str, Any]:
    with closing(node.client(username)) as c:
        r = c.get("/api/v1/cameras/health")
        assert r.status_code == 200, r.text
        return next((h for h in r.json() if h["camera_id"] == camera_id), {})


def masks_at(node: FedNode, camera_id: int) -> list[tuple[str, str]]:
    return [(label, points) for label, points in query(
        node, "SELECT label, points FROM camera_masks WHERE camera_id = ? ORDER BY id", camera_id
    )]  # fmt: skip


async def frames(url: str, count: int) -> list[Any]:
    chunks: list[bytes] = []
    async with connect(url, max_size=None) as ws:
        while len(chunks) < count + 1:  # the init segment, then fragments
            message = await asyncio.wait_for(ws.recv(), 20)
            if isinstance(message, bytes):
                chunks.append(message)
    with av.open(io.BytesIO(b"".join(chunks)), "r") as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def test_an_idle_relayed_camera_shows_its_owners_status(pair: Federation) -> None:
    town = pair["township"]
    camera_id = pair.camera_ids[1]
    wait_for(
        lambda: health(town, "op-qingxi", camera_id).get("status") == "online",
        30,
        "the village's report of its camera at the township",
    )
    idle = health(town, "op-qingxi", camera_id)
    assert "reported by the owner node" in idle["reason"] and pair["village"].gb_id in idle["reason"]
    assert idle["viewers"] == 0 and idle["fps"] == 0  # nothing is pulled across the link for it
    assert query(town, "SELECT status FROM federation_camera_status WHERE camera_id = ?", camera_id) == [
        ("online",)
    ]


def _draw_at_the_village(pair: Federation, camera_id: int, **patch: Any) -> None:
    with closing(pair["village"].client("admin")) as admin:
        if patch:
            r = admin.patch(f"/api/v1/cameras/{camera_id}", json=patch)
            assert r.status_code == 200, r.text
        r = admin.put(
            f"/api/v1/cameras/{camera_id}/masks", json={"masks": [{"label": "院子", "points": MASK}]}
        )
        assert r.status_code == 200, r.text
    wait_for(
        lambda: [m[0] for m in masks_at(pair["township"], camera_id)] == ["院子"],
        20,
        "the masks at the township",
    )


def _masked_live_at_the_township(pair: Federation, camera_id: int) -> list[Any]:
    town = pair["township"]
    with closing(town.client("op-qingxi")) as op:
        r = op.post(f"/api/v1/cameras/{camera_id}/open")
        assert r.status_code == 200, r.text
        url = r.json()["streams"]["ws"]
    assert f"/api/v1/live/{masked_id(camera_id)}/ws?" in url  # the masked variant, made here
    pictures = asyncio.run(frames(town.url.replace("http://", "ws://") + url, 25))
    assert len(pictures) >= 20
    return pictures


def test_the_township_operator_sees_the_village_camera_masked(pair: Federation) -> None:
    town = pair["township"]
    # A fixed camera: its masks as drawn at the village, the rest of the picture intact.
    fixed = pair.camera_ids[2]
    _draw_at_the_village(pair, fixed, ptz=False)
    wait_for(
        lambda: query(town, "SELECT ptz FROM cameras WHERE id = ?", fixed) == [(0,)],
        20,
        "fixed at the township",
    )
    for rgb in _masked_live_at_the_township(pair, fixed):
        height, width = rgb.shape[:2]
        hidden = rgb[int(height * 0.52) :, int(width * 0.52) :]
        assert float(hidden.max()) < 40 and float(hidden.std()) < 4, "the mask is not filled"
        assert decode_marker(rgb) == 2, "the unmasked part lost the village camera's marker"
    live = health(town, "op-qingxi", fixed)
    assert live["status"] == "online" and live["reason"] == "receiving"  # the engine's own, while pulled

    # A dome: where it points is known at the village only (its PTZ positions stay there), so live at
    # the township it is filled whole rather than masked with a set that may no longer fit.
    dome = pair.camera_ids[1]
    _draw_at_the_village(pair, dome)
    for rgb in _masked_live_at_the_township(pair, dome):
        assert float(rgb.max()) < 40, "a relayed masked dome must be filled whole at the parent"

    with closing(pair["village"].client("admin")) as admin:  # camera 2 as it was, for the tests below
        assert admin.put(f"/api/v1/cameras/{fixed}/masks", json={"masks": []}).status_code == 200
        assert admin.patch(f"/api/v1/cameras/{fixed}", json={"ptz": True}).status_code == 200
    wait_for(lambda: masks_at(town, fixed) == [], 20, "camera 2's masks gone at the township")


def played_back_masked(town: FedNode, camera_id: int) -> list[Any]:
    """The township operator's masked playback of the village camera's recent recording: one chunk's
    pictures, decoded."""
    span = {"from": (datetime.now(UTC) - timedelta(minutes=5)).isoformat(),
            "to": (datetime.now(UTC) + timedelta(minutes=1)).isoformat()}  # fmt: skip
    with closing(town.client("op-qingxi")) as op:

        def keyframes() -> bool:
            r = op.get(f"/api/v1/cameras/{camera_id}/timeline", params=span)
            return r.status_code == 200 and bool(r.json()["keyframes"])

        wait_for(keyframes, 20, "the village's recording at the township")
        r = op.post("/api/v1/recordings/playback", json={"camera_id": camera_id, **span})
        assert r.status_code == 200 and r.json()["masked"] is True, r.text
        plan = op.get(r.json()["plan"])
        assert plan.status_code == 200 and plan.json()["segments"], plan.text  # the village's segments
        segment = plan.json()["segments"][0]
        init, chunk = op.get(segment["init"]), op.get(segment["chunks"][0]["url"])
        assert init.status_code == chunk.status_code == 200, chunk.text
    with av.open(io.BytesIO(init.content + chunk.content), "r") as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def filled(area: Any) -> bool:
    return float(area.max()) < 40 and float(area.std()) < 4


def test_the_township_operator_plays_the_village_recording_back_masked(pair: Federation) -> None:
    town, village = pair["township"], pair["village"]
    camera_id = pair.camera_ids[1]  # a dome (tests/support/sim.py) that no PTZ command has moved
    pictures = played_back_masked(town, camera_id)
    assert pictures
    for rgb in pictures:  # read from the village's file, masked at the township with the default set
        height, width = rgb.shape[:2]
        assert filled(rgb[int(height * 0.52) :, int(width * 0.52) :]), "the mask is not filled"
        assert not filled(rgb[int(height * 0.52) :, : int(width * 0.48)])  # the lower left is shown
        assert decode_marker(rgb) == 1, "the unmasked part lost the village camera's marker"
    viewers = query(village, "SELECT actor FROM audit_events WHERE action = 'recording.view'")
    assert (f"node {town.gb_id} for op-qingxi",) in viewers  # the child audits our user's view


def test_a_relayed_dome_is_masked_with_the_set_in_force_at_the_owner(pair: Federation) -> None:
    town, village = pair["township"], pair["village"]
    camera_id = pair.camera_ids[1]
    hour_ago = (datetime.now(UTC) - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
    moved = "INSERT INTO camera_ptz_positions (camera_id, at, preset, cause, actor) VALUES (?, ?, ?, ?, '')"
    try:  # positions only the village's PTZ commands recorded: moved by hand an hour ago, nothing shown
        query(village, moved, camera_id, hour_ago, None, "move")
        for rgb in played_back_masked(town, camera_id):
            assert filled(rgb), "a dome moved by hand is not filled whole"

        with closing(
            village.client("admin")
        ) as admin:  # then sent to preset 6, whose set hides the lower left
            r = admin.put(
                f"/api/v1/cameras/{camera_id}/masks",
                params={"preset": 6},
                json={
                    "masks": [{"label": "邻居", "points": [[0.0, 0.5], [0.5, 0.5], [0.5, 1.0], [0.0, 1.0]]}]
                },
            )
            assert r.status_code == 200, r.text
        query(village, moved.replace("?, ?, ?, ?", "?, datetime(?, '+1 second'), ?, ?"), camera_id,
              hour_ago, 6, "preset_call")  # fmt: skip
        for rgb in played_back_masked(town, camera_id):
            height, width = rgb.shape[:2]
            assert filled(rgb[int(height * 0.52) :, : int(width * 0.48)]), "preset 6's set is not filled"
            assert not filled(rgb[int(height * 0.52) :, int(width * 0.52) :])  # the default set is not
            assert decode_marker(rgb) == 1
    finally:
        query(village, "DELETE FROM camera_ptz_positions WHERE camera_id = ?", camera_id)
        query(village, "DELETE FROM camera_masks WHERE camera_id = ? AND preset = 6", camera_id)
        query(village, "DELETE FROM camera_mask_sets WHERE camera_id = ?", camera_id)


def test_a_mask_edit_at_the_township_is_applied_by_the_owner_or_refused(pair: Federation) -> None:
    town, village = pair["township"], pair["village"]
    camera_id = pair.camera_ids[1]
    drawn = {"masks": [{"label": "窗户", "points": [[0.0, 0.6], [0.3, 0.6], [0.3, 1.0]]}]}
    with closing(town.client("op-qingxi")) as op:
        r = op.put(f"/api/v1/cameras/{camera_id}/masks", json=drawn)
        assert r.status_code == 200, r.text
        assert [m[0] for m in masks_at(village, camera_id)] == ["窗户"]  # applied by the owner first
        actor = query(
            village,
            "SELECT actor FROM audit_events WHERE action = 'camera.masks' AND target_id = ? "
            "ORDER BY seq DESC",
            str(camera_id),
        )[0][0]
        assert actor == f"node {town.gb_id} for op-qingxi"
        wait_for(lambda: [m[0] for m in masks_at(town, camera_id)] == ["窗户"], 20, "the owner's copy here")
        r = op.put(  # no area: ours to refuse (422), the owner is not asked
            f"/api/v1/cameras/{camera_id}/masks",
            json={"masks": [{"points": [[0.1, 0.1], [0.2, 0.2], [0.3, 0.3]]}]},
        )
        assert r.status_code == 422, r.text

        other = pair.camera_ids[2]  # gone at the owner, not yet known here: refused with its reason
        query(village, "UPDATE cameras SET region_id = (SELECT id FROM regions WHERE code = '513223102') "
              "WHERE id = ?", other)  # fmt: skip
        r = op.put(f"/api/v1/cameras/{other}/masks", json=drawn)
        assert r.status_code == 409, r.text
        assert village.gb_id in r.json()["message"] and "not found" in r.json()["message"], r.text
        assert masks_at(town, other) == []
