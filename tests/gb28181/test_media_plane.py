"""A GB camera on a node that pulls cameras: once its device is bound, the media plane opens it through
the SIP platform (`gb28181://device/channel`, registered by gb28181/runtime.py), with one INVITE however
many viewers, and the PS the device sends becomes the camera's live fMP4, as an RTSP camera's does."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import select

from tests.gb28181.device import FakeDevice
from tests.gb28181.support import DOMAIN, PLATFORM_ID, SHARED, admin_client, gb_settings, platform, scalar
from tests.support.app import make_settings
from tests.support.bitstreams import encode_clip
from tests.support.waits import wait_until
from xueliang.app import create_app
from xueliang.cameras.models import Camera
from xueliang.core.context import AppContext
from xueliang.core.ids import gb_id
from xueliang.gb28181.models import GbDevice
from xueliang.media.channel import Fragment, InitSegment
from xueliang.media.codecs.params import ParamSetTracker
from xueliang.media.config import MediaSettings
from xueliang.media.engine import CameraStatus
from xueliang.media.frames import AccessUnit, Codec
from xueliang.media.plane import MediaPlane
from xueliang.regions.models import Region


async def test_a_bound_gb_camera_is_pulled_by_the_media_plane(gb_url: str, tmp_path: Path) -> None:
    settings = make_settings(gb_url, tmp_path, gb28181=gb_settings(), media=MediaSettings(rtsp_port=0))
    app: FastAPI = create_app(settings, migrate_on_start=False)
    async with app.router.lifespan_context(app):
        ctx: AppContext = app.state.ctx
        nvr, channel = gb_id("51322310", 118, 77), gb_id("51322310", 131, 777)
        dev = await FakeDevice(nvr, PLATFORM_ID, DOMAIN, platform(app).port).open()
        dev.catalog = [(channel, "测试村口")]
        clip = encode_clip(Codec.h264, frames=20, gop=10)
        params = ParamSetTracker(Codec.h264).update(clip[0])
        assert params is not None
        dev.frames = [AccessUnit(list(nalus), 0, i % 10 == 0, params) for i, nalus in enumerate(clip)]

        async def keep() -> None:
            while True:
                await dev.keepalive()
                await asyncio.sleep(0.2)

        keepalives = asyncio.create_task(keep())
        try:
            assert (await dev.register(SHARED)).status == 200
            device_pk = 0

            async def stored() -> bool:
                nonlocal device_pk
                device_pk = int(await scalar(app, select(GbDevice.id).where(GbDevice.device_id == nvr)) or 0)
                return device_pk > 0

            for _ in range(100):
                if await stored():
                    break
                await asyncio.sleep(0.05)
            village = await scalar(app, select(Region.id).where(Region.code == "513223101201"))
            async with admin_client(app) as admin:
                r = await admin.put(
                    f"/api/v1/gb28181/devices/{device_pk}/region", json={"region_id": village}
                )
                assert r.status_code == 200, r.text
            camera_id = int(await scalar(app, select(Camera.id).where(Camera.gb_id == channel)))

            plane = ctx.services.require(MediaPlane)
            await wait_until(lambda: plane.engine.has_camera(camera_id), 5, "the plane to take the camera")
            got: list[InitSegment | Fragment] = []
            detach = plane.engine.channel(camera_id).add_listener(got.append)
            try:
                await wait_until(
                    lambda: any(isinstance(i, Fragment) and i.keyframe for i in got), 10, "live fragments"
                )
            finally:
                detach()
            health = plane.engine.health(camera_id)
            assert health.status is CameraStatus.online, health
            assert len(dev.invites) == 1 and channel in dev.invites[0].uri  # one INVITE, whoever watches
        finally:
            keepalives.cancel()
            await asyncio.gather(keepalives, return_exceptions=True)
            dev.close()
