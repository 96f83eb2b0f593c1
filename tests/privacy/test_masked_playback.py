"""Masked playback: an operator plays a masked camera's recording without an approved lift and gets the
masked variant (recorded chunks decoded, filled and encoded again per request, their times kept); its
token opens none of the unmasked routes; the recording on disk keeps the original, which the operator
sees once a second person approved a lift, through a token bound to that approval that serves only the
approved range (a plain token stops opening the camera once it has masks). An export without a lift is
masked the same way."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import av
import httpx
import pytest
from fastapi import FastAPI

from tests.support.alarms import Login, logins_to
from tests.support.app import make_settings
from tests.support.clips import encode_clip, marker_level
from tests.support.media import serve
from tests.support.recordings import Rig, Wall
from xueliang.app import create_app
from xueliang.media.recording.recorder import RecorderConfig
from xueliang.recordings.config import RecordingSettings

MARKER = 2
MASK = {"masks": [{"label": "院子", "points": [[0.5, 0.2], [1.0, 0.2], [1.0, 1.0], [0.5, 1.0]]}]}


@pytest.fixture
async def rec(privacy_url: str, tmp_path: Path) -> AsyncIterator[tuple[FastAPI, Callable[[], Rig]]]:
    settings = make_settings(
        privacy_url,
        tmp_path / "data",
        recording=RecordingSettings(retention_every=3600, min_free_bytes=0, min_free_percent=0),
    )
    app = create_app(settings, migrate_on_start=False)
    clip = encode_clip(frames=50, gop=25, width=160, height=96, camera_index=MARKER)
    rigs: list[Rig] = []

    def rig() -> Rig:
        made = Rig(privacy_url, tmp_path / "data" / "recordings", clip, Wall(time.time() - 60),
                   RecorderConfig(segment_seconds=2.0))  # fmt: skip
        rigs.append(made)
        return made

    async with app.router.lifespan_context(app):
        yield app, rig
    for made in rigs:
        await made.db.dispose()


def frames_of(data: bytes) -> list[Any]:
    with av.open(io.BytesIO(data), "r") as container:
        return [f.to_ndarray(format="gray") for f in container.decode(video=0)]


async def until_ready(client: httpx.AsyncClient, export_id: int, within: float = 30.0) -> Any:
    """The export once its state is no longer `running` (asserted `ready`)."""
    deadline = time.monotonic() + within
    while True:
        out = (await client.get(f"/api/v1/recordings/exports/{export_id}")).json()
        if out["state"] != "running":
            assert out["state"] == "ready", out
            return out
        assert time.monotonic() < deadline, "the export did not finish"
        await asyncio.sleep(0.05)


def iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts % 1 * 1e6):06d}Z"


async def test_masked_recording_playback_and_the_lifted_original(
    rec: tuple[FastAPI, Callable[[], Rig]],
) -> None:
    app, make_rig = rec
    async with logins_to(app) as login:
        await _scenario(app, login, make_rig())


def read_all(url: str) -> list[Any]:
    with av.open(url, "r", timeout=10) as container:
        return [f.to_ndarray(format="gray") for f in container.decode(video=0)]


async def _scenario(app: FastAPI, login: Login, rig: Rig) -> None:
    admin, op = await login("admin"), await login("op-qingxi")
    camera = [c["id"] for c in (await op.get("/api/v1/cameras")).json()][3]
    await rig.start(camera)
    await rig.record(4.0)
    await rig.recorder.stop()
    rng = {"camera_id": camera, "from": iso(rig.wall.now - 30), "to": iso(rig.wall.now + 1)}
    before = (await op.post("/api/v1/recordings/playback", json=rng)).json()  # no masks yet: plain
    assert before["masked"] is False and before["approval"] is None
    assert (await admin.put(f"/api/v1/cameras/{camera}/masks", json=MASK)).status_code == 200
    assert (await op.get(before["plan"])).status_code == 404  # masked now: its plain token is done

    opened = (await op.post("/api/v1/recordings/playback", json=rng)).json()
    assert opened["masked"] is True
    plan = (await op.get(opened["plan"])).json()
    segment = plan["segments"][0]
    assert plan["masked"] is True and segment["mime"].startswith('video/mp4; codecs="avc1.')
    init = await op.get(segment["init"])
    chunk = await op.get(segment["chunks"][0]["url"])
    assert init.status_code == 200 and chunk.status_code == 200, chunk.text
    frames = frames_of(init.content + chunk.content)
    assert len(frames) >= 20
    for luma in frames:
        hidden = luma[int(luma.shape[0] * 0.22) :, int(luma.shape[1] * 0.52) :]
        assert float(hidden.max()) < 40 and abs(float(luma[4:28, 4:28].mean()) - marker_level(MARKER)) < 15
    at = {"t": iso(rig.wall.now - 2), "token": opened["token"]}
    seek = await op.get(f"/api/v1/playback/masked/{camera}/at.mp4", params=at)
    assert seek.status_code == 200 and float(frames_of(seek.content)[0][30:, 90:].max()) < 40

    # FFmpeg's own HLS client plays the masked VOD across its segments and chunks.
    async with serve(app) as host:
        url = f"http://{host}{opened['hls']}"
        hls = await asyncio.to_thread(read_all, url)
    assert len(hls) >= 90 and all(float(luma[30:, 90:].max()) < 40 for luma in hls)

    # An export without a lift is masked too (the recording on disk is not).
    export = await op.post("/api/v1/recordings/exports", json={**rng, "reason": "案件"})
    assert export.status_code == 202 and export.json()["masked"] is True, export.text
    ready = await until_ready(op, export.json()["id"])
    mp4 = next(f for f in ready["files"] if f["name"].endswith(".mp4"))
    exported = frames_of((await op.get(mp4["url"])).content)
    assert len(exported) >= 90 and all(float(luma[30:, 90:].max()) < 40 for luma in exported)
    assert abs(float(exported[0][4:28, 4:28].mean()) - marker_level(MARKER)) < 15

    # The masked token opens none of the unmasked routes.
    plain_init = f"/api/v1/playback/{camera}/init/{segment['id']}.mp4"
    assert (await op.get(plain_init, params={"token": opened["token"]})).status_code == 404

    # A lift approved by a second person: the original, as recorded.
    ask = {**rng, "action": "playback", "reason": "案件"}
    asked = (await op.post("/api/v1/recordings/approvals", json=ask)).json()
    decision = {"approve": True, "reason": "同意"}
    decided = await admin.post(f"/api/v1/recordings/approvals/{asked['id']}/decision", json=decision)
    assert decided.status_code == 200
    lifted = (await op.post("/api/v1/recordings/playback", json={**rng, "approval": asked["id"]})).json()
    assert lifted["masked"] is False
    original = (await op.get(lifted["plan"])).json()["segments"][0]
    data = (await op.get(original["init"])).content + (await op.get(original["chunks"][0]["url"])).content
    assert max(float(luma[40:56, 83:].max()) for luma in frames_of(data)) > 200  # the bright square, unmasked

    # The lifted token is bound to the approval: its range, and nothing outside it.
    assert lifted["approval"] == asked["id"] and lifted["plan"].startswith(f"/api/v1/playback/{camera}/")
    token = {"token": lifted["token"]}
    early = {"from": iso(rig.wall.now - 3600), "to": iso(rig.wall.now - 1800), **token}
    refused = await op.get(f"/api/v1/playback/{camera}/plan.json", params=early)
    assert refused.status_code == 403 and refused.json()["code"] == "approval_invalid", refused.text
    seek = await op.get(f"/api/v1/playback/{camera}/at.mp4", params={"t": iso(rig.wall.now - 600), **token})
    assert seek.status_code == 403
    segments = (await op.get(lifted["plan"])).json()["segments"]
    assert len(segments) >= 2
    first, last = segments[0], segments[-1]
    narrow = {**rng, "to": iso(first["end"] - 0.2)}  # the first segment only
    asked2 = (
        await op.post("/api/v1/recordings/approvals", json={**narrow, "action": "playback", "reason": "案件"})
    ).json()
    await admin.post(f"/api/v1/recordings/approvals/{asked2['id']}/decision", json=decision)
    small = (await op.post("/api/v1/recordings/playback", json={**narrow, "approval": asked2["id"]})).json()
    mine = {"token": small["token"]}
    for url in (first["init"], first["chunks"][0]["url"]):
        assert (await op.get(url.split("?")[0], params=mine)).status_code == 200
    for url in (last["init"], last["chunks"][-1]["url"]):
        outside = await op.get(url.split("?")[0], params=mine)
        assert outside.status_code == 403 and outside.json()["code"] == "approval_invalid", url
    # The first lifted token still serves its own range.
    assert (await op.get(lifted["plan"])).status_code == 200
