"""Four eyes on the console's playback page, in Chromium with two users: an operator plays a masked
camera's recording and sees it masked (the masked area of the decoded picture is black), asks from the
tile to see it unmasked with a reason, and sees the request pending; the county admin approves it on
/approvals; the operator's tile then plays the approved range unmasked (the area shows the picture),
through a token bound to the approval that opens nothing outside the approved range, and the use of
the grant is on the audit trail. The camera is also marked sensitive: exporting a marked range needs
an approval too, which the operator asks for from the evidence panel and uses once it is given."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Page, Request, expect

from tests.support.app import LiveServer, logged_in_client, make_settings
from tests.support.browser import PLAYBACK_TRIANGLE_MAX, NewPage, log_in_context
from tests.support.db import seed_database
from tests.support.recordings import record_recent
from xueliang.app import create_app

pytestmark = pytest.mark.browser

# A triangle over the right half of the picture, and the brightest grey (0..255) in a box well inside
# it (-1 while there is no picture): black while masked, the clip's picture (grey 90 and the moving
# block) once the mask is lifted.
MASK = [[0.6, 0.5], [0.9, 0.5], [0.9, 0.9]]
AREA_MAX = PLAYBACK_TRIANGLE_MAX
PLAYING = "() => { const v = document.querySelector('.pb-tile video'); return v && v.readyState >= 2; }"


@pytest.fixture
def server(make_db_url: Callable[[], str], tmp_path: Path) -> Iterator[LiveServer]:
    url = make_db_url()  # a database of its own: the test draws masks and writes approvals
    seed_database(url)
    settings = make_settings(url, tmp_path)
    live = LiveServer(create_app(settings, migrate_on_start=False))
    live.app_settings = settings  # type: ignore[attr-defined]  # where record() writes
    live.start()
    yield live
    live.stop()


def client(server: LiveServer, username: str) -> contextlib.AbstractContextManager[httpx.Client]:
    return logged_in_client(f"{server.url}/api/v1", username)


def record(server: LiveServer, camera: int) -> float:
    """4 s of the camera in the server's recordings folder, ending a second ago (its start, Unix time)."""
    settings = server.app_settings  # type: ignore[attr-defined]
    return record_recent(str(settings.database_url), settings.data_dir / "recordings", camera)


def log_in(page: Page, server: LiveServer, username: str) -> None:
    log_in_context(page, server.url, username)


def token_action(url: str) -> str:
    """The action a stream URL's token was issued for (its signed payload, read without the key)."""
    token = parse_qs(urlsplit(url).query)["token"][0]
    head = token.split(".", 1)[0]
    return str(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))[3])


