"""The mask editor of a PTZ dome in Chromium: its preset bar appears (a fixed camera has none), the admin
picks preset 6, is told it has no set yet (the whole picture is filled there), draws an area and saves
it; the set is stored for preset 6 alone and now in force, and the default set is untouched."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import delete, update

from tests.privacy.browser.test_privacy_pages import client, log_in, server  # noqa: F401 - fixture
from tests.support.app import LiveServer
from tests.support.browser import NewPage
from tests.support.recordings import run_async
from xueliang.cameras.mask_models import CameraMask, CameraMaskSet
from xueliang.cameras.models import Camera
from xueliang.core.db import Database

pytestmark = pytest.mark.browser


def set_ptz(url: str, camera: int, ptz: bool) -> None:
    async def go() -> None:
        db = Database(url)
        try:
            async with db.session() as session:
                await session.execute(update(Camera).where(Camera.id == camera).values(ptz=ptz))
                if not ptz:
                    for table in (CameraMask, CameraMaskSet):
                        await session.execute(delete(table).where(table.camera_id == camera))
                await session.commit()
        finally:
            await db.dispose()

    run_async(go)


def test_the_editor_draws_a_set_for_one_preset_of_a_dome(
    server: LiveServer,  # noqa: F811 - the fixture imported above
    new_page: NewPage,
    artifacts: Path,
    privacy_url: str,
) -> None:
    with client(server, "admin") as admin:
        cameras = [c["id"] for c in admin.get("/cameras").json()]
    dome, fixed = cameras[-2], cameras[-3]
    set_ptz(privacy_url, dome, True)
    try:
        page = new_page(1280, 900)
        log_in(page, server, "admin")
        page.goto(f"{server.url}/masks/{fixed}")
        expect(page.locator("#mask-editor")).to_have_attribute("data-ready", "1")
        expect(page.locator("#me-presets")).to_be_hidden()

        page.goto(f"{server.url}/masks/{dome}")
        editor = page.locator("#mask-editor")
        expect(editor).to_have_attribute("data-ready", "1")
        expect(page.locator("#me-presets")).to_be_visible()
        expect(page.locator("#me-preset-note")).to_have_attribute("data-state", "default")
        page.fill("#me-new-preset", "6")
        page.click("#me-add-preset")
        expect(editor).to_have_attribute("data-preset", "6")
        expect(page.locator("#me-preset-note")).to_have_attribute("data-state", "none")
        expect(page.locator("#me-goto")).to_be_visible()  # admins may turn the camera there

        overlay = page.locator("#me-overlay")
        box = overlay.bounding_box()
        assert box is not None
        for fx, fy in ((0.1, 0.5), (0.4, 0.5), (0.4, 0.9)):
            overlay.click(position={"x": box["width"] * fx, "y": box["height"] * fy})
        page.click("#me-finish")
        page.click("#me-save")
        expect(editor).to_have_attribute("data-saved", "1")
        expect(page.locator("#me-preset-note")).to_have_attribute("data-state", "in-force")
        expect(page.locator("#me-preset option[value='6']")).to_have_count(1)
        page.screenshot(path=str(artifacts / "browser-privacy-preset-masks.png"), animations="disabled")

        with client(server, "admin") as admin:
            at_6 = admin.get(f"/cameras/{dome}/masks", params={"preset": 6}).json()
            default = admin.get(f"/cameras/{dome}/masks").json()
        assert len(at_6["masks"]) == 1 and at_6["sets"][0]["in_force"] is True
        assert default["masks"] == []

        page.select_option("#me-preset", "0")
        expect(editor).to_have_attribute("data-preset", "0")
        expect(page.locator(".me-item")).to_have_count(0)
    finally:
        set_ptz(privacy_url, dome, False)
