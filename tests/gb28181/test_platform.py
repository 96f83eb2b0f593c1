"""The node as a GB/T 28181 platform, end to end over real UDP with a test device: Digest register
(wrong password 403, right one 200), paged catalog -> channels, binding -> cameras, keepalive, a device
alarm stored before its 200, and 3 missed keepalives -> offline -> the camera-offline technical alarm."""

from __future__ import annotations

import asyncio
import itertools
import re

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from tests.gb28181.device import FakeDevice
from tests.gb28181.support import (
    DOMAIN,
    PLATFORM_ID,
    QUICK_EXPIRY,
    SHARED,
    admin_client,
    platform,
    scalar,
    until,
)
from tests.support.bitstreams import encode_clip
from tests.support.waits import wait_until
from xueliang.alarms.models import Alarm, AlarmKind
from xueliang.audit.models import AuditEvent
from xueliang.cameras.models import Camera
from xueliang.core.context import AppContext
from xueliang.core.ids import gb_id
from xueliang.gb28181.models import GbChannel, GbDevice
from xueliang.gb28181.sip import digest
from xueliang.gb28181.sip.message import SipMessage, parse, response_to
from xueliang.media.codecs.params import ParamSetTracker
from xueliang.media.errors import MediaConnectionError
from xueliang.media.frames import AccessUnit, Codec, CodecParams
from xueliang.regions.models import Region


@pytest.mark.parametrize("gb_app", [QUICK_EXPIRY], indirect=True, ids=["quick-expiry"])
async def test_device_registers_gives_its_catalog_becomes_cameras_raises_alarm_and_goes_offline(
    gb_app: FastAPI,
) -> None:
    ctx: AppContext = gb_app.state.ctx
    nvr = gb_id("51322310", 118, 1)
    channels = [(gb_id("51322310", 131, 900 + i), f"清溪村口 {i}") for i in range(1, 4)]
    dev = await FakeDevice(nvr, PLATFORM_ID, DOMAIN, platform(gb_app).port).open()
    dev.catalog = channels  # 3 channels, 2 per MESSAGE: SumNum over two MESSAGEs
    keepalives: asyncio.Task[None] | None = None
    try:
        wrong = await dev.register("not-the-password")
        assert (wrong.status, wrong.reason) == (403, "Wrong password")
        ok = await dev.register(SHARED)
        assert ok.status == 200 and ok.get("Expires") == "3600" and len(ok.get("Date")) == 23

        async def keep() -> None:
            while True:
                assert (await dev.keepalive()).status == 200
                await asyncio.sleep(0.15)

        keepalives = asyncio.create_task(keep())

        device_pk = int(await scalar(gb_app, select(GbDevice.id).where(GbDevice.device_id == nvr)))
        stored = select(func.count()).select_from(GbChannel).where(GbChannel.device_pk == device_pk)
        await until(gb_app, lambda: scalar(gb_app, stored), 3, "the catalog, answered in 2 MESSAGEs")
        await wait_until(lambda: "DeviceInfo" in dev.queries, 5, "the DeviceInfo query")

        village = await scalar(gb_app, select(Region.id).where(Region.code == "513223101201"))
        async with admin_client(gb_app) as op:
            r = await op.put(f"/api/v1/gb28181/devices/{device_pk}/region", json={"region_id": village})
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["online"] is True and body["region_code"] == "513223101201"
            assert {c["channel_id"] for c in body["channels"]} == {c for c, _ in channels}
            assert all(c["camera_id"] for c in body["channels"])
            for _ in range(50):
                info = (await op.get(f"/api/v1/gb28181/devices/{device_pk}")).json()
                if info["manufacturer"]:
                    break
                await asyncio.sleep(0.05)
            assert (info["manufacturer"], info["model"], info["name"]) == (
                "Hikvision",
                "DS-7608",
                "测试录像机",
            )
        async with ctx.db.session() as session:
            cams = (
                await session.scalars(select(Camera).where(Camera.gb_id.in_([c for c, _ in channels])))
            ).all()
            assert sorted(c.name for c in cams) == sorted(n for _, n in channels)
            assert {c.region_id for c in cams} == {village}
            assert all(c.stream_url.startswith(f"gb28181://{nvr}/") for c in cams)
            first = next(c for c in cams if c.gb_id == channels[0][0])

        # a device alarm: stored before the 200 comes back
        assert (await dev.alarm(channels[0][0])).status == 200
        async with ctx.db.session() as session:
            alarm = (
                await session.scalars(
                    select(Alarm).where(Alarm.camera_id == first.id, Alarm.kind == AlarmKind.intrusion)
                )
            ).one()
            assert alarm.source == "gb28181" and alarm.note == "区域入侵"
        assert (await dev.alarm(channels[0][0])).status == 200  # a retransmitted alarm (same SN) is one alarm

        # keepalives stop: after 3 missed intervals the device and its cameras go offline
        keepalives.cancel()
        await asyncio.gather(keepalives, return_exceptions=True)

        async def offline_alarms() -> int:
            async with ctx.db.session() as session:
                rows = await session.scalars(
                    select(Alarm.camera_id).where(
                        Alarm.kind == AlarmKind.camera_offline, Alarm.camera_id.in_([c.id for c in cams])
                    )
                )
                return len(set(rows))

        online = select(GbDevice.online).where(GbDevice.id == device_pk)
        await until(gb_app, lambda: scalar(gb_app, online), False, "the device going offline")
        await until(gb_app, offline_alarms, 3, "the camera-offline alarms of 3 cameras")
        assert (await dev.keepalive()).status == 200  # a keepalive brings it back (registration still valid)
        async with ctx.db.session() as session:
            assert (await session.get(GbDevice, device_pk)).online is True  # type: ignore[union-attr]
        unregistered = await dev.register(SHARED, expires=0)
        assert unregistered.status == 200 and unregistered.get("Expires") == "0"
        assert (await dev.keepalive()).status == 403  # no longer registered
    finally:
        if keepalives is not None:
            keepalives.cancel()
        dev.close()


