"""Playwright helpers for the browser tests: Debian's Chromium (never a downloaded browser), one browser
per package, a fresh context (cookies, storage, service workers) per page, and logging in as a person.

The fixtures here are re-exported by the conftest.py of each package of browser tests (tests/browser,
tests/recordings/browser): a package-scoped fixture lives for the package whose conftest holds it, so
Playwright's private event loop is gone before any later asyncio test starts."""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from xueliang.media.sim.marker import decode_marker, region
from xueliang.seed.demo import DEMO_PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
TIMEOUT_MS = 15_000

expect.set_options(timeout=TIMEOUT_MS)


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    if not CHROMIUM.exists():
        pytest.skip("Debian's Chromium is not installed at /usr/bin/chromium (apt-get install chromium)")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    b = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
    yield b
    b.close()


NewPage = Callable[..., Page]


@pytest.fixture
def new_page(browser: Browser) -> Iterator[NewPage]:
    """`page = new_page(1280, 720)`: a page in its own context; JavaScript errors fail the test."""
    contexts: list[BrowserContext] = []
    errors: list[str] = []

    def make(width: int = 1440, height: int = 900, **options: Any) -> Page:
        ctx = browser.new_context(
            viewport={"width": width, "height": height},
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
            **options,
        )
        ctx.set_default_timeout(TIMEOUT_MS)
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        return page

    yield make
    for ctx in contexts:
        ctx.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def login_form(
    page: Page, base_url: str, username: str, terminal: str = "console", next_path: str = ""
) -> None:
    """Logs in through the terminal's login page, as a person would (mouse and keyboard)."""
    query = f"terminal={terminal}" + (f"&next={next_path}" if next_path else "")
    page.goto(f"{base_url}/login?{query}")
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    page.click("#login-submit")
    page.wait_for_url(re.compile(r"^(?!.*/login).*$"))


def dismiss_urgent_notices(page: Page, base_url: str) -> None:
    """Unread urgent notices (the demo seed aims one at Qingxi) cover the TV until OK is pressed on each."""
    urgent = api_json(page, base_url, "/portal/notices/urgent")
    for _ in urgent:
        expect(page.locator("#urgent-ok")).to_be_focused()
        page.keyboard.press("Enter")
    expect(page.locator("#tv-urgent")).to_be_hidden()


def api_json(page: Page, base_url: str, path: str) -> Any:
    """GET /api/v1`path` with the page's own session cookie."""
    response = page.request.get(f"{base_url}/api/v1{path}")
    assert response.ok, f"{path}: {response.status} {response.text()}"
    return response.json()


# The marker's corner of the picture a <video> shows, as base64 RGBA: a few kB per look instead of the
# whole frame as a JSON array of numbers (which cost hundreds of milliseconds a poll).
CORNER_JS = """([sel, w, h]) => {
    const v = document.querySelector(sel);
    if (!v || !v.videoWidth || v.readyState < 2) return null;
    const c = document.createElement('canvas');
    c.width = w; c.height = h;
    c.getContext('2d').drawImage(v, 0, 0, w, h, 0, 0, w, h);
    const px = c.getContext('2d').getImageData(0, 0, w, h).data;
    let bin = '';
    for (let i = 0; i < px.length; i += 8192) bin += String.fromCharCode(...px.subarray(i, i + 8192));
    return {vw: v.videoWidth, vh: v.videoHeight, t: v.currentTime, b64: btoa(bin)};
}"""


def shown_camera(page: Page, selector: str) -> tuple[int | None, float]:
    """The camera number in the picture the <video> shows now (its identity marker), and its time."""
    size = page.evaluate(
        "(sel) => { const v = document.querySelector(sel); return v && [v.videoWidth, v.videoHeight]; }",
        selector,
    )
    if not size or not size[1]:
        return None, 0.0
    _, _, w, h = region(size[1])
    corner = page.evaluate(CORNER_JS, [selector, w, h])
    if corner is None:
        return None, 0.0
    frame = np.zeros((corner["vh"], corner["vw"], 3), dtype=np.uint8)
    rgba = np.frombuffer(base64.b64decode(corner["b64"]), dtype=np.uint8).reshape(h, w, 4)
    frame[:h, :w] = rgba[..., :3]
    return decode_marker(frame), float(corner["t"])


def log_in_context(page: Page, base_url: str, username: str, password: str = DEMO_PASSWORD) -> None:
    """A session cookie for the page's browser context through the API (the login form has its own
    tests), for tests about what comes after."""
    r = page.request.post(f"{base_url}/api/v1/auth/login", data={"username": username, "password": password})
    assert r.ok, r.text()


# The brightest grey (0..255) in a box well inside the triangle (0.6,0.5)-(0.9,0.5)-(0.9,0.9) of the
# playback tile's picture (-1 while there is no picture): black while masked, the test clip's grey (90)
# and its moving block once shown. Clear of the encoder's edge.
PLAYBACK_TRIANGLE_MAX = """() => {
    const v = document.querySelector('.pb-tile video');
    if (!v || v.readyState < 2 || !v.videoWidth) return -1;  // no picture (yet): the tile (re)loads
    const c = document.createElement('canvas');
    c.width = v.videoWidth; c.height = v.videoHeight;
    const g = c.getContext('2d');
    g.drawImage(v, 0, 0);
    const x0 = Math.ceil(c.width * 0.8), y0 = Math.ceil(c.height * 0.53);
    const px = g.getImageData(x0, y0, Math.floor(c.width * 0.07), Math.floor(c.height * 0.06)).data;
    let max = 0;
    for (let i = 0; i < px.length; i += 4) max = Math.max(max, px[i], px[i + 1], px[i + 2]);
    return max;
}"""
