"""Chromium's MSE plays the B-frame camera through the project's own player (player.js): GStreamer's
RTSP server encoding x264 with two B-frames, our RTSP client, the channel, the live WebSocket route,
Media Source Extensions. The video must play on, decoding frames at the camera's 25 fps of media time,
in one buffered range (no holes where frames were misplaced), with no errors from the page. The camera
also sends AAC with its sound on: the player's <audio> plays it from the sound socket, muted until the
sound button is pressed, on the picture's time, and the picture is no worse for it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

import xueliang.web
from tests.support.gst_camera import AAC, H264_BFRAMES, gst_cameras
from tests.support.media import serve
from tests.support.waits import wait_until
from xueliang.media.engine import CameraSpec, MediaEngine
from xueliang.media.live import LiveGateway
from xueliang.media.rtsp.client import RtspSource
from xueliang.media.sources import FrameSession
from xueliang.media.tokens import StreamClaims

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Debian's Chromium is not installed at /usr/bin/chromium"
    ),
]
STATIC = Path(xueliang.web.__file__).parent / "static"
PAGE = """<!doctype html><html><body><div id="host"></div><script type="module">
import { createPlayer } from "/static/js/player.js";
const player = createPlayer(document.getElementById("host"), { ws: "/api/v1/live/1/ws?token=t" });
window.video = player.video;
window.sound = player.sound;
</script></body></html>"""

STATE = """() => {
  const v = window.video, q = v && v.getVideoPlaybackQuality();
  return v && { t: v.currentTime, ranges: v.buffered.length, decoded: q.totalVideoFrames,
                dropped: q.droppedVideoFrames, error: v.error && v.error.message };
}"""


SOUND_PLAYS = """() => { const a = window.sound && window.sound();
  return a && a.buffered.length > 0 && a.currentTime > 0.5 && a.webkitAudioDecodedByteCount > 0; }"""
SOUND = """() => { const a = window.sound(), v = window.video;
  return { muted: a.muted, bytes: a.webkitAudioDecodedByteCount, ranges: a.buffered.length,
           drift: a.currentTime - v.currentTime }; }"""


def claims(token: str, camera_id: int) -> StreamClaims:
    return StreamClaims(1, camera_id, "live", int(time.time()) + 600, "n")


@pytest.fixture
async def player_url() -> AsyncIterator[str]:
    with gst_cameras({"h264b": f"{H264_BFRAMES} {AAC}"}) as urls:
        source = RtspSource(urls["h264b"], audio=True)

        def pull(spec: CameraSpec) -> FrameSession:
            return source.open()

        engine = MediaEngine(pull)
        gateway = LiveGateway(engine, claims)
        app = FastAPI()
        app.include_router(gateway.router)
        app.mount("/static", StaticFiles(directory=STATIC), name="static")
        app.add_api_route("/", lambda: HTMLResponse(PAGE), methods=["GET"])
        await engine.start([CameraSpec(1, urls["h264b"], options={"audio": True})])
        try:
            await wait_until(lambda: engine.channel(1).init is not None, within=30, what="the camera")
            async with serve(app) as host:
                yield f"http://{host}/"
        finally:
            await gateway.aclose()
            await engine.stop()


async def test_chromium_plays_the_b_frame_camera_at_full_rate(player_url: str) -> None:
    from playwright.async_api import async_playwright

    errors: list[str] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"],
        )
        try:
            page = await browser.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(player_url)
            await page.wait_for_function(
                "() => window.video && window.video.currentTime > 0.5", timeout=20_000
            )
            first = await page.evaluate(STATE)
            await page.wait_for_function(
                f"() => window.video.currentTime > {first['t'] + 2.0}", timeout=30_000
            )
            last = await page.evaluate(STATE)
            await page.wait_for_function(SOUND_PLAYS, timeout=20_000)
            muted_before = await page.evaluate("() => window.sound().muted")
            await page.click(".player-sound")  # a user's gesture: browsers allow sound after one
            # the player moves the sound onto the picture's time when they are > 0.3 s apart (player.js
            # SYNC_S): a single sample can fall just before a correction on a busy machine, so wait for it
            await page.wait_for_function(
                "() => Math.abs(window.sound().currentTime - window.video.currentTime) < 0.5", timeout=10_000
            )
            heard = await page.evaluate(SOUND)
        finally:
            await browser.close()
    assert not errors and last["error"] is None
    played = last["t"] - first["t"]
    decoded = last["decoded"] - first["decoded"]
    print(f"Chromium: {decoded} frames decoded over {played:.2f} s of media ({last['dropped']} dropped)")
    assert decoded >= round(played * 25) - 3  # 25 fps of media time: no frame lost or merged
    assert last["ranges"] == 1  # one buffered range: every frame where its timestamps put it
    print(f"Chromium sound: {heard}")
    assert muted_before and not heard["muted"] and heard["bytes"] > 0 and heard["ranges"] >= 1
    assert abs(heard["drift"]) < 0.5  # kept on the picture's time
