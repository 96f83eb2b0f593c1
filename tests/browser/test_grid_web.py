"""Grid management in Chromium (issue 16): a grid worker (gw-01) on a 390x844 phone with emulated
geolocation at a checkpoint loses the network and reloads the page (the service worker serves it with
today's data), checks in, records a visit and reports an incident with a photo, all offline; the phone
shows the three waiting; back online they are sent, the API holds each exactly once with the phone's
original times, and the station console's board (op-qingxi) shows them live. A video patrol tour then
marks a camera abnormal (an incident) and is paused. The maps stand on the node's own offline base layer
(tiles drawn from the county's data, served by the node); the console's coordinate conversions agree
with the published reference points (as the Python ones do, tests/grid/test_coords.py); a route line
is drawn with Leaflet-Geoman's tool and a vertex added by dragging; the statistics tab draws a chart for
every series. Screenshots: test-artifacts/ (browser-grid-*.png)."""

from __future__ import annotations

import struct
import zlib
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import FilePayload, Page, expect

from tests.support.browser import NewPage, api_json, login_form
from xueliang.grid import bd09mc
from xueliang.seed.demo import DEMO_PASSWORD

pytestmark = [pytest.mark.browser]

OUTBOX_JS = """() => new Promise((resolve, reject) => {
    const req = indexedDB.open('xl-grid');
    req.onerror = () => reject(req.error);
    req.onsuccess = () => {
        const all = req.result.transaction('outbox').objectStore('outbox').getAll();
        all.onsuccess = () => resolve(all.result.map((i) => i.body));
        all.onerror = () => reject(all.error);
    };
})"""


