"""Masked playback and export of a PTZ camera: each recorded frame gets the mask set in force when it was
recorded. A recording of 4 s, during which our PTZ commands had the dome at preset 6, then moved it by
hand, then called preset 7: frames of the first part have preset 6's area filled, the middle ones the
whole picture, the last ones preset 7's area, in the masked chunks and in the masked export alike."""

from __future__ import annotations

import io
import json
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import av
import pytest
from fastapi import FastAPI
from sqlalchemy import delete, update

from tests.privacy.test_masked_playback import iso, until_ready
from tests.support.alarms import logins_to
from tests.support.app import make_settings
from tests.support.clips import encode_clip
from tests.support.recordings import Rig, Wall
from xueliang.app import create_app
from xueliang.cameras import masks
from xueliang.cameras.mask_models import CameraMask, CameraMaskSet, CameraPtzPosition
from xueliang.cameras.models import Camera
from xueliang.core.context import AppContext
from xueliang.media.mask.presets import SETTLE_SECONDS
from xueliang.media.recording.recorder import RecorderConfig
from xueliang.recordings.config import RecordingSettings

LEFT = [[0.0, 0.2], [0.45, 0.2], [0.45, 1.0], [0.0, 1.0]]  # preset 6's area
RIGHT = [[0.55, 0.2], [1.0, 0.2], [1.0, 1.0], [0.55, 1.0]]  # preset 7's area
MARGIN = 0.15  # seconds either side of a switch where a frame may show either state


@pytest.fixture
async def rec(privacy_url: str, tmp_path: Path) -> AsyncIterator[tuple[FastAPI, Rig]]:
    settings = make_settings(
        privacy_url,
        tmp_path / "data",
        recording=RecordingSettings(retention_every=3600, min_free_bytes=0, min_free_percent=0),
    )
    app = create_app(settings, migrate_on_start=False)
    clip = encode_clip(frames=50, gop=25, width=160, height=96, camera_index=3)
    rig = Rig(privacy_url, tmp_path / "data" / "recordings", clip, Wall(time.time() - 60),
              RecorderConfig(segment_seconds=2.0))  # fmt: skip
    async with app.router.lifespan_context(app):
        yield app, rig
    await rig.db.dispose()


def state(luma: Any) -> str:
    """Which areas a frame has filled: "6" (the left), "7" (the right), "whole" or "none"."""
    h, w = luma.shape
    left = luma[int(h * 0.3) : h - 4, 4 : int(w * 0.4)]
    right = luma[int(h * 0.3) : h - 4, int(w * 0.6) : w - 4]
    if float(luma.max()) < 40:
        return "whole"
    filled_left, filled_right = float(left.max()) < 40, float(right.max()) < 40
    return {(True, False): "6", (False, True): "7"}.get((filled_left, filled_right), "none")


def timed_frames(data: bytes, origin: float) -> list[tuple[float, str]]:
    """(wall time, state) of every frame: `origin` is the wall time of the file's time 0."""
    with av.open(io.BytesIO(data), "r") as container:
        return [
            (origin + float(f.time), state(f.to_ndarray(format="gray"))) for f in container.decode(video=0)
        ]


def check(frames: list[tuple[float, str]], expected: Callable[[float], str]) -> set[str]:
    seen = set()
    for at, got in frames:
        near = {expected(at - MARGIN), expected(at + MARGIN)}
        assert got in near, f"frame at {at:.2f}: {got}, expected {near}"
        seen.add(got)
    return seen


async def test_playback_and_export_mask_each_frame_with_the_set_then_in_force(
    rec: tuple[FastAPI, Rig],
) -> None:
    app, rig = rec
    ctx: AppContext = app.state.ctx
    async with logins_to(app) as login:
        admin, op = await login("admin"), await login("op-qingxi")
        camera = [c["id"] for c in (await op.get("/api/v1/cameras")).json()][4]
        start = rig.wall.now
        await rig.start(camera)
        await rig.record(4.0)
        await rig.recorder.stop()
        async with ctx.db.session() as session:
            await session.execute(update(Camera).where(Camera.id == camera).values(ptz=True))
            await session.commit()
        try:
            for preset, area in ((6, LEFT), (7, RIGHT)):
                body = {"masks": [{"points": area}]}
                r = await admin.put(f"/api/v1/cameras/{camera}/masks", params={"preset": preset}, json=body)
                assert r.status_code == 200, r.text
            moved, called = start + 1.5, start + 1.6

            def at(ts: float) -> datetime:
                return datetime.fromtimestamp(ts, UTC)

            async with ctx.db.session() as session:
                await masks.record_position(session, camera, 6, "preset_call", "admin", at(start - 30))
                await masks.record_position(session, camera, None, "move", "admin", at(moved))
                await masks.record_position(session, camera, 7, "preset_call", "admin", at(called))
                await session.commit()

            def expected(ts: float) -> str:
                return "6" if ts < moved else "whole" if ts < called + SETTLE_SECONDS else "7"

            rng = {"camera_id": camera, "from": iso(start - 1), "to": iso(rig.wall.now + 1)}
            opened = (await op.post("/api/v1/recordings/playback", json=rng)).json()
            assert opened["masked"] is True
            plan = (await op.get(opened["plan"])).json()
            frames: list[tuple[float, str]] = []
            for segment in plan["segments"]:
                init = (await op.get(segment["init"])).content
                origin = segment["start"] - segment["media_start"] / 90_000
                for chunk in segment["chunks"]:
                    got = await op.get(chunk["url"])
                    assert got.status_code == 200, got.text
                    frames += timed_frames(init + got.content, origin)
            assert len(frames) >= 90
            assert check(frames, expected) == {"6", "whole", "7"}

            export = await op.post("/api/v1/recordings/exports", json={**rng, "reason": "案件"})
            assert export.status_code == 202 and export.json()["masked"] is True, export.text
            ready = await until_ready(op, export.json()["id"])
            files = {f["name"]: f["url"] for f in ready["files"]}
            mp4 = next(url for name, url in files.items() if name.endswith(".mp4"))
            manifest = json.loads((await op.get(files["manifest.json"])).content)
            first = datetime.fromisoformat(manifest["recorded"]["from"].replace("Z", "+00:00")).timestamp()
            assert manifest["privacy_masks"] == {"masked": True, "areas": 2, "per_preset": True}
            exported = timed_frames((await op.get(mp4)).content, first)
            assert len(exported) >= 90
            assert check(exported, expected) == {"6", "whole", "7"}
        finally:
            async with ctx.db.session() as session:
                await session.execute(update(Camera).where(Camera.id == camera).values(ptz=False))
                for table in (CameraMask, CameraMaskSet, CameraPtzPosition):
                    await session.execute(delete(table).where(table.camera_id == camera))
                await session.commit()
