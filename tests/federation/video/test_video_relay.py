"""Video through the parent, end to end on three real nodes (county, township 清溪镇, village 上坪村):
a county operator plays a village camera through two hops and the simulator's marker is read from
the picture, and plays it back masked with the village's PTZ set in force; ten county viewers make
one stream on each link; a node key outside the subtree is refused; a revoked child's open link is
closed at once."""

from __future__ import annotations

import asyncio
import io
import json
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

import av
import pytest
from sqlalchemy import select, update
from tests.federation.video.nodes import Federation, FedNode
from tests.support.db import run_async
from tests.support.waits import wait_for
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from xueliang.audit.models import AuditEvent
from xueliang.cameras.models import Camera
from xueliang.core.db import Database
from xueliang.federation.identity import NodeIdentity
from xueliang.federation.video import handshake
from xueliang.media.sim.marker import decode_marker
from xueliang.nodes.models import Node


def linked(fed: Federation) -> bool:
    return (
        fed["township"].gb_id in fed["county"].links.links
        and fed["village"].gb_id in fed["township"].links.links
        and fed["village"].uplink.state.connected
    )


def ws_url(node: FedNode, path: str) -> str:
    return node.url.replace("http://", "ws://") + path


def open_streams(node: FedNode, username: str, camera_id: int, count: int = 1) -> list[str]:
    """The live WebSocket URLs of `count` views of the camera opened by one user."""
    c = node.client(username)
    urls: list[str] = []
    try:
        for _ in range(count):
            r = c.post(f"/api/v1/cameras/{camera_id}/open")
            assert r.status_code == 200, r.text
            urls.append(ws_url(node, r.json()["streams"]["ws"]))
    finally:
        c.close()
    return urls


async def read_fragments(ws: ClientConnection, count: int) -> tuple[bytes, list[bytes]]:
    init = b""
    frags: list[bytes] = []
    while len(frags) < count:
        message = await asyncio.wait_for(ws.recv(), 20)
        if isinstance(message, str):
            continue
        if not init:
            init = message
        else:
            frags.append(message)
    return init, frags


def audits(node: FedNode, prefix: str) -> list[AuditEvent]:
    async def read() -> list[AuditEvent]:
        db = Database(node.db_url)
        try:
            async with db.session() as session:
                rows = await session.scalars(select(AuditEvent).where(AuditEvent.action.startswith(prefix)))
                return list(rows.all())
        finally:
            await db.dispose()

    return run_async(read())


@pytest.fixture(scope="module")
def fed(federation: Federation) -> Federation:
    wait_for(lambda: linked(federation), 30, "the village and township links to come up")
    return federation


def test_county_operator_plays_a_village_camera_through_two_hops(fed: Federation) -> None:
    camera_id = fed.camera_ids[1]
    (url,) = open_streams(fed["county"], "admin", camera_id)

    async def play() -> tuple[bytes, list[bytes]]:
        async with connect(url, max_size=None) as ws:
            return await read_fragments(ws, 30)

    init, frags = asyncio.run(play())
    with av.open(io.BytesIO(init + b"".join(frags)), "r") as container:
        markers = {decode_marker(f.to_ndarray(format="rgb24")) for f in container.decode(video=0)}
    assert markers == {1}  # the village's camera 1, decoded at the county
    # The township audited the county's user, the village the township's relay and, told on, the user.
    wait_for(
        lambda: bool(audits(fed["village"], "live.relay.start")), 10, "the village's audit of the viewer"
    )
    (township_seen,) = audits(fed["township"], "live.relay.start")
    assert township_seen.actor == f"node {fed['county'].gb_id} for admin"
    assert township_seen.target_id == str(camera_id)
    (village_seen,) = audits(fed["village"], "live.relay.start")
    assert village_seen.actor.startswith(
        f"node {fed['township'].gb_id} for admin (node {fed['county'].gb_id})"
    )
    assert [e.actor for e in audits(fed["village"], "live.relay.open")] == [f"node {fed['township'].gb_id}"]
    assert any(e.actor == "admin" for e in audits(fed["county"], "live.start"))  # the county's own


