"""Preset mask sets end to end: a simulated GB dome (gb28181/sim, whose picture's marker names the preset
it points at) with a default set and a set for presets 6 and 7, pulled by the real platform; its masked
variant, decoded frame by frame with PyAV, fills the default set before any move, preset 6's set once it
is called, preset 7's set once that is called, and the whole picture after a manual move until a preset
is called again. Throughout, no frame whose marker can be read shows a preset's picture without that
preset's areas filled."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from tests.gb28181.sim.support import make_sim
from tests.gb28181.support import PLATFORM_ID, SHARED, admin_client, gb_settings, platform, scalar, until
from tests.support.app import make_settings
from tests.support.waits import wait_until
from xueliang.app import create_app
from xueliang.cameras.models import Camera
from xueliang.core.context import AppContext
from xueliang.gb28181.sim.loops import marker_number
from xueliang.media.channel import Fragment, InitSegment
from xueliang.media.codecs.annexb import join_annexb
from xueliang.media.config import MediaSettings
from xueliang.media.fmp4 import read_sample
from xueliang.media.plane import MediaPlane
from xueliang.media.sim.marker import decode_marker
from xueliang.regions.models import Region

VILLAGE = "513223101201"  # 上坪村
# Areas in fractions of the picture, all clear of the marker (top left): the default set's at the top
# right, preset 6's at the bottom left, preset 7's at the bottom right.
DEFAULT = [[0.6, 0.0], [1.0, 0.0], [1.0, 0.4], [0.6, 0.4]]
AT_6 = [[0.0, 0.5], [0.45, 0.5], [0.45, 1.0], [0.0, 1.0]]
AT_7 = [[0.55, 0.5], [1.0, 0.5], [1.0, 1.0], [0.55, 1.0]]
AREA = {"default": DEFAULT, 6: AT_6, 7: AT_7}
NO_PRESET, PRESET_6, PRESET_7 = (marker_number(1, p) for p in (0, 6, 7))


def _box(area: list[list[float]], width: int, height: int) -> tuple[slice, slice]:
    """The pixels well inside a rectangular area (4 px in from its edges: no blending with the fill)."""
    xs, ys = [p[0] for p in area], [p[1] for p in area]
    return (
        slice(int(min(ys) * height) + 4, int(max(ys) * height) - 4),
        slice(int(min(xs) * width) + 4, int(max(xs) * width) - 4),
    )


class Shot:
    """What one decoded frame of the masked variant shows."""

    def __init__(self, gray: Any) -> None:
        height, width = gray.shape
        self.marker = decode_marker(gray)
        self.whole = bool(gray.max() < 40)  # the whole picture filled
        self.filled = {k: bool(gray[_box(a, width, height)].max() < 40) for k, a in AREA.items()}
        self.shown = {k: float(gray[_box(a, width, height)].mean()) > 30 for k, a in AREA.items()}

    def only(self, key: object) -> bool:
        """This area filled and the others showing the picture."""
        return self.filled[key] and all(self.shown[k] for k in AREA if k != key)


class Frames:
    """Decodes the masked variant's fragments as they come (PyAV's H.264 decoder)."""

    def __init__(self) -> None:
        import av

        self.decoder: Any = av.CodecContext.create("h264", "r")
        self.params: Any = None
        self.shots: list[Shot] = []

    def push(self, item: InitSegment | Fragment) -> None:
        import av

        if isinstance(item, InitSegment):
            self.params = item.params
            return
        if self.params is None:
            return
        nalus, _ = read_sample(item.data)
        if item.keyframe:
            nalus = [self.params.sps, self.params.pps, *nalus]
        for frame in self.decoder.decode(av.Packet(join_annexb(nalus))):
            self.shots.append(Shot(frame.to_ndarray(format="gray")))

    def since(self, start: int) -> list[Shot]:
        return self.shots[start:]


async def ptz(admin: httpx.AsyncClient, camera_id: int, **body: object) -> None:
    r = await admin.post(f"/api/v1/gb28181/cameras/{camera_id}/ptz", json=body)
    assert r.status_code == 200, r.text


async def draw(admin: httpx.AsyncClient, camera_id: int, preset: int, area: list[list[float]]) -> None:
    r = await admin.put(
        f"/api/v1/cameras/{camera_id}/masks", params={"preset": preset}, json={"masks": [{"points": area}]}
    )
    assert r.status_code == 200, r.text


async def test_the_masked_variant_follows_presets_and_fails_closed_after_a_manual_move(
    privacy_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        privacy_url,
        tmp_path,
        gb28181=gb_settings(keepalive_misses=5),
        media=MediaSettings(rtsp_port=0),
    )
    app = create_app(settings, migrate_on_start=False)
    async with app.router.lifespan_context(app):
        ctx: AppContext = app.state.ctx
        sim = make_sim(1, f"sip:{PLATFORM_ID}@127.0.0.1:{platform(app).port}", SHARED)
        device, channel = sim.devices[0], sim.cameras[0]
        village = await scalar(app, select(Region.id).where(Region.code == VILLAGE))
        async with admin_client(app) as admin:
            r = await admin.post(
                "/api/v1/gb28181/devices", json={"device_id": device.device_id, "region_id": village}
            )
            assert r.status_code in (200, 201), r.text
            await sim.start()
            try:
                await asyncio.wait_for(sim.registered(), 10)
                cam_query = select(Camera.id).where(Camera.gb_id == channel.channel_id)
                count = select(func.count()).select_from(cam_query.subquery())
                await until(app, lambda: scalar(app, count), 1, "camera")
                camera_id = int(await scalar(app, cam_query))

                # the presets are saved on the dome first, then their sets drawn (a set drawn before
                # its preset is saved again is not in force)
                await ptz(admin, camera_id, action="preset_set", preset=6)
                await ptz(admin, camera_id, action="preset_set", preset=7)
                await draw(admin, camera_id, 0, DEFAULT)
                await draw(admin, camera_id, 6, AT_6)
                await draw(admin, camera_id, 7, AT_7)
                got = (await admin.get(f"/api/v1/cameras/{camera_id}/masks", params={"preset": 6})).json()
                assert got["ptz"] and got["preset"] == 6 and got["masks"][0]["points"] == AT_6
                assert [(s["preset"], s["areas"], s["in_force"]) for s in got["sets"]] == [
                    (6, 1, True),
                    (7, 1, True),
                ]

                plane = ctx.services.require(MediaPlane)
                await wait_until(
                    lambda: plane.engine.has_camera(camera_id), 5, "the plane to take the camera"
                )
                variant = plane.masks.ensure(camera_id)
                frames = Frames()
                detach = plane.engine.channel(variant).add_listener(frames.push)
                try:

                    async def shows(what: str, start: int, test: Any) -> None:
                        await wait_until(lambda: any(test(s) for s in frames.since(start)), 15, what)

                    # never moved by us: the default set
                    await shows("the default set", 0, lambda s: s.marker == NO_PRESET and s.only("default"))

                    mark = len(frames.shots)
                    await ptz(admin, camera_id, action="preset_call", preset=6)
                    await shows("preset 6's set", mark, lambda s: s.marker == PRESET_6 and s.only(6))

                    mark = len(frames.shots)
                    await ptz(admin, camera_id, action="preset_call", preset=7)
                    await shows("preset 7's set", mark, lambda s: s.marker == PRESET_7 and s.only(7))

                    # moved by hand: from the command on, the whole picture, until a preset is called
                    await ptz(admin, camera_id, action="left", speed=60)
                    moved = len(frames.shots)
                    await ptz(admin, camera_id, action="stop")
                    await shows("the whole picture filled", moved, lambda s: s.whole)
                    whole_from = moved + next(i for i, s in enumerate(frames.since(moved)) if s.whole)
                    await wait_until(lambda: len(frames.shots) > whole_from + 50, 15, "two seconds more")
                    assert all(s.whole for s in frames.shots[whole_from:]), "a picture showed while moved"
                    assert channel.preset == 0  # the dome itself shows its no-preset view meanwhile

                    mark = len(frames.shots)
                    await ptz(admin, camera_id, action="preset_call", preset=6)
                    await shows("preset 6's set again", mark, lambda s: s.marker == PRESET_6 and s.only(6))
                finally:
                    detach()

                # the privacy rule itself, over every frame: a preset's picture never without its areas
                need = {NO_PRESET: "default", PRESET_6: 6, PRESET_7: 7}
                for index, shot in enumerate(frames.shots):
                    if shot.marker is not None:
                        assert shot.filled[need[shot.marker]], f"frame {index}: marker {shot.marker} unmasked"
                readable = [s.marker for s in frames.shots if s.marker is not None]
                first_move = readable.index(PRESET_6)
                assert NO_PRESET not in readable[first_move:], "the no-preset view showed after a move"
            finally:
                await sim.stop()
