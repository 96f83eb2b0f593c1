"""A simulated GB/T 28181 camera in Chromium: it registers to a real node (SIP platform and media plane
under uvicorn), is bound to 上坪村, and plays on the console's wall through our WebSocket with its own
marker; the console's PTZ panel saves a preset, moves away and calls it back, and the marker in the
picture then names that preset, and a cruise over two presets shows each in turn; another user's panel
says who holds the camera; a device alarm it raises reaches the console's alarm queue.

Runs in the SQLite pass only: nothing here depends on the database backend, and the GB platform's
database side is covered on both backends by tests/gb28181."""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import update

from tests.gb28181.sim.support import make_sim
from tests.gb28181.support import PLATFORM_ID, SHARED, gb_settings
from tests.support.app import LiveServer, make_settings
from tests.support.browser import NewPage, login_form, shown_camera
from tests.support.db import BACKEND, run_async, seed_database
from tests.support.waits import wait_for
from xueliang.app import create_app
from xueliang.cameras.models import Camera
from xueliang.core.context import AppContext
from xueliang.core.db import Database
from xueliang.gb28181.platform import GbPlatform
from xueliang.gb28181.sim.loops import marker_number
from xueliang.gb28181.sim.simulator import GbSimulator
from xueliang.media.config import MediaSettings
from xueliang.seed.demo import DEMO_PASSWORD

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(BACKEND != "sqlite", reason="browser check of the GB console, once (SQLite pass)"),
]
T = TypeVar("T")
VILLAGE = "513223101201"  # 上坪村, in op-qingxi's township


