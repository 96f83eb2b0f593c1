"""A simulated GB camera against the real platform on a node that pulls and records cameras: it
registers with Digest, answers the catalog, is bound and pulled (one INVITE, PS over RTP into the
camera's Channel) with its own marker in the pictures, is recorded, turns to a preset by PTZ through
the API (the marker then names the preset), raises a device alarm that is stored for its camera, and
goes offline when it stops keeping alive."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import func, select

from tests.gb28181.sim.support import make_sim, marker_now
from tests.gb28181.support import (
    PLATFORM_ID,
    QUICK_EXPIRY,
    SHARED,
    admin_client,
    gb_settings,
    platform,
    scalar,
    until,
)
from tests.support.app import make_settings
from tests.support.waits import wait_until
from xueliang.alarms.models import Alarm
from xueliang.app import create_app
from xueliang.cameras.models import Camera
from xueliang.core.context import AppContext
from xueliang.gb28181.models import GbDevice
from xueliang.gb28181.sim.loops import marker_number
from xueliang.media.channel import Fragment, InitSegment
from xueliang.media.config import MediaSettings
from xueliang.media.plane import MediaPlane
from xueliang.recordings.config import RecordingSettings
from xueliang.recordings.models import RecordingSegment
from xueliang.regions.models import Region

VILLAGE = "513223101201"  # 上坪村, in op-qingxi's township


async def test_a_simulated_camera_is_pulled_recorded_turned_alarmed_and_goes_offline(
    sim_url: str, tmp_path: Path
) -> None:
    settings = make_settings(
        sim_url,
        tmp_path,
        gb28181=gb_settings(
            **QUICK_EXPIRY, keepalive_misses=5
        ),  # 2.5 s: a loaded machine's stall is no outage
        media=MediaSettings(rtsp_port=0),
        recording=RecordingSettings(segment_seconds=1.0),
    )
    app = create_app(settings, migrate_on_start=False)
    async with app.router.lifespan_context(app):
        ctx: AppContext = app.state.ctx
        sim = make_sim(1, f"sip:{PLATFORM_ID}@127.0.0.1:{platform(app).port}", SHARED)
        device, channel = sim.devices[0], sim.cameras[0]
        village = await scalar(app, select(Region.id).where(Region.code == VILLAGE))
        async with admin_client(app) as admin:
            # provisioned and bound before it first registers (as the demo does): its catalog answer
            # makes the camera, and the media plane is told of it
            r = await admin.post(
                "/api/v1/gb28181/devices", json={"device_id": device.device_id, "region_id": village}
            )
            assert r.status_code in (200, 201), r.text
            device_pk = int(r.json()["id"])
            await sim.start()
            try:
                await asyncio.wait_for(sim.registered(), 10)
                cam_query = select(Camera.id).where(Camera.gb_id == channel.channel_id)
                await until(
                    app,
                    lambda: scalar(app, select(func.count()).select_from(cam_query.subquery())),
                    1,
                    "camera",
                )
                camera_id = int(await scalar(app, cam_query))
                assert await scalar(app, select(Camera.ptz).where(Camera.id == camera_id)) is True

                # live: the plane pulls it through one INVITE; the pictures carry camera 1's marker
                plane = ctx.services.require(MediaPlane)
                await wait_until(
                    lambda: plane.engine.has_camera(camera_id), 5, "the plane to take the camera"
                )
                got: list[InitSegment | Fragment] = []
                detach = plane.engine.channel(camera_id).add_listener(got.append)
                try:
                    await wait_until(
                        lambda: any(isinstance(i, Fragment) and i.keyframe for i in got), 10, "live fragments"
                    )
                    assert await marker_now(got) == marker_number(1, 0)
                    assert len(device.streams) == 1

                    # PTZ through the API: set preset 7, move away, call it; the picture turns there
                    for body in (
                        {"action": "preset_set", "preset": 7},
                        {"action": "left", "speed": 60},
                        {"action": "preset_call", "preset": 7},
                    ):
                        r = await admin.post(f"/api/v1/gb28181/cameras/{camera_id}/ptz", json=body)
                        assert r.status_code == 200, r.text
                    assert channel.preset == 7 and channel.moves == 3
                    got[:] = [i for i in got if isinstance(i, InitSegment)][-1:]  # newer pictures only
                    deadline = asyncio.get_running_loop().time() + 10
                    while (shown := await marker_now(got)) != marker_number(1, 7):
                        assert asyncio.get_running_loop().time() < deadline, f"marker still {shown}"
                        await asyncio.sleep(0.2)
                finally:
                    detach()

                # recorded like any camera
                seg_count = (
                    select(func.count())
                    .select_from(RecordingSegment)
                    .where(RecordingSegment.camera_id == camera_id)
                )
                deadline = asyncio.get_running_loop().time() + 10
                while not await scalar(app, seg_count):
                    assert asyncio.get_running_loop().time() < deadline, "no recording segment"
                    await asyncio.sleep(0.2)

                # a device alarm (the control port's `alarm 1`) becomes an alarm of its camera
                assert (await sim.command("alarm 1")).startswith("ok alarm 1: platform answered 200")
                alarms = select(func.count()).select_from(Alarm).where(Alarm.camera_id == camera_id)
                assert await scalar(app, alarms) == 1

                # unplugged: no keepalives, offline after 3 missed intervals
                assert (await sim.command("offline 1")).startswith("ok")
                online = select(GbDevice.online).where(GbDevice.id == device_pk)
                await until(app, lambda: scalar(app, online), False, "the device offline")
            finally:
                await sim.stop()