async def read_message(reader: asyncio.StreamReader) -> SipMessage:
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    length = int(re.search(rb"Content-Length: (\d+)", head).group(1))  # type: ignore[union-attr]
    body = await asyncio.wait_for(reader.readexactly(length), 5) if length else b""
    return parse(head + body)


async def test_tcp_device_is_queried_over_its_connection_and_offline_when_it_drops(gb_app: FastAPI) -> None:
    """GB/T 28181-2022 9.1: a device registered over TCP gets our requests over that connection, and
    is offline as soon as the connection drops. A catalog NOTIFY (ADD, OFF, DEL) updates channels."""
    device_id = gb_id("51322310", 132, 401)
    cam_a, cam_b = gb_id("51322310", 131, 401), gb_id("51322310", 131, 402)
    dev = FakeDevice(device_id, PLATFORM_ID, DOMAIN, platform(gb_app).port)
    reader, writer = await asyncio.open_connection("127.0.0.1", platform(gb_app).port)
    local = "{}:{}".format(*writer.get_extra_info("sockname")[:2])
    branches = iter(range(1000))

    async def send(msg: SipMessage) -> SipMessage:
        msg.headers.insert(0, ("Via", f"SIP/2.0/TCP {local};rport;branch=z9hG4bKt{next(branches)}"))
        writer.write(msg.encode())
        await writer.drain()
        while True:
            got = await read_message(reader)
            if not got.is_request:
                return got
            queries.append(got)
            writer.write(response_to(got, 200, to_tag="d").encode())

    queries: list[SipMessage] = []
    try:
        reg = dev._request("REGISTER", "tcp-call")
        reg.add("Expires", "3600")
        challenge = await send(reg)
        assert challenge.status == 401
        params = digest.parse_params(challenge.get("WWW-Authenticate"))
        auth = digest.authorization(
            device_id,
            DOMAIN,
            params["nonce"],
            f"sip:{PLATFORM_ID}@{DOMAIN}",
            "REGISTER",
            SHARED,
            "auth",
            "c0ffee",
        )
        reg = dev._request("REGISTER", "tcp-call")
        reg.add("Expires", "3600")
        reg.add("Authorization", auth)  # with qop=auth this time
        assert (await send(reg)).status == 200
        while not any(
            b"Catalog" in q.body for q in queries
        ):  # the catalog query comes over our TCP connection
            queries.append(await read_message(reader))
            writer.write(response_to(queries[-1], 200, to_tag="d").encode())
        notify = dev._request("MESSAGE")
        notify.add("Content-Type", "Application/MANSCDP+xml")
        items = "".join(
            f"<Item><DeviceID>{cid}</DeviceID><Name>{name}</Name><Status>ON</Status><Event>ADD</Event></Item>"
            for cid, name in ((cam_a, "东口"), (cam_b, "西口"))
        )
        notify.body = manscdp_notify(device_id, items)
        assert (await send(notify)).status == 200
        notify = dev._request("MESSAGE")
        notify.add("Content-Type", "Application/MANSCDP+xml")
        notify.body = manscdp_notify(
            device_id,
            f"<Item><DeviceID>{cam_a}</DeviceID><Event>OFF</Event></Item>"
            f"<Item><DeviceID>{cam_b}</DeviceID><Event>DEL</Event></Item>",
        )
        assert (await send(notify)).status == 200
        pk = await scalar(gb_app, select(GbDevice.id).where(GbDevice.device_id == device_id))
        rows = select(GbChannel.channel_id, GbChannel.status).where(GbChannel.device_pk == pk)
        ctx: AppContext = gb_app.state.ctx
        async with ctx.db.session() as session:
            assert (await session.execute(rows)).all() == [(cam_a, "OFF")]
        online = select(GbDevice.online).where(GbDevice.id == pk)
        assert await scalar(gb_app, online) is True
    finally:
        writer.close()
    await until(gb_app, lambda: scalar(gb_app, online), False, "offline when its TCP connection drops")


