"""The RTSP re-serve through the whole node: simulator -> RTSP ingest -> channel -> RTSP re-serve ->
FFmpeg (PyAV) or our own RTSP client, as a parent node would pull it.

The decoded identity marker must be the camera asked for; refusals carry the RTSP status a client can
act on; however many RTSP clients watch a camera, the node still pulls it from the camera once."""

from __future__ import annotations

import asyncio
import socket
import threading
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

import av
import httpx
import pytest
from fastapi import FastAPI

from tests.support.node import Node
from tests.support.waits import wait_for
from xueliang.core.context import AppContext
from xueliang.media import tokens
from xueliang.media.plane import MediaPlane
from xueliang.media.rtsp.auth import ClientAuth
from xueliang.media.rtsp.client import RtspSource
from xueliang.media.rtsp.message import Headers, RtspParser, RtspRequest, RtspResponse
from xueliang.media.sim.marker import decode_marker

pytestmark = pytest.mark.slow


def number_of(gb_id: str) -> int:
    return int(gb_id[-6:])


def ctx_of(node: Node) -> AppContext:
    app = node.server.server.config.app
    assert isinstance(app, FastAPI)
    ctx: AppContext = app.state.ctx
    return ctx


def plane_of(node: Node) -> MediaPlane:
    plane = ctx_of(node).services.require(MediaPlane)
    return plane


def all_online(node: Node) -> None:
    admin = node.client("admin")
    wait_for(
        lambda: [h["status"] for h in admin.get("/api/v1/cameras/health").json()].count("online") == 4,
        60,
        "4 cameras online",
    )


def open_rtsp(client: httpx.Client, camera_id: int) -> str:
    r = client.post(f"/api/v1/cameras/{camera_id}/open")
    assert r.status_code == 200, r.text
    url: str = r.json()["streams"]["rtsp"]
    return url


def first_marker(url: str, frames: int = 25) -> int | None:
    """FFmpeg pulls over TCP interleaved; the first readable marker among the first frames."""
    options = {"rtsp_transport": "tcp", "analyzeduration": "0", "probesize": "32768"}
    with av.open(url, options=options, timeout=10) as container:
        for n, frame in enumerate(container.decode(video=0)):
            marker = decode_marker(frame.to_ndarray(format="rgb24"))
            if marker is not None or n >= frames:
                return marker
    return None


def rtsp_status(url: str, method: str = "DESCRIBE", authorization: str | None = None) -> RtspResponse:
    """One request on a fresh connection, for exact status codes."""
    parts = urlsplit(url)
    headers = Headers([("CSeq", "1")])
    if authorization:
        headers.add("Authorization", authorization)
    parser = RtspParser()
    with socket.create_connection((parts.hostname or "", parts.port or 554), timeout=5) as sock:
        sock.sendall(RtspRequest(method, url, headers).to_bytes())
        while True:
            data = sock.recv(65536)
            assert data, "connection closed without a reply"
            for item in parser.feed(data):
                if isinstance(item, RtspResponse):
                    return item


def test_ffmpeg_pulls_the_camera_it_asked_for(node: Node) -> None:
    all_online(node)
    resident = node.client("res-v01")
    cams = resident.get("/api/v1/cameras").json()
    assert cams
    for cam in cams:
        url = open_rtsp(resident, cam["id"])
        assert url.startswith("rtsp://127.0.0.1:") and f"/live/{cam['id']}?token=" in url
        assert first_marker(url) == number_of(cam["gb_id"])


def test_tokens_are_bound_to_camera_and_unforgeable(node: Node) -> None:
    all_online(node)
    resident = node.client("res-v01")
    mine = resident.get("/api/v1/cameras").json()[0]["id"]
    other = next(c["id"] for c in node.client("admin").get("/api/v1/cameras").json() if c["id"] != mine)
    url = open_rtsp(resident, mine)
    token = url.split("token=", 1)[1]
    base = url.split("/live/", 1)[0]
    assert rtsp_status(url).status == 200
    assert rtsp_status(f"{base}/live/{other}?token={token}").status == 403
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert rtsp_status(f"{base}/live/{mine}?token={tampered}").status == 401
    ctx = ctx_of(node)
    claims = tokens.decode(ctx.secret.encode(), token, ctx.clock.now())
    past = ctx.clock.now() - timedelta(seconds=600)
    expired = tokens.issue(ctx.secret.encode(), claims.user_id, mine, "view_live", 60, past)
    assert rtsp_status(f"{base}/live/{mine}?token={expired}").status == 401
    refused = rtsp_status(f"{base}/live/{mine}")
    assert refused.status == 401 and "Digest" in (refused.headers.get("WWW-Authenticate") or "")