def tiny_png(width: int = 32, height: int = 24) -> bytes:
    """A real PNG made here (red pixels), so the server's image check sees an image."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + bytes([200, 40, 40]) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def post(page: Page, base: str, path: str, body: dict[str, Any]) -> Any:
    """POST /api/v1`path` with the page's session and CSRF token, as the page's own scripts do."""
    csrf = page.evaluate("() => window.XL.csrf")
    r = page.request.post(f"{base}/api/v1{path}", data=body, headers={"X-CSRF-Token": csrf})
    assert r.status == 200, f"{path}: {r.status} {r.text()}"
    return r.json()


def shot(page: Page, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"browser-grid-{name}.png"), animations="disabled")


def test_grid_worker_offline_then_console(new_page: NewPage, live_server: Any, artifacts: Path) -> None:
    base = live_server.url
    console = new_page(1440, 900)
    login_form(console, base, "op-qingxi")
    console.goto(f"{base}/grid")
    expect(console.locator("html")).to_have_attribute("data-grid-feed", "up")

    phone = new_page(
        390, 844, geolocation={"latitude": 0, "longitude": 0, "accuracy": 8}, permissions=["geolocation"]
    )
    login_form(phone, base, "gw-01", terminal="mobile", next_path="/m/grid")
    expect(phone.locator("html")).to_have_attribute("data-grid-ready", "1")
    # the base layer: the node's offline tiles, drawn from the county's data on first use
    expect(phone.locator("#g-map")).to_have_attribute("data-basemap", "offline", timeout=30_000)
    expect(phone.locator("#g-map img.leaflet-tile-loaded").first).to_be_attached()
    today = api_json(phone, base, "/grid/today")
    route = today["routes"][0]
    cp = next(c for c in route["route"]["checkpoints"] if not c["done"])
    person = next(v["person"] for v in today["visits"] if not v["visited_today"])
    checked_before = route["run"]["checked"]
    phone.context.set_geolocation({"latitude": cp["lat"] + 0.0001, "longitude": cp["lon"], "accuracy": 8})
    shot(phone, artifacts, "phone-route")

    # With no network the page itself comes from the service worker, with today's data.
    expect(phone.locator("html")).to_have_attribute("data-grid-offline", "ready")
    phone.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    phone.context.set_offline(True)
    phone.reload()
    expect(phone.locator("html")).to_have_attribute("data-grid-ready", "1")
    phone.locator(f'#g-checkpoints li[data-checkpoint-id="{cp["id"]}"] .g-checkin').click()
    expect(phone.locator("#g-outbox")).to_have_attribute("data-count", "1")
    phone.locator(f'#g-visits li[data-person-id="{person["id"]}"] .g-visit-btn').click()
    phone.locator('#g-visit-form input[value="seen"]').check()
    phone.select_option("#g-wellbeing", "fair")
    phone.fill("#g-note", "离线走访 / visited offline")
    phone.fill("#g-needs", "不会用报警按钮")
    phone.click("#g-visit-save")
    expect(phone.locator("#g-outbox")).to_have_attribute("data-count", "2")
    phone.click("#g-report")
    phone.select_option("#g-category", "road_traffic")
    phone.fill("#g-text", "村道塌方 / the village road has caved in")
    photo: FilePayload = {"name": "road.png", "mimeType": "image/png", "buffer": tiny_png()}
    phone.set_input_files("#g-photo", files=[photo])
    phone.click("#g-incident-save")
    expect(phone.locator("#g-outbox")).to_have_attribute("data-count", "3")
    expect(phone.locator("#g-outbox-list li")).to_have_count(3)
    expect(phone.locator("#g-net")).to_have_attribute("data-online", "false")
    queued = {b["type"]: b for b in phone.evaluate(OUTBOX_JS)}
    assert set(queued) == {"checkin", "visit", "incident"}
    phone.evaluate("() => window.scrollTo(0, 0)")
    shot(phone, artifacts, "phone-offline")

    phone.context.set_offline(False)
    expect(phone.locator("#g-outbox")).to_have_attribute("data-count", "0", timeout=30_000)
    expect(phone.locator(f'#g-checkpoints li[data-checkpoint-id="{cp["id"]}"]')).to_have_class("g-cp done")
    shot(phone, artifacts, "phone-sent")

    # Each record exactly once, with the phone's times: a resend of each answers "duplicate", the first id.
    again = post(phone, base, "/grid/sync", {"items": list(queued.values())})["results"]
    assert sorted(r["status"] for r in again) == ["duplicate"] * 3, again
    ids = {r["type"]: r["id"] for r in again}
    c = post(phone, base, "/grid/checkins", {k: v for k, v in queued["checkin"].items() if k != "type"})
    assert c["duplicate"] and c["id"] == ids["checkin"] and when(c["at"]) == when(queued["checkin"]["at"])
    v = post(phone, base, "/grid/visits", {k: v for k, v in queued["visit"].items() if k != "type"})
    assert v["duplicate"] and v["id"] == ids["visit"] and when(v["at"]) == when(queued["visit"]["at"])
    visits = api_json(console, base, f"/grid/care/{person['id']}")["visits"]
    assert [x["id"] for x in visits if x["uuid"] == queued["visit"]["uuid"]] == [ids["visit"]]
    incidents = [
        i
        for i in api_json(console, base, "/grid/incidents?open=true")
        if i["uuid"] == queued["incident"]["uuid"]
    ]
    assert len(incidents) == 1 and incidents[0]["id"] == ids["incident"]
    assert when(incidents[0]["reported_at"]) == when(queued["incident"]["at"])
    assert len(incidents[0]["photos"]) == 1 and incidents[0]["category"] == "road_traffic"

    # The station's board heard it live: the route's count moved, the incident is open, the feed says so.
    expect(console.locator(f'#g-open tr[data-incident-id="{ids["incident"]}"]')).to_be_visible()
    run_row = console.locator(f'#g-runs tr[data-route-id="{route["route"]["id"]}"] .g-checked')
    expect(run_row).to_have_text(f"{checked_before + 1}/{route['run']['total']}")
    expect(console.locator('#g-activity li[data-event="sync"]').first).to_be_visible()
    shot(console, artifacts, "console-board")

    # A video patrol tour: the first camera marked abnormal opens an incident; the tour can be paused.
    tour = api_json(console, base, "/grid/tours")[0]
    camera_id = tour["steps"][0]["camera_id"]

    def camera_incidents() -> int:
        rows = api_json(console, base, "/grid/incidents?open=true")
        return sum(1 for i in rows if i["camera_id"] == camera_id)

    before = camera_incidents()
    console.click('[data-tab="tours"]')
    console.click("#g-tour-start")
    expect(console.locator("#g-mark-abnormal")).to_be_enabled()
    console.click("#g-mark-abnormal")
    expect(console.locator(f'#g-tour-steps li.m-abnormal[data-camera-id="{camera_id}"]')).to_be_visible()
    assert camera_incidents() == before + 1
    console.click("#g-tour-pause")
    expect(console.locator("#g-tour-pause")).to_have_text("继续")
    shot(console, artifacts, "console-tour")

    check_coords_js(console)
    # a refused request is worded from the grid's catalogue in the page's language (here zh-CN)
    assert console.evaluate(REFUSAL_JS) == ["bad_range", "stats.bad_range", "请选择不超过一年的时间范围。"]
    draw_route(console)
    shot(console, artifacts, "console-route-draw")
    console.click('[data-tab="stats"]')
    expect(console.locator('#s-chart figure[data-chart="coverage"]')).to_be_visible(timeout=20_000)
    for chart in (
        "completion",
        "missed",
        "visits",
        "ok",
        "categories",
        "closing",
        "close-hours",
        "tours",
        "per-row",
    ):
        assert console.locator(f'#s-chart figure[data-chart="{chart}"] rect').count() > 0, chart
    shot(console, artifacts, "console-stats")


COORDS_JS = """async () => {
    const c = await import('/static/js/grid/coords.js');
    return [c.wgs84ToGcj02(121.5272106, 31.1774276), c.gcj02ToBd09(116.404, 39.915),
            c.bd09ToGcj02(116.404, 39.915), c.gcj02ToWgs84(121.531541859215, 31.17530398364597),
            c.wgs84ToGcj02(2.35, 48.85)];
}"""


CRS_JS = """async () => {
    const c = await import('/static/js/grid/coords.js');
    const crs = c.crsFor(window.L, 'gcj02');
    const p = crs.latLngToPoint(window.L.latLng(31.7, 103.84), 15);
    const back = crs.pointToLatLng(p, 15);
    const [glon, glat] = c.wgs84ToGcj02(103.84, 31.7);
    const plain = window.L.CRS.EPSG3857.latLngToPoint(window.L.latLng(glat, glon), 15);
    const same = c.crsFor(window.L, 'wgs84') === window.L.CRS.EPSG3857;
    return [back.lat, back.lng, p.x - plain.x, p.y - plain.y, same];
}"""


# the grid's refusal texts through api() (static/js/grid/errors.js), in the page's language
REFUSAL_JS = """async () => {
    const { api } = await import('/static/js/api.js');
    await import('/static/js/grid/errors.js');
    try {
        await api('/grid/stats', { query: { since: '2026-12-07', until: '2026-12-01' }, quiet: true });
    } catch (e) {
        return [e.code, e.key, e.message];
    }
    return null;
}"""

BAIDU_JS = """async () => {
    const c = await import('/static/js/grid/coords.js');
    const crs = c.crsFor(window.L, 'bd09mc');
    const p = crs.latLngToPoint(window.L.latLng(31.7, 103.84), 15);
    const back = crs.pointToLatLng(p, 15);
    const leafletTile = [Math.floor(p.x / 256), Math.floor(p.y / 256)];
    const layer = new (c.baiduTileLayer(window.L))('{x}/{y}/{z}');
    layer._map = {getZoom: () => 15};
    layer._tileZoom = 15;
    return [c.bd09ToMetres(116.404, 39.915), c.baiduTile(12958175, 4825923.77, 18),
            layer.getTileUrl({x: leafletTile[0], y: leafletTile[1], z: 15}), back.lat, back.lng];
}"""


def check_coords_js(page: Page) -> None:
    """The map's conversions (static/js/grid/coords.js) on the published points of test_coords.py,
    and the GCJ-02 CRS: a WGS 84 position lands where web Mercator puts its GCJ-02 twin (on the
    AMap tiles' pixel), and a pixel reads back as the WGS 84 position."""
    lat, lon, dx, dy, same = page.evaluate(CRS_JS)
    assert abs(lat - 31.7) < 1e-8 and abs(lon - 103.84) < 1e-8 and abs(dx) < 1e-6 and abs(dy) < 1e-6 and same
    got = page.evaluate(COORDS_JS)
    want = [
        [121.531541859215, 31.17530398364597],
        [116.41036949371029, 39.92133699351021],
        [116.39762729119315, 39.90865673957631],
        [121.5272106, 31.1774276],
        [2.35, 48.85],
    ]
    for (lon, lat), (wlon, wlat) in zip(got, want, strict=True):
        assert abs(lon - wlon) < 1e-8 and abs(lat - wlat) < 1e-8, (got, want)
    # Baidu's plane and numbering (tests/grid/test_bd09mc.py's published point): the CRS puts our WGS 84
    # position on the Baidu tile the server computes, and reads the pixel back as that position
    (mx, my), tile18, url, blat, blon = page.evaluate(BAIDU_JS)
    assert abs(mx - 12958175) < 0.01 and abs(my - 4825923.77) < 0.01 and tile18 == [50617, 18851]
    assert url == "{}/{}/15".format(*bd09mc.tile_of_wgs84(103.84, 31.7, 15))
    assert abs(blat - 31.7) < 1e-6 and abs(blon - 103.84) < 1e-6


def draw_route(page: Page) -> None:
    """Geoman's polyline tool: three clicks and a click on the last point finish a line of three;
    dragging the marker between two vertices adds a fourth; a click on the map still adds one."""
    page.click('[data-tab="routes"]')
    host = page.locator("#g-route-map")
    expect(host).to_have_attribute("data-editing", "1", timeout=20_000)
    expect(host).to_have_attribute("data-basemap", "offline")
    page.click("#r-new")
    page.locator("#g-route-map .leaflet-pm-icon-polyline").click()
    box = host.bounding_box()
    assert box is not None
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    for dx, dy in ((-120, 40), (0, -60), (120, 30)):
        page.mouse.click(cx + dx, cy + dy)
    page.mouse.click(cx + 120, cy + 30)  # the last vertex again: finish
    expect(page.locator("#r-line-n")).to_have_text("3")
    middle = page.locator("#g-route-map .marker-icon-middle").first
    expect(middle).to_be_visible()
    mb = middle.bounding_box()
    assert mb is not None
    page.mouse.move(mb["x"] + mb["width"] / 2, mb["y"] + mb["height"] / 2)
    page.mouse.down()
    page.mouse.move(mb["x"] + 20, mb["y"] + 60, steps=5)
    page.mouse.up()
    expect(page.locator("#r-line-n")).to_have_text("4")
    page.mouse.click(cx - 60, cy + 90)  # click-to-add is kept
    expect(page.locator("#r-line-n")).to_have_text("5")


@pytest.mark.parametrize(
    ("username", "mobile", "console"),
    [("gw-01", 200, 404), ("op-qingxi", 404, 200), ("duty-v01", 404, 200), ("res-v01", 404, 404)],
)
def test_grid_pages_answer_by_role(live_server: Any, username: str, mobile: int, console: int) -> None:
    """The phone app is for those who patrol, the console for those who manage the grid; anyone else
    gets the page as missing (the API's 404), and nobody logged in is sent to the login page."""
    with httpx.Client(base_url=live_server.url) as anon:
        r = anon.get("/m/grid")
        assert r.status_code == 303 and r.headers["location"].startswith("/login?terminal=mobile")
    with httpx.Client(base_url=live_server.url) as c:
        r = c.post("/api/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD})
        assert r.status_code == 200, r.text
        page = c.get("/m/grid")
        assert page.status_code == mobile
        if mobile == 404:
            assert page.json() == {"code": "not_found", "message": "not found"}
        assert c.get("/grid").status_code == console
        if console == 200:
            assert c.get("/").text.count('href="/grid"') == 1  # the console's tab