def manscdp_notify(device_id: str, items: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?><Notify><CmdType>Catalog</CmdType><SN>5</SN>'
        f"<DeviceID>{device_id}</DeviceID><SumNum>2</SumNum><DeviceList>{items}</DeviceList></Notify>"
    ).encode()


@pytest.mark.parametrize("gb_app", [{}, {"stream_transport": "TCP"}], indirect=True, ids=["udp", "tcp"])
async def test_live_invite_streams_ps_over_rtp_into_access_units_and_bye_ends_it(gb_app: FastAPI) -> None:
    """The camera's frame source INVITEs the channel (SDP with y= and f=), ACKs, demuxes the PS/RTP the
    device sends into access units, and BYEs on close; a BYE from the device ends the session."""
    tcp = platform(gb_app).settings.stream_transport == "TCP"
    device_id, channel = gb_id("51322310", 132, 502 if tcp else 501), gb_id("51322310", 131, 501)
    dev = await FakeDevice(device_id, PLATFORM_ID, DOMAIN, platform(gb_app).port).open()
    dev.answer_queries = False
    clip = encode_clip(Codec.h264, frames=20, gop=10)
    dev.frames = [AccessUnit(list(nalus), 0, i % 10 == 0, first_params(clip)) for i, nalus in enumerate(clip)]
    source = platform(gb_app).live_source(f"gb28181://{device_id}/{channel}", read_timeout=3)
    try:
        with pytest.raises(MediaConnectionError):  # not registered: nothing to INVITE
            await source.open().start()
        assert (await dev.register(SHARED)).status == 200
        async with source.open() as session:
            units = [await session.__anext__() for _ in range(12)]
            assert units[0].keyframe and session.params is not None and session.params.codec is Codec.h264
            assert [u.nalus for u in units[:10]] == [list(au.nalus) for au in dev.frames[:10]]
            assert all(b.pts > a.pts for a, b in itertools.pairwise(units))
            offer = dev.invites[0].body.decode()
            ssrc = next(line[2:] for line in offer.splitlines() if line.startswith("y="))
            assert len(ssrc) == 10 and ssrc[1:6] == DOMAIN[3:8] and "f=v/" in offer
            assert ("TCP/RTP/AVP" in offer and "a=setup:passive" in offer) is tcp
            assert dev.invites[0].get("Subject").startswith(f"{channel}:{ssrc},{PLATFORM_ID}:")
            assert dev.acks == 1
        await wait_until(lambda: dev.byes == 1, 3, "our BYE")

        session = source.open()
        await session.start()  # a second INVITE (the engine's re-INVITE after a dead stream)
        await session.__anext__()
        bye = dev._request("BYE", session.dialog.call_id if session.dialog else "")
        assert (await dev.send(bye)).status == 200
        with pytest.raises(MediaConnectionError):
            while True:
                await session.__anext__()  # drains what was queued, then the BYE ends it
        await session.close()
    finally:
        dev.close()


