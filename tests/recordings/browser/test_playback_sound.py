"""Recorded sound in the console's playback page (docs/media-audio.md): a recording whose segments have
their sound beside them (`.m4a`, as the recorder writes for a camera with sound on) plays it in Chromium,
muted until the tile's sound button is pressed, on the picture's time; the plan names the sound and the
sound route serves it with the playback token only."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import httpx
import numpy as np
import pytest
from playwright.sync_api import Page
from sqlalchemy import select
from tests.support.app import LiveServer, make_settings
from tests.support.browser import login_form
from tests.support.recordings import Rig, Wall, run_async

from xueliang.app import create_app
from xueliang.media.audio.fmp4 import AudioFragmentWriter, build_audio_init
from xueliang.media.audio.frames import AudioCodec, AudioConfig
from xueliang.media.recording.recorder import RecorderConfig
from xueliang.media.recording.segment_io import audio_path
from xueliang.recordings.config import RecordingSettings
from xueliang.recordings.models import RecordingSegment

pytestmark = pytest.mark.browser
RATE = 16000


def write_sound(root: Path, path: str, media_start: int, media_end: int) -> None:
    """A sine as AAC on the segment's clock (sound second t plays with video tick t * 90000), written as
    the recorder writes a camera's sound: init, then fragments of five frames."""
    encoder = av.CodecContext.create("aac", "w")
    encoder.sample_rate, encoder.layout, encoder.format = RATE, "mono", "fltp"
    encoder.time_base = Fraction(1, RATE)
    encoder.open()
    asc = bytes(encoder.extradata or b"")
    seconds = (media_end - media_start) / 90_000
    packets: list[bytes] = []
    for n in range(int(seconds * RATE) // 1024):
        t = (np.arange(1024) + n * 1024) / RATE
        frame = av.AudioFrame.from_ndarray(
            (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None, :], format="fltp", layout="mono"
        )
        frame.sample_rate, frame.pts = RATE, n * 1024
        packets += [bytes(p) for p in encoder.encode(frame)]
    packets += [bytes(p) for p in encoder.encode(None)]
    init = build_audio_init(AudioConfig(AudioCodec.aac, RATE, 1, asc))
    writer = AudioFragmentWriter()
    first = media_start * RATE // 90_000
    out = [init.data]
    for i in range(0, len(packets) - 4, 5):
        out.append(writer.write(first + i * 1024, packets[i : i + 5], 1024))
    (root / audio_path(path)).write_bytes(b"".join(out))


@pytest.fixture
def site(
    rec_url: str, clip: list, village_cameras: list[int], tmp_path: Path
) -> Iterator[tuple[str, int, float]]:
    data = tmp_path / "data"
    root = data / "recordings"

    async def record() -> tuple[int, float]:
        start = time.time() - 140
        rig = Rig(rec_url, root, clip, Wall(start), RecorderConfig(segment_seconds=6.0))
        cam = village_cameras[0]
        await rig.start(cam)
        await rig.record(12.0)
        await rig.recorder.stop()
        async with rig.db.session() as session:
            rows = (await session.execute(select(RecordingSegment.path, RecordingSegment.media_start,
                    RecordingSegment.media_end).where(RecordingSegment.camera_id == cam))).all()  # fmt: skip
        await rig.db.dispose()
        for path, media_start, media_end in rows:
            write_sound(root, path, media_start, media_end)
        return cam, start

    cam, start = run_async(record)
    settings = make_settings(
        rec_url, data, recording=RecordingSettings(retention_every=3600, min_free_bytes=0, min_free_percent=0)
    )
    server = LiveServer(create_app(settings, migrate_on_start=False))
    server.start()
    try:
        yield server.url, cam, start
    finally:
        server.stop()


SOUND = """() => { const a = document.querySelector('.pb-tile audio');
  const v = document.querySelector('.pb-tile video');
  return a && { t: a.currentTime, muted: a.muted, paused: a.paused, ranges: a.buffered.length,
                bytes: a.webkitAudioDecodedByteCount, drift: a.currentTime - v.currentTime }; }"""


def test_recorded_sound_plays_beside_the_picture(
    site: tuple[str, int, float], new_page: Callable[..., Page]
) -> None:
    base, cam, start = site
    page = new_page()
    login_form(page, base, "op-qingxi", next_path="/playback")
    page.goto(f"{base}/playback?cams={cam}&t={start + 2:.3f}")
    page.wait_for_function(
        "() => { const v = document.querySelector('.pb-tile video'); return v && v.readyState >= 2; }"
    )
    plan_url = page.evaluate("() => performance.getEntriesByType('resource').map(e => e.name)"
                             ".find(n => n.includes('/plan.json'))")  # fmt: skip
    page.click("#pb-play")
    page.wait_for_function(
        "() => { const a = document.querySelector('.pb-tile audio');"
        " return a && !a.paused && a.currentTime > 0 && a.webkitAudioDecodedByteCount > 0; }"
    )
    before = page.evaluate(SOUND)
    page.click(".pb-tile .player-sound")  # the user's gesture: sound aloud
    page.wait_for_function("() => !document.querySelector('.pb-tile audio').muted")
    page.wait_for_function(
        f"() => document.querySelector('.pb-tile audio').currentTime > {before['t'] + 1.0}"
    )
    heard = page.evaluate(SOUND)
    print(f"playback sound: {heard}")
    assert before["muted"] and not heard["muted"] and heard["ranges"] >= 1 and heard["bytes"] > 0
    assert abs(heard["drift"]) < 0.5

    # The plan names each segment's sound; its route needs the playback token.
    plan = httpx.get(plan_url, timeout=10).json()
    sound = plan["segments"][0]["audio"]
    assert sound and httpx.get(f"{base}{sound}", timeout=10).content[4:8] == b"ftyp"
    refused = httpx.get(f"{base}{sound.split('?')[0]}", timeout=10)  # no token: as if missing
    assert refused.status_code == 404 and refused.json()["code"] == "not_found"