def test_ten_county_viewers_make_one_stream_on_each_link(fed: Federation) -> None:
    camera_id = fed.camera_ids[2]
    urls = open_streams(fed["county"], "admin", camera_id, 10)
    opened = {name: fed[name].uplink.state.opened for name in ("township", "village")}

    async def watch() -> None:
        async with asyncio.TaskGroup() as group:
            # close_timeout: a socket left unread stops taking frames; its close handshake waits behind them
            sockets = [await connect(u, max_size=None, close_timeout=0.5) for u in urls]
            for ws in sockets:
                group.create_task(read_fragments(ws, 5))
        for name in ("township", "village"):  # while all ten watch: one stream per link
            streams = [s for s in fed[name].uplink.state.streams.values() if s.camera_id == camera_id]
            assert len(streams) == 1, name
        await asyncio.gather(*(ws.close() for ws in sockets))

    asyncio.run(watch())
    for name in ("township", "village"):
        assert fed[name].uplink.state.opened - opened[name] == 1, name
    # No viewer left: the county lets go, then the township; nothing crosses either link.
    wait_for(
        lambda: not fed["township"].uplink.state.streams and not fed["village"].uplink.state.streams,
        10,
        "the streams to end with the last viewer",
    )


def test_county_operator_plays_back_a_village_recording_through_two_hops(fed: Federation) -> None:
    camera_id = fed.camera_ids[1]
    county = fed["county"].client("admin")
    try:
        lo = datetime.now(UTC) - timedelta(minutes=5)
        hi = datetime.now(UTC) + timedelta(minutes=1)
        query = {"from": lo.isoformat(), "to": hi.isoformat()}

        def timeline() -> dict[str, Any]:
            r = county.get(f"/api/v1/cameras/{camera_id}/timeline", params=query)
            assert r.status_code == 200, r.text
            body: dict[str, Any] = r.json()
            return body

        wait_for(lambda: bool(timeline()["keyframes"]), 20, "the village's recording to show at the county")
        line = timeline()
        assert line["camera_id"] == camera_id and line["segments"] >= 1 and line["spans"]
        assert str(line["codec"]).startswith("avc1")
        r = county.post("/api/v1/recordings/playback", json={"camera_id": camera_id, **query})
        assert r.status_code == 200, r.text
        plan = county.get(r.json()["plan"]).json()
        segment = plan["segments"][0]
        init = county.get(segment["init"])
        chunk = county.get(segment["chunks"][0]["url"])
        assert init.status_code == chunk.status_code == 200
        with av.open(io.BytesIO(init.content + chunk.content), "r") as container:
            markers = {decode_marker(f.to_ndarray(format="rgb24")) for f in container.decode(video=0)}
        assert markers == {1}
        missing = county.get(segment["init"].replace(f"/init/{segment['id']}.", "/init/999999."))
        assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    finally:
        county.close()
    # Each node audited its own caller's view: the county its user, the others the node above for him.
    county_user = f"node {fed['county'].gb_id} for admin"
    assert county_user in {e.actor for e in audits(fed["township"], "recording.view")}
    assert f"node {fed['township'].gb_id} for admin (node {fed['county'].gb_id})" in {
        e.actor for e in audits(fed["village"], "recording.view")
    }
    assert "admin" in {e.actor for e in audits(fed["county"], "recording.view")}


