"""An outside peer: SIPp (Debian's sip-tester) plays the provincial platform our county node registers
to (scenarios in tests/gb28181/cascade/sipp/): it challenges with 401 and checks our Digest, queries the
catalog (the pages go to its out-of-call scenario, as GB/T 28181 gives each MESSAGE a new Call-ID),
INVITEs a shared camera with RTP to a port of this test, and BYEs after 2 s. An alarm pressed before the
link came up reaches it once the link is registered (out of call too). The test then decodes the PS it
read (FFmpeg's `mpeg` demuxer, through PyAV) and checks the audit trail of the upper's session."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from pathlib import Path

import av
import pytest
from sqlalchemy import select

from tests.gb28181.support import DOMAIN, PLATFORM_ID, gb_settings, platform, scalar
from tests.support.alarms import logins_to
from tests.support.app import make_settings
from tests.support.bitstreams import encode_clip
from tests.support.net import free_port
from xueliang.app import create_app
from xueliang.audit.models import AuditEvent
from xueliang.cameras.models import Camera
from xueliang.core.context import AppContext
from xueliang.gb28181.cascade.models import GbUpper, GbUpperAlarm
from xueliang.media.codecs.params import ParamSetTracker
from xueliang.media.config import MediaSettings
from xueliang.media.frames import AccessUnit, Codec
from xueliang.media.plane import MediaPlane
from xueliang.regions.models import Region

SCENARIOS = Path(__file__).parent / "sipp"
SIPP = shutil.which("sipp")
UPPER = "51000000002000000002"
PASSWORD = "sipp-upper-pass"  # as in upper.xml (its verifyauth takes no keywords)
API = "/api/v1/gb28181/uppers"


class _Rtp(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.packets: list[bytes] = []

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.packets.append(data)


def ps_of(packets: list[bytes]) -> bytes:
    """The PS byte stream: RTP payloads in sequence order (loopback keeps them in order)."""
    return b"".join(p[12 + 4 * (p[0] & 0x0F) :] for p in packets if len(p) > 12 and p[1] & 0x7F == 96)


@pytest.mark.skipif(SIPP is None, reason="sipp is not installed (scripts/system-deps.sh: sip-tester)")
async def test_sipp_upper_platform_gets_registration_catalog_video_and_alarm(
    gb_url: str, tmp_path: Path
) -> None:
    assert SIPP is not None
    settings = make_settings(gb_url, tmp_path, gb28181=gb_settings(), media=MediaSettings(rtsp_port=0))
    app = create_app(settings, migrate_on_start=False)
    async with app.router.lifespan_context(app), logins_to(app) as login:
        ctx: AppContext = app.state.ctx
        village = int(await scalar(app, select(Region.id).where(Region.code == "513223101202")))
        camera_id = int(
            await scalar(
                app, select(Camera.id).where(Camera.region_id == village).order_by(Camera.id).limit(1)
            )
        )
        admin = await login("admin")
        sipp_port = free_port()
        body: dict[str, object] = {
            "name": "SIPp 省平台",
            "sip_id": UPPER,
            "domain": UPPER[:10],
            "host": "127.0.0.1",
        }
        body |= {"port": sipp_port, "password": PASSWORD, "enabled": False}
        r = await admin.post(API, json=body)
        assert r.status_code == 201, r.text
        upper_id = r.json()["id"]
        r = await admin.put(f"{API}/{upper_id}/channels/{camera_id}", json={"shared": True})
        channel_id = r.json()["channel_id"]
        resident = await login("res-v02")  # pressed while the link is down: it must go up later, once
        r = await resident.post("/api/v1/alarms", json={"uuid": str(uuid.uuid4()), "source": "app"})
        assert r.json()["created"] is True, r.text  # its own alarm (not one already open, coalesced)
        alarm_id = r.json()["alarm"]["id"]

        loop = asyncio.get_running_loop()
        rtp_transport, rtp = await loop.create_datagram_endpoint(_Rtp, local_addr=("127.0.0.1", 0))
        rtp_port = rtp_transport.get_extra_info("sockname")[1]
        channel = ctx.services.require(MediaPlane).engine.channel(camera_id)
        clip = encode_clip(Codec.h264, frames=20, gop=10)
        params = ParamSetTracker(Codec.h264).update(clip[0])
        assert params is not None

        async def feed() -> None:  # the camera's one pull, as the media engine feeds its channel
            n = 0
            while True:
                channel.push(AccessUnit(list(clip[n % 20]), n * 3600, n % 10 == 0, params))
                n += 1
                await asyncio.sleep(0.04)

        feeder = asyncio.create_task(feed())
        keys = {"upper": UPPER, "updomain": UPPER[:10], "node": PLATFORM_ID, "domain": DOMAIN}
        keys |= {"chan": channel_id, "rtp": str(rtp_port)}
        assert (await admin.patch(f"{API}/{upper_id}", json={"enabled": True})).status_code == 200
        args = [  # the REGISTER is retransmitted (then retried) until SIPp listens
            f"127.0.0.1:{platform(app).port}",
            *("-sf", str(SCENARIOS / "upper.xml"), "-oocsf", str(SCENARIOS / "upper_ooc.xml")),
            *("-i", "127.0.0.1", "-p", str(sipp_port), "-t", "u1", "-m", "1"),
            *("-nostdin", "-timeout", "20s", "-timeout_error"),
            *("-trace_err", "-error_file", str(tmp_path / "sipp_errors.log")),
        ]
        for name, value in keys.items():
            args += ["-key", name, value]
        proc = await asyncio.create_subprocess_exec(
            SIPP, *args, cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), 30)
        finally:
            feeder.cancel()
            rtp_transport.close()
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        errors = tmp_path / "sipp_errors.log"
        detail = out.decode(errors="replace")[-3000:] + (
            errors.read_text(errors="replace")[-3000:] if errors.exists() else ""
        )
        assert proc.returncode == 0, detail

        # the video: PS that FFmpeg's MPEG-PS demuxer reads, with the camera's picture size
        ssrcs = {int.from_bytes(p[8:12], "big") for p in rtp.packets}
        assert ssrcs == {100000321}
        path = tmp_path / "upper.ps"
        path.write_bytes(ps_of(rtp.packets))
        with av.open(str(path), format="mpeg") as container:
            frames = [f for f in container.decode(video=0)]
        assert len(frames) >= 10 and (frames[0].width, frames[0].height) == (160, 96)

        assert await scalar(app, select(GbUpper.state).where(GbUpper.id == upper_id)) == "registered"
        assert await scalar(app, select(GbUpperAlarm.sent_at).where(GbUpperAlarm.alarm_id == alarm_id))
        assert await scalar(app, select(GbUpper.catalog_at).where(GbUpper.id == upper_id))
        async with ctx.db.read_session() as session:
            audits = (
                await session.scalars(
                    select(AuditEvent).where(
                        AuditEvent.target_id == str(camera_id), AuditEvent.action.like("live.%")
                    )
                )
            ).all()
        assert [a.action for a in audits][-2:] == ["live.start", "live.end"]
        assert audits[-1].actor == f"upper platform {UPPER}"
        assert (await admin.delete(f"{API}/{upper_id}")).status_code == 204  # (a shared database)
