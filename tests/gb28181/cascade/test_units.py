"""The cascade's pure parts: civil codes of our regions, catalog pages (SumNum and Num), the Alarm
notification (parsed back by our hardened MANSCDP parser), the SDP offer/answer, PTZCmd checks, and
the upper stream's media: a channel's frames as PS over RTP to a UDP port, ended by an RTCP BYE."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

from tests.support.bitstreams import encode_clip
from tests.support.waits import wait_until
from xueliang.gb28181 import manscdp
from xueliang.gb28181.cascade import catalog
from xueliang.gb28181.cascade.cascade import answer_sdp, parse_sdp, valid_ptz
from xueliang.gb28181.cascade.media import UpperStream
from xueliang.gb28181.cascade.service import SharedCamera, distance_m
from xueliang.gb28181.ptz import ptz_cmd
from xueliang.media.channel import Channel
from xueliang.media.codecs.params import ParamSetTracker
from xueliang.media.frames import AccessUnit, Codec
from xueliang.media.ps import PsRtpReceiver

NODE = "51322300002000000001"


def shared(n: int, path: str = "513223/513223101/513223101201/") -> SharedCamera:
    camera: Any = SimpleNamespace(id=n, name=f"村口{n}", lat=31.7, lon=103.8, ptz=n % 2 == 0)
    region: Any = SimpleNamespace(path=path, name="上坪村")
    return SharedCamera(f"5132230000132000{n:04d}", camera, region)


def test_civil_codes_of_our_regions() -> None:
    assert catalog.civil_code("513223/513223101/513223101201/") == "51322301"
    assert catalog.civil_code("513223/") == "513223"
    assert catalog.civil_of_region("513223102") == "51322302"
    assert catalog.civil_of_region("513223101201") == ""


def test_catalog_pages_count_the_whole_and_each_part() -> None:
    cams = [shared(n) for n in range(1, 6)]
    entries = catalog.region_entries(cams, {"513223": "示范县", "513223101": "清溪镇"})
    assert [e.device_id for e in entries] == ["51", "5132", "513223", "51322301"]
    entries += [catalog.camera_entry(c, NODE, online=c.camera.id != 3) for c in cams]
    pages = catalog.catalog_pages(NODE, 42, entries, 4, "GB2312")
    assert len(pages) == 3
    docs = [manscdp.parse(p) for p in pages]
    assert all(d.charset == "GB2312" and d.sn == 42 and d.text("SumNum") == "9" for d in docs)
    assert [len(manscdp.find(d.element, "DeviceList") or []) for d in docs] == [4, 4, 1]
    assert [d.element.find("DeviceList").get("Num") for d in docs] == ["4", "4", "1"]  # type: ignore[union-attr]
    parts = [manscdp.catalog_items(d)[1] for d in docs]  # (what a device-side reader keeps: the channels)
    items = {i.device_id: i for p in parts for i in p}
    assert items[cams[2].channel_id].status == "OFF" and items[cams[1].channel_id].name == "村口2"
    names = {d.element.findtext("DeviceList/Item/Name") for d in docs}
    assert "示范县" not in names  # the first page starts at the province, named by its code
    assert (
        catalog.catalog_pages(NODE, 1, [], 4, "UTF-8")
        and manscdp.parse(catalog.catalog_pages(NODE, 1, [], 4, "UTF-8")[0]).text("SumNum") == "0"
    )


def test_alarm_notify_carries_position_and_nearest_channels() -> None:
    facts = catalog.AlarmFacts(
        7, "emergency", "tv", "老人摔倒", 31.71, 103.84, "2026-12-07T12:00:01", "上坪村"
    )
    doc = manscdp.parse(
        catalog.alarm_notify(NODE, 99, facts, ["51322300001320000001", "51322300001320000002"], "GB2312")
    )
    assert (doc.root, doc.cmd, doc.sn, doc.device_id) == ("Notify", "Alarm", 99, "51322300001320000001")
    assert doc.text("AlarmMethod") == "1" and doc.text("AlarmPriority") == "1"
    assert doc.text("Longitude") == "103.840000" and "老人摔倒" in doc.text("AlarmDescription")
    info = manscdp.find(doc.element, "Info")
    assert info is not None
    related = manscdp.find(info, "RelatedChannels")
    assert related is not None and [e.text for e in related] == [
        "51322300001320000001",
        "51322300001320000002",
    ]
    offline = catalog.AlarmFacts(
        8, "camera_offline", "system", "", None, None, "2026-12-07T12:00:01", "上坪村"
    )
    doc = manscdp.parse(catalog.alarm_notify(NODE, 100, offline, [], "UTF-8"))
    assert doc.device_id == NODE and doc.text("AlarmMethod") == "6" and not doc.text("Longitude")
    assert round(distance_m(31.7, 103.8, 31.71, 103.8)) == 1112


def test_sdp_offer_and_answer() -> None:
    offer = parse_sdp(
        "v=0\r\no=x 0 0 IN IP4 10.0.0.9\r\ns=Play\r\nc=IN IP4 10.0.0.9\r\nt=0 0\r\n"
        "m=video 30000 TCP/RTP/AVP 96 98\r\na=setup:passive\r\na=rtpmap:96 PS/90000\r\ny=0513220001\r\n"
    )
    assert offer is not None and (offer.host, offer.port, offer.tcp, offer.setup) == (
        "10.0.0.9",
        30000,
        True,
        "passive",
    )
    answer = answer_sdp("51322300001320000001", "10.0.0.5", 9, offer, "0513220001").decode()
    assert "m=video 9 TCP/RTP/AVP 96" in answer and "a=setup:active" in answer and "y=0513220001" in answer
    assert parse_sdp("v=0\r\nc=IN IP4 1.2.3.4\r\nm=video 5 RTP/AVP 98\r\n") is None  # no PS
    assert parse_sdp("garbage") is None


def test_ptz_commands_are_checked() -> None:
    assert valid_ptz(ptz_cmd("up", 0x80)) and valid_ptz(ptz_cmd("preset_call", preset=3))
    assert not valid_ptz("A50F0108008000FF") and not valid_ptz("zz") and not valid_ptz("B50F010800800000")


async def test_upper_stream_sends_ps_over_rtp_until_rtcp_bye() -> None:
    clip = encode_clip(Codec.h264, frames=10, gop=5)
    params = ParamSetTracker(Codec.h264).update(clip[0])
    assert params is not None
    channel = Channel(1)
    got: list[AccessUnit] = []
    receiver = PsRtpReceiver(got.append)
    ended = asyncio.Event()

    class Peer(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str | Any, ...]) -> None:
            receiver.push_rtp(data)

    loop = asyncio.get_running_loop()
    peer, _ = await loop.create_datagram_endpoint(Peer, local_addr=("127.0.0.1", 0))
    port = peer.get_extra_info("sockname")[1]

    async def on_end(stream: UpperStream) -> None:
        ended.set()

    stream = UpperStream(channel, 1234, "127.0.0.1", port, tcp=False, media_host="127.0.0.1", on_end=on_end)
    ours = await stream.prepare()
    stream.start()
    await wait_until(lambda: channel.stats().viewers == 1, what="the stream's viewer on the channel")
    for n, nalus in enumerate(clip):
        channel.push(AccessUnit(list(nalus), n * 3600, n % 5 == 0, params))
    await wait_until(lambda: len(got) >= 9, what="9 frames through PS/RTP")
    assert len(got) >= 9 and got[0].keyframe and receiver.stats.lost_packets == 0
    assert receiver.demuxer.params is not None and receiver.demuxer.params.codec is Codec.h264
    rtcp_bye = bytes([0x81, 203, 0, 1]) + (1234).to_bytes(4, "big")
    peer.sendto(rtcp_bye, ("127.0.0.1", ours + 1 if stream._rtcp is not None else ours))
    await asyncio.wait_for(ended.wait(), 5)
    assert stream.reason == "RTCP BYE" and stream.frames_sent >= 9
    peer.close()


async def test_upper_stream_over_tcp_active_connects_and_frames_rfc4571() -> None:
    clip = encode_clip(Codec.h264, frames=6, gop=3)
    params = ParamSetTracker(Codec.h264).update(clip[0])
    assert params is not None
    channel = Channel(2)
    got: list[AccessUnit] = []
    receiver = PsRtpReceiver(got.append)

    async def upper(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            receiver.push_tcp(data)
        writer.close()

    server = await asyncio.start_server(upper, "127.0.0.1", 0)  # the upper listens (a=setup:passive)
    port = server.sockets[0].getsockname()[1]
    stream = UpperStream(channel, 77, "127.0.0.1", port, tcp=True, media_host="127.0.0.1")
    assert await stream.prepare() == 9  # RFC 4145: the active side names the discard port
    stream.start()
    await wait_until(lambda: channel.stats().viewers == 1, what="the stream's viewer on the channel")
    for n, nalus in enumerate(clip):
        channel.push(AccessUnit(list(nalus), n * 3600, n % 3 == 0, params))
    await wait_until(lambda: len(got) >= 5, what="5 frames over TCP")
    stream.finish("test over")
    await asyncio.wait_for(stream.wait(), 5)
    assert stream.reason == "test over" and receiver.stats.lost_packets == 0
    server.close()
