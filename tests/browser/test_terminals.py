"""The three terminals in a real browser (Debian Chromium) against the real app on the seeded demo
county: TV by remote keys only, the operator console, the phone app, the language switch, the auditor's
view and user administration. Each test leaves a screenshot in test-artifacts/ for a human to look at."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_grid_web import REFUSAL_JS
from tests.support.browser import NewPage, api_json, dismiss_urgent_notices, login_form
from xueliang.seed.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser


def shot(page: Page, artifacts: Path, name: str, *, full_page: bool = False) -> None:
    page.screenshot(path=str(artifacts / f"browser-{name}.png"), full_page=full_page, animations="disabled")


def focused(page: Page) -> dict[str, Any]:
    """What has focus, and how visible its ring is."""
    result: dict[str, Any] = page.evaluate("""() => {
        const el = document.activeElement;
        const s = getComputedStyle(el);
        return {id: el.id, cls: el.className, index: el.dataset.index ?? null,
                outline: s.outlineStyle, outlineWidth: parseFloat(s.outlineWidth)};
    }""")
    return result


def test_resident_reaches_camera_on_tv_with_keyboard_only(
    new_page: NewPage, live_server: Any, artifacts: Path
) -> None:
    page = new_page(1280, 720)
    page.goto(f"{live_server.url}/tv")
    expect(page).to_have_url(re.compile(r"/login\?terminal=tv"))
    # Login: the username field has focus; ▼ moves to the password; OK (Enter) logs in.
    expect(page.locator("#username")).to_be_focused()
    page.keyboard.type("res-v01")
    page.keyboard.press("ArrowDown")
    expect(page.locator("#password")).to_be_focused()
    page.keyboard.type(DEMO_PASSWORD)
    page.keyboard.press("ArrowDown")
    expect(page.locator("#login-submit")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/tv")
    dismiss_urgent_notices(page, live_server.url)

    # Home: the cameras tile has focus and a ring you can see from the sofa; ▶ moves to the alarm tile.
    cams_tile = page.locator("#tile-cameras")
    expect(cams_tile).to_be_focused()
    ring = focused(page)
    assert ring["outline"] == "solid" and ring["outlineWidth"] >= 4, ring
    page.keyboard.press("ArrowRight")
    expect(page.locator(".tv-tile.tile-alarm")).to_be_focused()
    page.keyboard.press("Enter")  # the alarm asks first (test_alarms_ui.py sends one)...
    expect(page.locator("#tv-alarm")).to_have_attribute("data-phase", "confirm")
    page.keyboard.press("Backspace")  # ...and Back cancels it
    expect(page.locator("#tv-alarm")).to_be_hidden()
    expect(page.locator(".tv-tile.tile-alarm")).to_be_focused()
    page.keyboard.press("ArrowLeft")
    expect(cams_tile).to_be_focused()
    expect(page.locator("#cams-note")).to_contain_text(re.compile(r"\d"))
    shot(page, artifacts, "tv-home")

    # The list shows exactly this resident's cameras: the public ones of the own village, per the API.
    me = api_json(page, live_server.url, "/me")
    expected = api_json(page, live_server.url, "/cameras")
    assert expected, "res-v01 should have public cameras"
    assert all(c["public_view"] and c["region_code"].startswith(me["region_code"]) for c in expected)
    page.keyboard.press("Enter")
    cards = page.locator("#screen-list .tv-card")
    expect(cards).to_have_count(len(expected))
    ids = cards.evaluate_all("els => els.map(e => Number(e.dataset.cameraId))")
    assert ids == [c["id"] for c in expected]
    assert cards.locator(".tv-card-name").all_inner_texts() == [c["name"] for c in expected]
    expect(cards.nth(0)).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(cards.nth(1)).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(cards.nth(4)).to_be_focused()  # three cards per row at 1280x720
    page.keyboard.press("ArrowUp")
    expect(cards.nth(1)).to_be_focused()
    shot(page, artifacts, "tv-list")

    # Full-screen view of the focused camera; ◀ ▶ switch cameras; Back returns to the list.
    page.keyboard.press("Enter")
    view = page.locator("#screen-view")
    expect(view).to_be_visible()
    expect(page.locator("#view-name")).to_have_text(expected[1]["name"])
    expect(view).to_have_attribute("data-camera-id", str(expected[1]["id"]))
    expect(page.locator("#tv-player .player")).to_be_attached()
    shot(page, artifacts, "tv-view")
    page.keyboard.press("ArrowRight")
    expect(page.locator("#view-name")).to_have_text(expected[2]["name"])
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect(page.locator("#view-name")).to_have_text(expected[0]["name"])
    page.keyboard.press("Backspace")
    expect(view).to_be_hidden()
    expect(cards.nth(0)).to_be_focused()
    page.keyboard.press("Escape")
    expect(cams_tile).to_be_focused()

    # Set-top browsers that only send keyCodes: the red key (403) asks to call the police station, webOS
    # Back (461) cancels, Tizen Back (10009) leaves the list.
    def remote(code: int) -> None:
        page.evaluate(
            """code => {
            const e = new KeyboardEvent('keydown', {key: 'Unidentified', bubbles: true});
            Object.defineProperty(e, 'keyCode', {get: () => code});
            document.activeElement.dispatchEvent(e);
        }""",
            code,
        )

    remote(403)
    expect(page.locator("#tv-alarm")).to_have_attribute("data-phase", "confirm")
    remote(461)
    expect(page.locator("#tv-alarm")).to_be_hidden()
    remote(13)
    expect(cards.nth(0)).to_be_focused()
    remote(10009)
    expect(cams_tile).to_be_focused()


def test_township_operator_console_shows_exactly_its_cameras(
    new_page: NewPage, live_server: Any, artifacts: Path
) -> None:
    other = new_page()
    login_form(other, live_server.url, "op-shimen")
    shimen = api_json(other, live_server.url, "/cameras")
    assert shimen

    page = new_page()
    login_form(page, live_server.url, "op-qingxi")
    expect(page).to_have_url(f"{live_server.url}/")
    expected = api_json(page, live_server.url, "/cameras")
    assert expected and all(c["region_code"].startswith("513223101") for c in expected)

    items = page.locator("#camera-list .cam-item")
    expect(items).to_have_count(len(expected))
    dom_ids = items.evaluate_all("els => els.map(e => Number(e.dataset.cameraId))")
    assert sorted(dom_ids) == sorted(c["id"] for c in expected)
    # Nothing of the other township anywhere on the page: not in the list, not on the map.
    for cam in shimen:
        assert page.locator(f'[data-camera-id="{cam["id"]}"]').count() == 0
    assert shimen[0]["name"] not in page.locator("body").inner_text()

    # The Leaflet map over the node's offline base layer (drawn from the county's data, no network): one
    # marker and one field-of-view wedge per camera in scope, the 5 villages' outlines, the legend, and
    # the home view showing every marker.
    host = page.locator("#map")
    expect(host).to_have_attribute("data-basemap", "offline", timeout=30_000)
    expect(host.locator("img.leaflet-tile-loaded").first).to_be_visible()
    markers = page.locator("#map .cam-marker")
    expect(markers).to_have_count(len(expected))
    marker_ids = markers.evaluate_all("els => els.map(e => Number(e.dataset.cameraId))")
    assert sorted(marker_ids) == sorted(dom_ids)
    wedges = page.locator("#map path.cam-fov")
    assert sorted(wedges.evaluate_all("els => els.map(e => Number(e.dataset.cameraId))")) == sorted(dom_ids)
    assert page.locator("#map path.region.level-village").count() == 5
    assert page.locator("#map .map-label.label-village").count() == 5
    expect(host.locator(".map-legend")).to_contain_text("视野范围")
    box = host.bounding_box()
    assert box is not None
    centres = markers.evaluate_all(
        "els => els.map(e => { const r = e.getBoundingClientRect(); "
        "return [r.x + r.width / 2, r.y + r.height / 2]; })"
    )
    for x, y in centres:
        assert box["x"] <= x <= box["x"] + box["width"] and box["y"] <= y <= box["y"] + box["height"], (x, y)
    shot(page, artifacts, "console-map")

    # The region tree filters the list (and the markers) to one village.
    village = page.locator("#region-tree .level-village .tree-label", has_text="上坪村")
    village.click()
    in_village = api_json(
        page, live_server.url, f"/cameras?region_id={village.get_attribute('data-region-id')}"
    )
    expect(items).to_have_count(len(in_village))
    expect(markers).to_have_count(len(in_village))
    expect(page.locator("#f-region")).to_be_visible()
    expect(page.locator("#map path.region.level-village.active")).to_have_count(1)
    shot(page, artifacts, "console-map-village")

    # A marker opens the detail panel; "Open live" puts the camera on the wall.
    cam = in_village[0]
    page.locator(f'#map .cam-marker[data-camera-id="{cam["id"]}"]').dispatch_event("click")
    expect(page.locator("#detail-name")).to_have_text(cam["name"])
    expect(page.locator("#detail")).to_contain_text(cam["gb_id"])
    page.click("#open-live")
    expect(page.locator("#wall")).to_be_visible()
    tile = page.locator(f'#wall .tile[data-camera-id="{cam["id"]}"]')
    expect(tile).to_be_visible()
    expect(tile.locator(".player")).to_be_attached()
    page.click('#wall-layouts [data-layout="9"]')
    expect(page.locator("#wall .tile")).to_have_count(9)
    expect(tile).to_be_visible()
    shot(page, artifacts, "console-wall")


def test_phone_page_at_390x844(new_page: NewPage, live_server: Any, artifacts: Path) -> None:
    page = new_page(390, 844, is_mobile=True, has_touch=True, device_scale_factor=2)
    page.goto(f"{live_server.url}/m")
    expect(page).to_have_url(re.compile(r"/login\?terminal=mobile"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    login_form(page, live_server.url, "res-v02", terminal="mobile", next_path="/m")
    expect(page).to_have_url(f"{live_server.url}/m")

    expected = api_json(page, live_server.url, "/cameras")
    rows = page.locator("#m-list .m-cam")
    expect(rows).to_have_count(len(expected))
    assert rows.evaluate_all("els => els.map(e => Number(e.dataset.cameraId))") == [c["id"] for c in expected]
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = rows.first.bounding_box()
    assert box is not None and box["height"] >= 56, box  # a comfortable tap target

    # Installable: the manifest is linked and fetchable, with its icons.
    href = page.locator('link[rel="manifest"]').get_attribute("href")
    assert href
    manifest = page.request.get(f"{live_server.url}{href}")
    assert manifest.ok
    data = manifest.json()
    assert data["start_url"] == "/m" and data["display"] == "standalone"
    assert re.search(r"[\u4e00-\u9fff]", data["short_name"]), "short_name should be Chinese"
    for icon in data["icons"]:
        got = page.request.get(f"{live_server.url}{icon['src']}")
        assert got.ok and got.headers["content-type"].startswith("image/svg+xml")

    # The service worker registers and becomes ready.
    scope = page.evaluate("""() => Promise.race([
        navigator.serviceWorker.ready.then(r => r.scope),
        new Promise((_, reject) => setTimeout(() => reject(new Error('service worker not ready')), 10000)),
    ])""")
    assert scope == f"{live_server.url}/m"
    shot(page, artifacts, "phone-list", full_page=True)

    # Tap a camera: the player view, still no horizontal overflow; Back returns.
    rows.first.tap()
    expect(page.locator("#m-view")).to_be_visible()
    expect(page.locator("#m-view-name")).to_have_text(expected[0]["name"])
    expect(page.locator("#m-player .player")).to_be_attached()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    shot(page, artifacts, "phone-view")
    page.locator("#m-back").tap()
    expect(page.locator("#m-home")).to_be_visible()


def test_language_switch_to_english(new_page: NewPage, live_server: Any, artifacts: Path) -> None:
    page = new_page()
    login_form(page, live_server.url, "op-shimen")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator(".tab.active")).to_have_text("摄像头")
    expect(page.locator("#camera-count")).to_contain_text("显示")

    page.click('.lang a[data-locale="en"]')
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(".tab.active")).to_have_text("Cameras")
    expect(page.locator("#camera-count")).to_contain_text("shown")
    expect(page.locator(".detail-empty")).to_contain_text("Select a camera on the map or in the list.")
    expect(page.locator("#map .map-legend")).to_contain_text("Field of view")
    expect(page.locator("button[data-logout]")).to_have_text("Log out")
    assert api_json(page, live_server.url, "/me")["locale"] == "en"  # remembered on the account too
    # a refusal from the grid's catalogue in English (tests/browser/test_grid_web.py checks zh-CN)
    assert page.evaluate(REFUSAL_JS)[2] == "Choose a range of at most a year."
    shot(page, artifacts, "console-english")

    page.click('.lang a[data-locale="zh_CN"]')
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("button[data-logout]")).to_have_text("退出登录")


def test_auditor_sees_audit_trail_and_no_cameras(
    new_page: NewPage, live_server: Any, artifacts: Path
) -> None:
    page = new_page()
    login_form(page, live_server.url, "auditor")
    expect(page).to_have_url(f"{live_server.url}/audit")
    rows = page.locator("#audit-table tbody tr[data-seq]")
    expect(rows.first).to_be_visible()
    expect(rows.first).to_contain_text("auditor")  # the newest record is this login
    assert page.locator("#camera-list").count() == 0
    assert page.locator(".cam-marker").count() == 0
    assert page.locator('.tab[href="/"]').count() == 0

    page.click("#verify")
    expect(page.locator("#verify-result.verify-ok")).to_contain_text("审计链完整")

    page.fill('#audit-filters input[name="actor"]', "op-qingxi")
    page.click('#audit-filters button[type="submit"]')
    expect(rows.first).to_contain_text("op-qingxi")
    actors = rows.locator("td:nth-child(3)").all_inner_texts()
    assert actors and set(actors) == {"op-qingxi"}
    shot(page, artifacts, "audit")

    # The console's camera page sends an auditor back to the trail, and the API agrees.
    page.goto(f"{live_server.url}/")
    expect(page).to_have_url(f"{live_server.url}/audit")
    assert page.request.get(f"{live_server.url}/api/v1/cameras").status == 403


def test_admin_creates_and_manages_a_user(new_page: NewPage, live_server: Any, artifacts: Path) -> None:
    page = new_page()
    login_form(page, live_server.url, "admin", next_path="/admin")
    expect(page).to_have_url(f"{live_server.url}/admin")
    expect(page.locator("#users-table tbody tr[data-user-id]").first).to_be_visible()

    username = f"web-{uuid.uuid4().hex[:8]}"
    form = page.locator("#user-create")
    form.locator('[name="username"]').fill(username)
    form.locator('[name="display_name"]').fill("上坪村村民测试")
    form.locator('[name="password"]').fill("a-good-password")
    form.locator('[name="role"]').select_option("resident")
    form.locator('[name="region_code"]').select_option("513223101201")
    form.locator('button[type="submit"]').click()

    row = page.locator(f'#users-table tr[data-username="{username}"]')
    expect(row).to_be_visible()
    expect(row).to_contain_text("村民")
    expect(row).to_contain_text("上坪村")
    created = next(u for u in api_json(page, live_server.url, "/users") if u["username"] == username)
    assert (
        created["role"] == "resident" and created["region_code"] == "513223101201" and not created["disabled"]
    )
    shot(page, artifacts, "admin-users")

    # Change role and region in the dialog, then disable the account.
    row.get_by_role("button", name="编辑").click()
    dialog = page.locator("#user-edit")
    expect(dialog).to_be_visible()
    dialog.locator('[name="role"]').select_option("operator")
    dialog.locator('[name="region_code"]').select_option("513223102")
    dialog.locator('button[type="submit"]').click()
    expect(dialog).to_be_hidden()
    expect(row).to_contain_text("派出所值班员")
    row.get_by_role("button", name="停用").click()
    expect(row).to_contain_text("已停用")
    changed = api_json(page, live_server.url, f"/users/{created['id']}")
    assert changed["role"] == "operator" and changed["region_code"] == "513223102" and changed["disabled"]
