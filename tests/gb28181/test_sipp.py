"""An outside peer: SIPp (Debian's sip-tester) plays a GB/T 28181 device against the node's SIP
server on 127.0.0.1 (scenarios in tests/gb28181/sipp/): wrong password 401/403, right one 401/200,
keepalives, a catalog split over 2 MESSAGEs (out-of-call scenario), a device alarm. Then the database
must show the device online, its channels as cameras of its village, the alarm, and, once the
keepalives stop, the device offline and its cameras' offline alarms."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from tests.gb28181.support import DOMAIN, PLATFORM_ID, QUICK_EXPIRY, admin_client, platform, scalar, until
from tests.support.net import free_port
from xueliang.alarms.models import Alarm, AlarmKind
from xueliang.cameras.models import Camera
from xueliang.core.context import AppContext
from xueliang.core.ids import gb_id
from xueliang.gb28181.models import GbChannel, GbDevice
from xueliang.regions.models import Region

SCENARIOS = Path(__file__).parent / "sipp"
SIPP = shutil.which("sipp")
DEVICE = gb_id("51322310", 118, 301)
CAMS = [gb_id("51322310", 131, 301 + i) for i in range(3)]
PASSWORD = "sipp-device-pw"


@pytest.mark.skipif(SIPP is None, reason="sipp is not installed (scripts/system-deps.sh: sip-tester)")
@pytest.mark.parametrize("gb_app", [QUICK_EXPIRY], indirect=True, ids=["quick-expiry"])
async def test_sipp_device_registers_answers_catalog_raises_alarm_and_goes_offline(
    gb_app: FastAPI, tmp_path: Path
) -> None:
    assert SIPP is not None
    ctx: AppContext = gb_app.state.ctx
    village = int(await scalar(gb_app, select(Region.id).where(Region.code == "513223101201")))
    async with admin_client(gb_app) as admin:
        r = await admin.post(
            "/api/v1/gb28181/devices", json={"device_id": DEVICE, "region_id": village, "password": PASSWORD}
        )
        assert r.status_code == 201, r.text
    variables = {"dev": DEVICE, "platform": PLATFORM_ID, "domain": DOMAIN}
    variables |= {f"cam{i + 1}": cam for i, cam in enumerate(CAMS)}
    args = [
        f"127.0.0.1:{platform(gb_app).port}",
        *("-sf", str(SCENARIOS / "device.xml"), "-oocsf", str(SCENARIOS / "device_ooc.xml")),
        *("-i", "127.0.0.1", "-p", str(free_port()), "-t", "u1", "-m", "1", "-l", "1"),
        *("-au", DEVICE, "-ap", PASSWORD, "-nostdin", "-timeout", "20s", "-timeout_error"),
        *("-trace_err", "-error_file", str(tmp_path / "sipp_errors.log")),
    ]
    for name, value in variables.items():
        args += ["-key", name, value]
    proc = await asyncio.create_subprocess_exec(
        SIPP, *args, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), 30)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    errors = (
        (tmp_path / "sipp_errors.log").read_text(errors="replace")
        if (tmp_path / "sipp_errors.log").exists()
        else ""
    )
    assert proc.returncode == 0, out.decode(errors="replace")[-3000:] + errors[-3000:]

    async with ctx.db.session() as session:
        device = (await session.scalars(select(GbDevice).where(GbDevice.device_id == DEVICE))).one()
        channels = (await session.scalars(select(GbChannel).where(GbChannel.device_pk == device.id))).all()
        assert sorted(c.channel_id for c in channels) == CAMS
        cameras = (await session.scalars(select(Camera).where(Camera.gb_id.in_(CAMS)))).all()
        assert {c.region_id for c in cameras} == {village} and len(cameras) == 3
        by_gb = {c.gb_id: c for c in cameras}
        assert by_gb[CAMS[0]].name == "SIPp gate" and (by_gb[CAMS[0]].lat, by_gb[CAMS[0]].lon) == (
            31.2,
            105.1,
        )
        assert by_gb[CAMS[1]].ptz is True
        alarm = (
            await session.scalars(
                select(Alarm).where(Alarm.camera_id == by_gb[CAMS[0]].id, Alarm.kind == AlarmKind.intrusion)
            )
        ).one()
        assert alarm.note == "SIPp intrusion" and alarm.device_id == DEVICE

    # SIPp has gone quiet: 3 keepalive intervals later the device is offline, and so are its cameras
    online = select(GbDevice.online).where(GbDevice.device_id == DEVICE)
    await until(gb_app, lambda: scalar(gb_app, online), False, "the device going offline")
    offline = select(func.count(func.distinct(Alarm.camera_id))).where(
        Alarm.kind == AlarmKind.camera_offline, Alarm.camera_id.in_([c.id for c in cameras])
    )
    await until(gb_app, lambda: scalar(gb_app, offline), 3, "the offline alarms of its 3 cameras")