def test_parent_node_pulls_with_digest(node: Node) -> None:
    all_online(node)
    operator = node.client("op-qingxi")
    cam = operator.get("/api/v1/cameras", params={"enabled": True}).json()[0]
    creds = operator.get("/api/v1/live/rtsp/credentials").json()
    url = creds["url_template"].format(camera_id=cam["id"])

    async def pull(password: str) -> int:
        source = RtspSource(url, username=creds["username"], password=password)
        async with source.open() as session:
            units = [await asyncio.wait_for(anext(session), 5) for _ in range(10)]
        assert units[0].keyframe
        return len(units)

    assert asyncio.run(pull(creds["password"])) == 10
    challenge = rtsp_status(url)
    assert challenge.status == 401
    wrong = ClientAuth(creds["username"], "not-" + creds["password"])
    assert wrong.accept(challenge.headers.get_all("WWW-Authenticate"))
    assert rtsp_status(url, authorization=wrong.header("DESCRIBE", url)).status == 401
    right = ClientAuth(creds["username"], creds["password"])
    right.accept(challenge.headers.get_all("WWW-Authenticate"))
    assert rtsp_status(url, authorization=right.header("DESCRIBE", url)).status == 200
    with_password = url.replace("rtsp://", f"rtsp://{creds['username']}:{creds['password']}@")
    with av.open(with_password, options={"rtsp_transport": "tcp"}, timeout=10) as container:
        frame = next(iter(container.decode(video=0)))
        assert frame.width == 640  # FFmpeg answers our Digest challenge too


def sim_connections(sim_port: int) -> int:
    """Established TCP connections to the simulator's port, seen from the client side."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote_port = int(fields[2].split(":")[1], 16)
        if remote_port == sim_port and fields[3] == "01":
            count += 1
    return count


def test_two_rtsp_clients_do_not_pull_the_camera_twice(node: Node) -> None:
    all_online(node)
    operator = node.client("op-qingxi")
    cam = operator.get("/api/v1/cameras", params={"enabled": True}).json()[0]
    pulls_before = sim_connections(node.sim.port)
    assert pulls_before == 4
    health_before = {h["camera_id"]: h["reconnects"] for h in operator.get("/api/v1/cameras/health").json()}
    stop = threading.Event()
    frames = [0, 0]

    def watch(index: int) -> None:
        with av.open(open_rtsp(operator, cam["id"]), options={"rtsp_transport": "tcp"}, timeout=10) as c:
            for _ in c.demux(video=0):
                frames[index] += 1
                if stop.is_set():
                    return

    threads = [threading.Thread(target=watch, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: min(frames) >= 25, 20, "both RTSP clients receiving")
        assert plane_of(node).rtsp is not None and plane_of(node).rtsp.playing == 2  # type: ignore[union-attr]
        assert sim_connections(node.sim.port) == pulls_before
        health = {h["camera_id"]: h["reconnects"] for h in operator.get("/api/v1/cameras/health").json()}
        assert health == health_before
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=15)


def test_rtsp_sessions_are_audited_with_bytes(node: Node) -> None:
    all_online(node)
    duty = node.client("duty-v01")
    cam = duty.get("/api/v1/cameras", params={"enabled": True}).json()[0]
    assert first_marker(open_rtsp(duty, cam["id"])) == number_of(cam["gb_id"])
    auditor = node.client("auditor")

    def ended() -> list[dict[str, object]]:
        rows: list[dict[str, object]] = auditor.get(
            "/api/v1/audit", params={"action": "live.end", "actor": "duty-v01"}
        ).json()
        return [r for r in rows if isinstance(r["detail"], dict) and r["detail"].get("kind") == "rtsp"]

    wait_for(lambda: bool(ended()), 10, "the live.end audit row of the RTSP session")
    detail = ended()[0]["detail"]
    assert isinstance(detail, dict) and int(detail["bytes"]) > 10_000
    started = auditor.get("/api/v1/audit", params={"action": "live.start", "actor": "duty-v01"}).json()
    assert any(s["detail"]["session"] == detail["session"] for s in started)