def sql(node: FedNode, statement: str, *params: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(node.db_url.removeprefix("sqlite+aiosqlite:///"), timeout=10) as conn:
        return conn.execute(statement, params).fetchall()


def test_a_village_dome_plays_back_masked_at_the_county_with_the_villages_preset_set(fed: Federation) -> None:
    """Masked at the county, the set in force where the village's PTZ commands left the dome: asked of
    the village through the township (mask_timeline, two hops)."""
    county, village = fed["county"], fed["village"]
    camera_id = fed.camera_ids[1]
    assert sql(county, "SELECT ptz FROM cameras WHERE id = ?", camera_id) == [(1,)]  # a dome in the seed
    now = datetime.now(UTC)
    at = (now - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
    lower_left = "[[0.0, 0.5], [0.5, 0.5], [0.5, 1.0], [0.0, 1.0]]"
    mask = (
        "INSERT INTO camera_masks (camera_id, preset, label, points, created_by, created_at) "
        "VALUES (?, ?, '', ?, '', ?)"
    )
    try:
        sql(county, mask, camera_id, 0, "[[0.5, 0.5], [1.0, 0.5], [1.0, 1.0], [0.5, 1.0]]", at)  # masked here
        sql(village, mask, camera_id, 6, lower_left, at)  # the village's set for preset 6, in force
        sql(village, "INSERT INTO camera_mask_sets (camera_id, preset, drawn_at, drawn_by) "
            "VALUES (?, 6, ?, '')", camera_id, at)  # fmt: skip
        sql(village, "INSERT INTO camera_ptz_positions (camera_id, at, preset, cause, actor) "
            "VALUES (?, ?, 6, 'preset_call', '')", camera_id, at)  # fmt: skip
        span = {
            "from": (now - timedelta(minutes=5)).isoformat(),
            "to": (now + timedelta(minutes=1)).isoformat(),
        }
        client = county.client("admin")
        try:
            wait_for(
                lambda: bool(
                    client.get(f"/api/v1/cameras/{camera_id}/timeline", params=span).json()["keyframes"]
                ),
                20,
                "the village's recording at the county",
            )
            r = client.post("/api/v1/recordings/playback", json={"camera_id": camera_id, **span})
            assert r.status_code == 200 and r.json()["masked"] is True, r.text
            segment = client.get(r.json()["plan"]).json()["segments"][0]
            init, chunk = client.get(segment["init"]), client.get(segment["chunks"][0]["url"])
            assert init.status_code == chunk.status_code == 200, chunk.text
        finally:
            client.close()
        with av.open(io.BytesIO(init.content + chunk.content), "r") as container:
            pictures = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
        assert pictures
        for rgb in pictures:
            height, width = rgb.shape[:2]
            lower_left_area = rgb[int(height * 0.52) :, : int(width * 0.48)]
            lower_right_area = rgb[int(height * 0.52) :, int(width * 0.52) :]
            assert float(lower_left_area.max()) < 40 and float(lower_left_area.std()) < 4  # preset 6's set
            assert float(lower_right_area.std()) >= 4  # not the county copy's default set: not in force there
            assert decode_marker(rgb) == 1
    finally:
        sql(county, "DELETE FROM camera_masks WHERE camera_id = ?", camera_id)
        sql(village, "DELETE FROM camera_masks WHERE camera_id = ?", camera_id)
        sql(village, "DELETE FROM camera_mask_sets WHERE camera_id = ?", camera_id)
        sql(village, "DELETE FROM camera_ptz_positions WHERE camera_id = ?", camera_id)


def camera_row(node: FedNode, camera_id: int) -> Camera | None:
    async def read() -> Camera | None:
        db = Database(node.db_url)
        try:
            async with db.session() as session:
                return await session.get(Camera, camera_id)
        finally:
            await db.dispose()

    return run_async(read())


def test_an_edit_at_the_county_of_a_village_camera_is_applied_by_its_owner_or_refused(
    fed: Federation,
) -> None:
    camera_id = fed.camera_ids[2]
    county = fed["county"].client("admin")
    before = camera_row(fed["county"], camera_id)
    assert before is not None
    try:
        r = county.patch(f"/api/v1/cameras/{camera_id}", json={"name": "上坪村口西", "record": True})
        assert r.status_code == 200, r.text
        village_cam = camera_row(fed["village"], camera_id)
        assert village_cam is not None and village_cam.name == "上坪村口西" and village_cam.record
        county_cam = camera_row(fed["county"], camera_id)
        assert county_cam is not None and county_cam.name == "上坪村口西"
        assert county_cam.record == before.record  # the owner's to record, not this copy's
        (edit,) = [e for e in audits(fed["village"], "camera.update") if e.target_id == str(camera_id)]
        assert edit.actor == f"node {fed['township'].gb_id} for admin (node {fed['county'].gb_id})"
        r = county.patch(f"/api/v1/cameras/{camera_id}", json={"lat": 200.0})  # ours to refuse
        assert r.status_code == 422, r.text

        # The owner no longer has it (deleted there, not yet known here): refused with its reason.
        path = fed["county"].db_url.removeprefix("sqlite+aiosqlite:///")
        with sqlite3.connect(path) as conn:
            ((other,),) = conn.execute(
                "SELECT min(id) FROM cameras WHERE stream_url NOT LIKE 'node://%'"
            ).fetchall()

        async def stale(session: Any) -> None:
            await session.execute(
                update(Camera)
                .where(Camera.id == other)
                .values(stream_url=f"node://{fed['township'].gb_id}/999999", remote_id=999999)
            )

        assert camera_row(fed["county"], other) is not None
        fed["county"].write(stale)
        r = county.patch(f"/api/v1/cameras/{other}", json={"name": "改不了"})
        assert r.status_code == 409, r.text
        assert fed["township"].gb_id in r.json()["message"] and "not found" in r.json()["message"]
        assert camera_row(fed["county"], other).name != "改不了"  # type: ignore[union-attr]
    finally:
        county.close()


def test_a_node_key_outside_the_subtree_is_refused(fed: Federation) -> None:
    # 石门村 is a village of 石门乡, not of 清溪镇: enrolled or not, 清溪镇 takes no link from it.
    stranger = fed.gb["513223102201"]
    key = NodeIdentity.load(stranger, fed["township"].data_dir.parent / "stranger")

    async def enroll(session: Any) -> None:
        await session.execute(
            update(Node).where(Node.gb_id == stranger).values(public_key=key.public_key_hex)
        )

    fed["township"].write(enroll)

    async def dial() -> tuple[int, str]:
        async with connect(ws_url(fed["township"], handshake.LINK_PATH)) as ws:
            challenge = json.loads(await ws.recv())
            proof = key.sign(handshake.child_proof(challenge["nonce"], fed["township"].gb_id, stranger)).hex()
            await ws.send(
                json.dumps({"type": "hello", "node": stranger, "nonce": handshake.new_nonce(), "sig": proof})
            )
            with pytest.raises(ConnectionClosed) as closed:
                await ws.recv()
            assert closed.value.rcvd is not None
            return closed.value.rcvd.code, closed.value.rcvd.reason

    assert asyncio.run(dial()) == (4403, "node outside this node's subtree")
    # The child's own check: 石门乡's valid key asks the village for a 上坪村 camera: refused.
    other_township = fed.gb["513223102"]

    async def enroll_other(session: Any) -> None:
        await session.execute(
            update(Node).where(Node.gb_id == other_township).values(public_key=key.public_key_hex)
        )

    fed["village"].write(enroll_other)
    village = fed["village"]
    assert (
        village.run(village.uplink.check(other_township, fed.camera_ids[1]))
        == "camera outside the node's subtree"
    )
    assert village.run(village.uplink.check(fed["township"].gb_id, fed.camera_ids[1])) is None


def test_a_revoked_childs_open_link_is_closed_at_once(fed: Federation) -> None:
    village = fed["village"]

    async def revoke(session: Any) -> None:
        await session.execute(
            update(Node).where(Node.gb_id == village.gb_id).values(revoked_at=datetime.now(UTC))
        )

    fed["township"].write(revoke)
    wait_for(lambda: not village.uplink.state.connected, 5, "the revoked village's link to close")
    assert village.gb_id not in fed["township"].links.links
    wait_for(
        lambda: "revoked" in village.uplink.state.last_error, 10, "the village's next dial to be refused"
    )