def test_operator_asks_admin_approves_operator_plays_unmasked(
    server: LiveServer, new_page: NewPage, artifacts: Path
) -> None:
    with client(server, "op-qingxi") as op_api:
        camera = op_api.get("/cameras").json()[0]["id"]
    with client(server, "admin") as admin_api:
        put = admin_api.put(f"/cameras/{camera}/masks", json={"masks": [{"label": "窗户", "points": MASK}]})
        assert put.status_code == 200, put.text
    start = record(server, camera)

    op = new_page(1280, 800)
    media: list[str] = []

    def seen(request: Request) -> None:
        if "/api/v1/playback/" in request.url:
            media.append(request.url)

    op.on("request", seen)
    log_in(op, server, "op-qingxi")
    op.goto(f"{server.url}/playback?cams={camera}&t={start + 1:.3f}")
    op.wait_for_function(PLAYING)
    tile = op.locator(".pb-tile")
    expect(tile).to_have_attribute("data-masked", "1")
    expect(tile.locator(".pb-lift .badge")).to_have_text("已打码")  # zh-CN first
    assert 0 <= op.evaluate(AREA_MAX) < 60, "the masked area shows through"
    assert all("/playback/masked/" in u for u in media), media

    # Ask from the tile, with a reason: half an hour around the playhead.
    tile.locator(".pb-lift-ask").click()
    tile.locator(".pb-lift-form input").fill("盗窃案取证 2030-17")
    tile.locator(".pb-lift-form button[type=submit]").click()
    bar = tile.locator(".pb-lift")
    expect(bar).to_have_attribute("data-state", "pending")
    approval = int(bar.get_attribute("data-approval") or 0)
    expect(bar.locator(".pb-lift-state")).to_contain_text(f"#{approval}")

    # The second person: the county admin decides on /approvals with a reason.
    admin = new_page(1280, 800)
    log_in(admin, server, "admin")
    admin.goto(f"{server.url}/approvals")
    expect(admin.locator("#approvals")).to_have_attribute("data-ready", "1")
    row = admin.locator(f"tr[data-approval='{approval}']")
    row.locator(".ap-decide input").fill("案情属实，同意")
    row.locator(f"[data-approve='{approval}']").click()
    expect(row.locator(".ap-state-approved")).to_be_visible()

    # The operator's tile follows (it polls while a request is pending) and plays the range unmasked.
    expect(bar).to_have_attribute("data-state", "approved", timeout=15000)
    expect(tile).to_have_attribute("data-masked", "0")
    expect(bar.locator(".badge")).to_contain_text(f"#{approval}")
    op.wait_for_function(f"() => ({AREA_MAX})() > 70", timeout=15000)
    op.screenshot(path=str(artifacts / "browser-playback-unmasked.png"), animations="disabled")
    lifted = [u for u in media if f"/api/v1/playback/{camera}/" in u]
    assert lifted, media
    assert {token_action(u) for u in lifted} == {f"view_recording:approval:{approval}"}

    # A sensitive camera's export needs its own approval: asked from the evidence panel, then used.
    with client(server, "admin") as admin_api:
        sensitive = admin_api.put(f"/cameras/{camera}/privacy", json={"sensitive": True})
        assert sensitive.status_code == 200, sensitive.text
    op.click("#pb-mark-in")
    before = op.locator("#pb-clock").inner_text()
    op.click("#pb-next-key")  # one keyframe (1 s) on
    expect(op.locator("#pb-clock")).not_to_have_text(before)
    op.click("#pb-mark-out")
    op.fill("#pb-reason", "盗窃案 2030-17 证据")
    op.click("#pb-export")
    asked = op.locator(".pb-export-ask")
    asked.locator("button").click()
    expect(asked).to_have_attribute("data-state", "pending")
    export_approval = int(asked.get_attribute("data-approval") or 0)
    with client(server, "admin") as admin_api:
        decision = {"approve": True, "reason": "同意导出"}
        decided = admin_api.post(f"/recordings/approvals/{export_approval}/decision", json=decision)
        assert decided.status_code == 200, decided.text
    expect(asked).to_have_attribute("data-state", "approved", timeout=15000)
    op.click("#pb-export")
    expect(op.locator(".pb-export .badge-ok").first).to_have_text("已完成", timeout=30000)
    op.screenshot(path=str(artifacts / "browser-playback-export-approved.png"), animations="disabled")
    with client(server, "admin") as admin_api:
        exports = admin_api.get("/recordings/exports").json()
    assert [(e["camera_id"], e["masked"]) for e in exports] == [(camera, False)], exports

    # The token serves the approved range only, and the grant's use is on the audit trail.
    plan = next(u for u in lifted if "/plan.json" in u)
    token = parse_qs(urlsplit(plan).query)["token"][0]
    outside = op.request.get(
        f"{server.url}/api/v1/playback/{camera}/plan.json",
        params={"from": "2000-01-01T00:00:00Z", "to": "2000-01-01T00:10:00Z", "token": token},
    )
    assert outside.status == 403 and outside.json()["code"] == "approval_invalid", outside.text()
    with client(server, "admin") as admin_api:
        uses = admin_api.get("/audit", params={"action": "privacy.use"}).json()
    assert any(u["detail"].get("approval") == approval and u["actor"] == "op-qingxi" for u in uses), uses