def first_params(clip: tuple[tuple[bytes, ...], ...]) -> CodecParams:
    params = ParamSetTracker(Codec.h264).update(clip[0])
    assert params is not None
    return params


async def test_ptz_moves_a_gb_camera_for_one_user_at_a_time_in_scope(gb_app: FastAPI) -> None:
    """DeviceControl with the 8-byte PTZCmd; the first caller holds the camera, out of scope is 404,
    every command is audited."""
    device_id, channel = gb_id("51322310", 118, 601), gb_id("51322310", 131, 601)
    dev = await FakeDevice(device_id, PLATFORM_ID, DOMAIN, platform(gb_app).port).open()
    dev.catalog = [(channel, "村口球机")]
    try:
        assert (await dev.register(SHARED)).status == 200
        pk = await scalar(gb_app, select(GbDevice.id).where(GbDevice.device_id == device_id))
        stored = select(func.count()).select_from(GbChannel).where(GbChannel.device_pk == pk)
        await until(gb_app, lambda: scalar(gb_app, stored), 1, "the catalog")
        village = await scalar(gb_app, select(Region.id).where(Region.code == "513223101201"))
        async with admin_client(gb_app) as admin:
            r = await admin.put(f"/api/v1/gb28181/devices/{pk}/region", json={"region_id": village})
            camera_id = r.json()["channels"][0]["camera_id"]
        url = f"/api/v1/gb28181/cameras/{camera_id}/ptz"
        async with admin_client(gb_app, "op-qingxi") as op:
            r = await op.post(url, json={"action": "right", "speed": 128})
            assert r.status_code == 200, r.text
            assert r.json()["command"] == "A50F0101808000B6" and r.json()["held_by"] == "op-qingxi"
            await wait_until(
                lambda: any(b"A50F0101808000B6" in q.body for q in dev.received), 3, "the PTZCmd"
            )
            r = await op.post(url, json={"action": "preset_call", "preset": 1})
            assert r.json()["command"] == "A50F018200010038"
            assert (await op.post(url, json={"action": "spin"})).status_code == 422
        async with admin_client(gb_app, "duty-v01") as duty:  # in scope, but op-qingxi holds it
            r = await duty.post(url, json={"action": "left"})
            assert (
                r.status_code == 409 and r.json()["code"] == "ptz_held" and "op-qingxi" in r.json()["message"]
            )
        for outsider in ("op-shimen", "res-v01"):
            async with admin_client(gb_app, outsider) as c:
                r = await c.post(url, json={"action": "left"})
                assert (r.status_code, r.json()["message"]) == (404, "camera not found"), outsider
        ctx: AppContext = gb_app.state.ctx
        async with ctx.db.session() as session:
            audited = (
                await session.scalars(select(AuditEvent.detail).where(AuditEvent.action == "camera.ptz"))
            ).all()
        assert [d["action"] for d in audited] == ["right", "preset_call"]
    finally:
        dev.close()
