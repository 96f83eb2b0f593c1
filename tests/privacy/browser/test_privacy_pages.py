"""The privacy pages in Chromium: an admin draws a mask on the console's editor (three clicks, finish,
save) and the API has it; a resident opens the camera's privacy page on the TV layout and reads it with
the remote's arrows (the focus moves block by block), sees the masked area counted, and leaves with
OK on Back. Out of scope the page is missing (404), like the API. The admin plays the masked camera's
recording on the console's playback page: the player gets the masked variant (the area is black)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.app import LiveServer, logged_in_client, make_settings
from tests.support.browser import PLAYBACK_TRIANGLE_MAX, NewPage, log_in_context
from tests.support.recordings import record_recent
from xueliang.app import create_app

pytestmark = pytest.mark.browser


@pytest.fixture
def server(privacy_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    settings = make_settings(privacy_url, tmp_path)
    live = LiveServer(create_app(settings, migrate_on_start=False))
    live.app_settings = settings  # type: ignore[attr-defined]  # where record() writes
    live.start()
    yield live
    live.stop()


def client(server: LiveServer, username: str) -> contextlib.AbstractContextManager[httpx.Client]:
    return logged_in_client(f"{server.url}/api/v1", username)


# The brightest grey (0..255) inside the drawn triangle (0.6,0.5)-(0.9,0.5)-(0.9,0.9) of the playback tile's
# picture: a box well inside it, clear of the encoder's edge. Unmasked it shows the clip's grey (90).
MASKED_MAX = PLAYBACK_TRIANGLE_MAX


def record(server: LiveServer, camera: int) -> float:
    """4 s of the camera in the server's recordings folder, ending a second ago (its start, Unix time)."""
    settings = server.app_settings
    return record_recent(str(settings.database_url), settings.data_dir / "recordings", camera)


def log_in(page: Page, server: LiveServer, username: str) -> None:
    log_in_context(page, server.url, username)


def test_mask_editor_and_the_tv_privacy_page(server: LiveServer, new_page: NewPage, artifacts: Path) -> None:
    with client(server, "res-v01") as resident, client(server, "op-shimen") as other:
        camera = resident.get("/cameras").json()[0]["id"]
        foreign = other.get("/cameras").json()[0]["id"]

    page = new_page(1280, 800)
    log_in(page, server, "admin")
    page.goto(f"{server.url}/masks/{camera}")
    expect(page.locator("#mask-editor")).to_have_attribute("data-ready", "1")
    overlay = page.locator("#me-overlay")
    box = overlay.bounding_box()
    assert box is not None
    for fx, fy in ((0.6, 0.5), (0.9, 0.5), (0.9, 0.9)):
        overlay.click(position={"x": box["width"] * fx, "y": box["height"] * fy})
    page.click("#me-finish")
    page.locator(".me-item input").fill("12号窗户")
    page.click("#me-save")
    expect(page.locator("#mask-editor")).to_have_attribute("data-saved", "1")
    with client(server, "admin") as admin:
        saved = admin.get(f"/cameras/{camera}/masks").json()["masks"]
    assert len(saved) == 1 and saved[0]["label"] == "12号窗户"
    expected = [(0.6, 0.5), (0.9, 0.5), (0.9, 0.9)]
    for (x, y), (ex, ey) in zip(saved[0]["points"], expected, strict=True):
        assert abs(x - ex) < 0.02 and abs(y - ey) < 0.02

    tv = new_page(1280, 720)
    log_in(tv, server, "res-v01")
    tv.goto(f"{server.url}/tv/privacy/{camera}")
    expect(tv.locator("#pv-watches")).to_be_focused()
    expect(tv.locator("#pv-masks")).to_contain_text("1")
    for block in ("purpose", "controller", "retention", "masks"):
        tv.keyboard.press("ArrowDown")
        expect(tv.locator(f"#pv-{block}")).to_be_focused()
    tv.screenshot(path=str(artifacts / "browser-privacy-tv.png"), animations="disabled")
    for _ in range(5):
        tv.keyboard.press("ArrowUp")
    expect(tv.locator("#pv-back")).to_be_focused()
    assert tv.request.get(f"{server.url}/tv/privacy/{foreign}").status == 404
    assert tv.request.get(f"{server.url}/privacy/{foreign}").status == 404
    assert tv.request.get(f"{server.url}/masks/{camera}").status == 404  # residents draw no masks
    tv.keyboard.press("Enter")
    tv.wait_for_url(f"{server.url}/tv", wait_until="commit")

    # Recorded video of the masked camera plays masked on the console's playback page.
    start = record(server, camera)
    op = page  # the admin: a recording is masked for every role until a second person approves a lift
    op.goto(f"{server.url}/playback?cams={camera}&t={start + 1:.3f}")
    op.wait_for_function(
        "() => { const v = document.querySelector('.pb-tile video'); return v && v.readyState >= 2; }"
    )
    assert 0 <= op.evaluate(MASKED_MAX) < 60, "the masked area shows through"