class GbNode:
    """The node under uvicorn with GB/T 28181 on, and the simulator running in the server's loop."""

    def __init__(self, server: LiveServer, loop: asyncio.AbstractEventLoop, app_ctx: AppContext) -> None:
        self.server, self.loop, self.ctx = server, loop, app_ctx
        self.sim: GbSimulator | None = None

    def run(self, make: Callable[[], Coroutine[Any, Any, T]], timeout: float = 20) -> T:
        return asyncio.run_coroutine_threadsafe(make(), self.loop).result(timeout)

    @contextlib.contextmanager
    def client(self, username: str) -> Iterator[httpx.Client]:
        with httpx.Client(base_url=self.server.url, timeout=10) as c:
            r = c.post("/api/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD})
            assert r.status_code == 200, r.text
            c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            yield c


@pytest.fixture(scope="module")
def gb_node(make_db_url: Callable[[], str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[GbNode]:
    url = make_db_url()
    seed_database(url)

    async def rtsp_cameras_off() -> None:  # nothing serves the seed's RTSP cameras here: leave them be
        db = Database(url)
        try:
            async with db.session() as s:
                await s.execute(update(Camera).values(enabled=False))
                await s.commit()
        finally:
            await db.dispose()

    run_async(rtsp_cameras_off())
    box: list[tuple[asyncio.AbstractEventLoop, AppContext]] = []

    async def remember(ctx: AppContext) -> None:
        box.append((asyncio.get_running_loop(), ctx))

    settings = make_settings(
        url,
        tmp_path_factory.mktemp("gbnode"),
        gb28181=gb_settings(keepalive_interval=5.0),  # the device keeps alive every second: never offline
        media=MediaSettings(rtsp_port=0),
    )
    server = LiveServer(create_app(settings, migrate_on_start=False, extra_hooks=[remember]))
    server.start()
    node = GbNode(server, *box[0])
    port = node.ctx.services.require(GbPlatform).port

    async def start() -> GbSimulator:
        sim = make_sim(1, f"sip:{PLATFORM_ID}@127.0.0.1:{port}", SHARED, keepalive=1.0)
        await sim.start()
        await asyncio.wait_for(sim.registered(), 10)
        return sim

    node.sim = node.run(start)
    try:
        yield node
    finally:
        sim = node.sim
        with node.client("admin") as admin:  # the plane lets its cameras go while the devices answer BYE
            for camera in admin.get("/api/v1/cameras").json():
                if camera["enabled"]:
                    admin.patch(f"/api/v1/cameras/{camera['id']}", json={"enabled": False})
        wait_for(lambda: not node.ctx.services.require(GbPlatform).live.dialogs, 10, "the streams ended")
        node.run(sim.stop)
        server.stop()


def bind_camera(node: GbNode) -> dict[str, Any]:
    """The admin binds the simulated device to 上坪村; returns its camera as the API lists it."""
    assert node.sim is not None
    device_id, channel_id = node.sim.devices[0].device_id, node.sim.cameras[0].channel_id
    with node.client("admin") as admin:
        devices: list[dict[str, Any]] = []

        def registered() -> bool:
            devices[:] = [
                d for d in admin.get("/api/v1/gb28181/devices").json() if d["device_id"] == device_id
            ]
            return bool(devices)

        wait_for(registered, 10, "the device registered")
        device = devices[0]
        region = next(r for r in admin.get("/api/v1/regions").json() if r["code"] == VILLAGE)
        r = admin.put(f"/api/v1/gb28181/devices/{device['id']}/region", json={"region_id": region["id"]})
        assert r.status_code == 200, r.text
        found: list[dict[str, Any]] = []

        def listed() -> bool:
            found[:] = [c for c in admin.get("/api/v1/cameras").json() if c["gb_id"] == channel_id]
            return bool(found)

        wait_for(listed, 10, "the channel as a camera")
        return found[0]


def wait_marker(page: Page, selector: str, number: int, timeout: float = 20) -> None:
    seen: list[int | None] = []

    def ok() -> bool:
        marker, _ = shown_camera(page, selector)
        seen.append(marker)
        return marker == number

    try:
        wait_for(ok, timeout, f"marker {number} in {selector}", every=0.2)
    except AssertionError:
        raise AssertionError(f"marker {number} not shown in {selector}; last seen {seen[-5:]}") from None


def test_gb_camera_plays_turns_to_a_preset_and_alarms_on_the_console(
    new_page: NewPage, gb_node: GbNode, artifacts: Path
) -> None:
    cam = bind_camera(gb_node)
    assert cam["ptz"] is True
    page = new_page(1440, 900)
    login_form(page, gb_node.server.url, "op-qingxi")
    page.locator(f'#camera-list [data-camera-id="{cam["id"]}"]').first.click()
    expect(page.locator("#ptz")).to_be_visible()
    page.get_by_role("button", name=re.compile("实时|live", re.I)).first.click()
    video = f'#wall .tile[data-camera-id="{cam["id"]}"] video'
    expect(page.locator(video)).to_be_attached()
    wait_marker(page, video, marker_number(1, 0))

    # preset 6 saved where it points, a move away (press and release an arrow), then back to 6
    page.fill("#ptz-preset", "6")
    page.click("#ptz-preset-set")
    expect(page.locator("#ptz-status")).to_contain_text(re.compile("控制|control"))
    expect(page.locator('#ptz-known [data-preset="6"]')).to_be_visible()
    arrow = page.locator('[data-ptz="left"]')
    arrow.dispatch_event("pointerdown")
    arrow.dispatch_event("pointerup")
    assert gb_node.sim is not None
    channel = gb_node.sim.cameras[0]
    wait_for(lambda: channel.moves >= 3, 10, "the move and its stop at the device")  # set, left, stop
    assert channel.preset == 0
    page.click('#ptz-known [data-preset="6"]')
    wait_marker(page, video, marker_number(1, 6))
    page.screenshot(path=str(artifacts / "browser-console-gb-ptz.png"))

    # a cruise over presets 7 and 6 (3 s at each): the picture goes to 7, then back to 6
    page.fill("#ptz-preset", "7")
    page.click("#ptz-preset-set")
    expect(page.locator('#ptz-known [data-preset="7"]')).to_be_visible()
    page.fill("#ptz-cruise-list", "7, 6")
    page.fill("#ptz-cruise-dwell", "3")
    page.click("#ptz-cruise")
    wait_marker(page, video, marker_number(1, 7))
    wait_marker(page, video, marker_number(1, 6))
    page.click("#ptz-cruise")
    expect(page.locator("#ptz-cruise")).to_have_attribute("aria-pressed", "false")

    # someone else is told who holds the camera, in their own console (op-qingxi takes the hold afresh
    # first: on a loaded machine the steps above can outlast the 60 s hold of the cruise's last command)
    with gb_node.client("op-qingxi") as op:
        held = op.post(f"/api/v1/gb28181/cameras/{cam['id']}/ptz", json={"action": "stop"})
        assert held.status_code == 200, held.text
    other = new_page(1280, 800)
    login_form(other, gb_node.server.url, "admin")
    other.locator(f'#camera-list [data-camera-id="{cam["id"]}"]').first.click()
    arrow = other.locator('[data-ptz="up"]')
    arrow.dispatch_event("pointerdown")
    arrow.dispatch_event("pointerup")
    try:  # the refusal names the holder (the request waits its turn on a busy node: a longer bound)
        expect(other.locator("#ptz-status")).to_contain_text("op-qingxi", timeout=45_000)
    finally:
        other.screenshot(path=str(artifacts / "browser-console-gb-ptz-other.png"))

    # a device alarm (what the control port's `alarm 1` does) reaches the console's queue
    sim = gb_node.sim
    assert gb_node.run(lambda: sim.alarm(1)) == 200
    with gb_node.client("op-qingxi") as op:
        alarm = next(
            a
            for a in op.get("/api/v1/alarms", params={"open": "true"}).json()
            if a.get("camera_id") == cam["id"]
        )
    expect(page.locator(f'#alarm-queue [data-alarm-id="{alarm["id"]}"]')).to_be_visible()
