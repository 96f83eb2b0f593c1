"""GB/T 28181 cameras in the demo county: a few simulated GB devices (`xueliang sim --gb28181`),
provisioned with their own password and bound to villages before they first register, so that their
channels become cameras as soon as they answer the catalog.

Device 1 takes over 上坪村's village-entrance camera (the seed's camera 1, the one that "turns 360°"):
its channel is linked to that camera, whose stream then comes over GB/T 28181 (INVITE, PS over RTP)
and whose PTZ moves the simulated camera. Devices 2.. become new cameras in the next villages. IDs are
the simulator's (gb28181/sim/simulator.py) under the county's centre code, so both sides agree."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.cameras.models import Camera
from xueliang.config import Settings
from xueliang.core.ids import TYPE_CAMERA, gb_id
from xueliang.gb28181.models import GbChannel, GbDevice
from xueliang.gb28181.service import stream_url
from xueliang.gb28181.sim.simulator import channel_id, device_id
from xueliang.gb28181.sip import digest
from xueliang.regions.models import Region
from xueliang.seed.demo import COUNTY_CODE, VILLAGES

DEMO_GB_DEVICES = 3
DEMO_GB_PASSWORD = "gb28181-demo-pass"  # noqa: S105 - the simulated devices' password, demo only
DEMO_GB_CIVIL_CODE = COUNTY_CODE + "00"
ENTRANCE_CAMERA = gb_id(COUNTY_CODE + "00", TYPE_CAMERA, 1)  # 上坪村村口路口


@dataclass(frozen=True)
class DemoGbDevice:
    device_id: str
    village: str
    created: bool


async def provision_demo_gb(
    session: AsyncSession, realm: str, now: datetime, count: int = DEMO_GB_DEVICES
) -> list[DemoGbDevice]:
    """Provisions and binds devices 1..count (idempotent: ones already there are left as they are).
    The caller commits."""
    out: list[DemoGbDevice] = []
    for k in range(1, count + 1):
        dev_id = device_id(DEMO_GB_CIVIL_CODE, k)
        code = VILLAGES[(k - 1) % len(VILLAGES)][0]
        existing = (await session.scalars(select(GbDevice).where(GbDevice.device_id == dev_id))).first()
        if existing is not None:
            out.append(DemoGbDevice(dev_id, code, created=False))
            continue
        region_id = await session.scalar(select(Region.id).where(Region.code == code))
        device = GbDevice(
            device_id=dev_id,
            name=f"模拟球机{k}",
            region_id=region_id,
            ha1=digest.ha1(dev_id, realm, DEMO_GB_PASSWORD),
            ha1_realm=realm,
            created_at=now,
            online=False,
        )
        session.add(device)
        await session.flush()
        if k == 1:
            camera = (await session.scalars(select(Camera).where(Camera.gb_id == ENTRANCE_CAMERA))).first()
            if camera is not None:
                chan = channel_id(DEMO_GB_CIVIL_CODE, 1)
                session.add(
                    GbChannel(
                        device_pk=device.id,
                        channel_id=chan,
                        name=camera.name,
                        ptz_type=1,
                        camera_id=camera.id,
                    )
                )
                camera.stream_url = stream_url(dev_id, chan)
                camera.ptz = True
        out.append(DemoGbDevice(dev_id, code, created=True))
    await session.flush()
    return out


def demo_gb_settings(settings: Settings) -> Settings:
    """The demo node with GB/T 28181 on (loopback, the configured SIP port, 5060 by default)."""
    gb = settings.gb28181.model_copy(
        update={"enabled": True, "host": "127.0.0.1", "advertise_host": "127.0.0.1"}
    )
    return settings.model_copy(update={"gb28181": gb})


def start_gb_demo(settings: Settings, count: int) -> subprocess.Popen[bytes]:
    """`xueliang sim --gb28181 count` beside the demo node, in its own process like a real camera; its
    control port (SIP port + 2) takes `alarm 1`, `offline 1`... (docs/gb28181.md)."""
    gb = settings.gb28181
    cmd = [
        sys.executable,
        "-m",
        "xueliang",
        "sim",
        "--gb28181",
        str(count),
        "--platform",
        f"sip:{gb.sip_id}@127.0.0.1:{gb.port}",
        "--password",
        DEMO_GB_PASSWORD,
        "--civil-code",
        DEMO_GB_CIVIL_CODE,
        "--data-dir",
        str(settings.data_dir),
        "--control-port",
        str(gb.port + 2),
    ]
    return subprocess.Popen(cmd)  # noqa: S603 - our own interpreter and module, fixed arguments
