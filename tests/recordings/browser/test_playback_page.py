"""The console's playback page in Chromium: recorded video plays from the index, the speed and keyframe
controls act on it, clicking the timeline seeks, and a resident finds no page at all."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page
from tests.support.app import LiveServer, make_settings
from tests.support.browser import login_form
from tests.support.recordings import Rig, run_async

from xueliang.app import create_app
from xueliang.recordings.config import RecordingSettings

pytestmark = pytest.mark.browser


@pytest.fixture
def site(
    rec_url: str, tmp_path: Path, rig_factory_sync: Callable[[Path], tuple[int, float, float]]
) -> Iterator[tuple[str, int, float, float]]:
    data = tmp_path / "data"
    camera_id, start, end = rig_factory_sync(data / "recordings")
    settings = make_settings(
        rec_url, data, recording=RecordingSettings(retention_every=3600, min_free_bytes=0, min_free_percent=0)
    )
    server = LiveServer(create_app(settings, migrate_on_start=False))
    server.start()
    try:
        yield server.url, camera_id, start, end
    finally:
        server.stop()


@pytest.fixture
def rig_factory_sync(
    rec_url: str, clip: list, village_cameras: list[int]
) -> Callable[[Path], tuple[int, float, float]]:
    """Records 20 s of camera 1 of village 1, ending two minutes ago, into `root`."""

    def make(root: Path) -> tuple[int, float, float]:
        from tests.support.recordings import Wall

        from xueliang.media.recording.recorder import RecorderConfig

        async def go() -> tuple[int, float, float]:
            start = time.time() - 140
            rig = Rig(rec_url, root, clip, Wall(start), RecorderConfig(segment_seconds=6.0))
            cam = village_cameras[0]
            await rig.start(cam, village_cameras[1])  # a second camera for synced playback
            await rig.record(20.0)
            await rig.close()
            return cam, start, start + 20.0

        return run_async(go)

    return make


def video_state(page: Page) -> dict[str, float]:
    state: dict[str, float] = page.evaluate(
        """() => { const v = document.querySelector('.pb-tile video');
                   if (!v) return {t: -1, rate: 0, ready: 0, paused: 1};
                   return {t: v.currentTime, rate: v.playbackRate, ready: v.readyState,
                           paused: v.paused ? 1 : 0}; }"""
    )
    return state


def test_recorded_video_plays_seeks_and_steps(
    site: tuple[str, int, float, float], new_page: Callable[..., Page]
) -> None:
    base, cam, start, _ = site
    page = new_page()
    login_form(page, base, "op-qingxi", next_path="/playback")
    page.goto(f"{base}/playback?cams={cam}&t={start + 3:.3f}")
    page.wait_for_function(
        "() => { const v = document.querySelector('.pb-tile video'); return v && v.readyState >= 2; }"
    )
    first = video_state(page)
    page.click("#pb-play")
    page.wait_for_function(f"() => document.querySelector('.pb-tile video').currentTime > {first['t'] + 1.0}")
    page.click(".pb-speed[data-rate='4']")
    page.wait_for_function("() => document.querySelector('.pb-tile video').playbackRate === 4")
    page.click("#pb-play")  # pause
    page.wait_for_function("() => document.querySelector('.pb-tile video').paused")
    clock_before = page.text_content("#pb-clock")
    # A step needs the next keyframe loaded; until it is, the page says so and stays put, and a user
    # presses again. Press until the clock moves (bounded), then judge where the step landed.
    for _ in range(20):
        page.click("#pb-next-key")
        if page.text_content("#pb-clock") != clock_before:
            break
        page.wait_for_timeout(250)
    page.wait_for_function(
        "() => { const v = document.querySelector('.pb-tile video'); return v.paused && v.readyState >= 2; }"
    )
    stepped = video_state(page)
    # The player was put at start + 3 s; this clip's keyframes are every whole second from the start.
    offset = stepped["t"] - first["t"]
    assert offset > 1.0 and abs(offset - round(offset)) < 0.07
    assert page.text_content("#pb-clock") != clock_before
    # Clicking the timeline seeks: zoom to 5 min around the playhead, click 2 % (6 s) right of it.
    page.click("[data-span='300']")
    box = page.locator("#pb-timeline").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + box["width"] * 0.52, box["y"] + box["height"] * 0.6)
    target = stepped["t"] + 6
    page.wait_for_function(
        f"() => {{ const v = document.querySelector('.pb-tile video');"
        f" return v.readyState >= 2 && Math.abs(v.currentTime - {target}) < 1.0; }}"
    )
    assert page.locator(".pb-status").is_hidden()


def test_a_resident_has_no_playback_page(
    site: tuple[str, int, float, float], new_page: Callable[..., Page]
) -> None:
    base, _, _, _ = site
    page = new_page()
    login_form(page, base, "res-v01", terminal="mobile")
    response = page.goto(f"{base}/playback")
    assert response is not None and response.status == 404


def test_two_cameras_play_in_sync(
    site: tuple[str, int, float, float], new_page: Callable[..., Page], village_cameras: list[int]
) -> None:
    base, cam, start, _ = site
    page = new_page()
    login_form(page, base, "op-qingxi", next_path="/playback")
    page.goto(f"{base}/playback?cams={cam},{village_cameras[1]}&t={start + 2:.3f}")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.pb-tile video')].filter(v => v.readyState >= 2).length === 2"
    )
    page.click(".pb-speed[data-rate='2']")
    page.click("#pb-play")
    page.wait_for_function(
        "() => document.querySelector('.pb-tile video').currentTime > 0 && "
        "[...document.querySelectorAll('.pb-tile video')].every(v => !v.paused)"
    )
    for _ in range(5):
        page.wait_for_timeout(400)
        times = page.evaluate(
            "() => [...document.querySelectorAll('.pb-tile video')].map(v => v.currentTime)"
        )
        assert abs(times[0] - times[1]) < 0.35, times
