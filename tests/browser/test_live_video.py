"""Real live video in Chromium: simulator -> RTSP ingest -> fMP4 over WebSocket -> Media Source
Extensions. The frame the browser shows is read back from a canvas and its identity marker decoded, so
the test proves the right camera reached the right screen."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import NewPage, api_json, dismiss_urgent_notices, login_form, shown_camera
from tests.support.node import Node, number_of, online
from tests.support.waits import wait_for
from xueliang.seed.demo import DEMO_PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def wait_playing(page: Page, selector: str, camera_number: int, timeout: float = 30) -> None:
    """Until the video advances and shows `camera_number` in its pixels."""
    first_t: list[float] = []

    def ok() -> bool:
        marker, t = shown_camera(page, selector)
        if marker is None:
            return False
        if not first_t:
            first_t.append(t)
        return marker == camera_number and t > first_t[0] + 0.5

    try:
        wait_for(ok, timeout, f"camera {camera_number} playing in {selector}", every=0.25)
    except AssertionError:
        state = page.evaluate(
            """(sel) => { const v = document.querySelector(sel); return v && {rs: v.readyState,
            t: v.currentTime, w: v.videoWidth, paused: v.paused, err: v.error && v.error.message,
            msg: document.body.innerText.slice(0, 300)}; }""",
            selector,
        )
        raise AssertionError(
            f"camera {camera_number} not playing in {selector}: {state}, "
            f"marker now {shown_camera(page, selector)[0]}"
        ) from None


def test_console_plays_a_live_tile(new_page: NewPage, node: Node, artifacts: Path) -> None:
    wait_for(lambda: online(node), 60, "simulated cameras online")
    page = new_page(1440, 900)
    login_form(page, node.url, "op-qingxi")
    cam = next(c for c in api_json(page, node.url, "/cameras") if c["enabled"])
    page.locator(f'[data-camera-id="{cam["id"]}"]').first.click()
    page.get_by_role("button", name=re.compile("实时|live", re.I)).first.click()
    video = "#wall video"
    expect(page.locator(video).first).to_be_attached()
    wait_playing(page, video, number_of(cam["gb_id"]))
    page.screenshot(path=str(artifacts / "browser-console-live-tile.png"))


def test_tv_switches_live_camera_with_arrow_keys(new_page: NewPage, node: Node, artifacts: Path) -> None:
    wait_for(lambda: online(node), 60, "simulated cameras online")
    page = new_page(1280, 720)
    page.goto(f"{node.url}/login?terminal=tv&next=/tv")
    page.keyboard.type("res-v01")
    page.keyboard.press("ArrowDown")
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{node.url}/tv")
    dismiss_urgent_notices(page, node.url)
    cams = api_json(page, node.url, "/cameras")
    assert len(cams) >= 2
    expect(page.locator("#tile-cameras")).to_be_focused()
    page.keyboard.press("Enter")
    expect(page.locator("#screen-list .tv-card").nth(0)).to_be_focused()
    page.keyboard.press("Enter")
    video = "#tv-player video"
    wait_playing(page, video, number_of(cams[0]["gb_id"]))
    page.screenshot(path=str(artifacts / "browser-tv-live-1.png"))
    page.keyboard.press("ArrowRight")
    expect(page.locator("#view-name")).to_have_text(cams[1]["name"])
    wait_playing(page, video, number_of(cams[1]["gb_id"]))
    page.screenshot(path=str(artifacts / "browser-tv-live-2.png"))
