"""The RTSP re-serve over UDP and the RTCP sender reports on every RTP session it sends; the reorder
buffer of the UDP ingest. FFmpeg (PyAV, `rtsp_transport=udp`) is the outside player; raw sockets check
the exact RTCP, BYE and the session timeout."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import av
import pytest

from tests.media.test_restream import RawClient, rig
from tests.support.clips import read_marker
from tests.support.waits import wait_until
from xueliang.media.errors import MediaConnectionError
from xueliang.media.frames import AccessUnit
from xueliang.media.rtp import rtcp
from xueliang.media.rtp.reorder import ReorderBuffer
from xueliang.media.rtsp.client import RtspSession, RtspSource
from xueliang.media.rtsp.fields import parse_pair, parse_transport
from xueliang.media.rtsp.message import InterleavedFrame


def rtp(seq: int) -> bytes:
    return struct.pack(">BBHII", 0x80, 96, seq & 0xFFFF, 1000, 42) + b"x"


def seqs(packets: list[bytes]) -> list[int]:
    return [struct.unpack_from(">H", p, 2)[0] for p in packets]


def test_rtcp_sender_report_round_trip_and_garbage() -> None:
    report = rtcp.sender_report(0xDEADBEEF, 123456, 10, 5000, "xueliang-1", now=1_700_000_000.25)
    sr, sdes = rtcp.parse_rtcp(report)
    assert (sr.kind, sr.ssrc, sr.rtp_ts, sr.packets, sr.octets) == (rtcp.SR, 0xDEADBEEF, 123456, 10, 5000)
    assert abs(sr.ntp - 1_700_000_000.25) < 1e-6 and sdes.kind == rtcp.SDES and len(report) % 4 == 0
    assert [p.kind for p in rtcp.parse_rtcp(rtcp.bye(7))] == [rtcp.RR, rtcp.BYE]
    assert rtcp.parse_rtcp(rtcp.bye(7))[1].sources == (7,)
    assert rtcp.parse_rtcp(b"") == rtcp.parse_rtcp(rtp(1)) == rtcp.parse_rtcp(report[:20]) == []


async def test_reorder_buffer_restores_order_and_still_sees_loss() -> None:
    out: list[bytes] = []
    buffer = ReorderBuffer(out.append, capacity=8, delay=0.05)
    for seq in (65534, 0, 65535, 1, 3, 2):  # swapped neighbours, across the wrap
        buffer.push(rtp(seq))
    assert seqs(out) == [65534, 65535, 0, 1, 2, 3] and buffer.reordered == 2 and buffer.skipped == 0
    buffer.push(rtp(5))  # 4 is lost: 5 waits `delay`, then goes on and the gap reaches the assembler
    assert seqs(out)[-1] == 3
    await wait_until(lambda: seqs(out)[-1] == 5, within=2, what="the held packet after the delay")
    assert buffer.skipped == 1
    for seq in range(7, 17):  # 6 lost and more than `capacity` behind it: no waiting for the clock
        buffer.push(rtp(seq))
    assert seqs(out)[-1] == 16 and buffer.skipped == 2 and buffer.held == 0
    buffer.push(rtp(4))  # far too late: handed on, the assembler counts it late
    buffer.push(rtp(9000))  # a sender restart: no waiting
    assert seqs(out)[-2:] == [4, 9000]
    buffer.close()


def ffmpeg_udp_frames(url: str, frames: int) -> tuple[int, set[int]]:
    """FFmpeg pulls over UDP: frames decoded and their markers."""
    options = {"rtsp_transport": "udp", "analyzeduration": "0", "probesize": "32768"}
    count, markers = 0, set()
    with av.open(url, options=options, timeout=10) as container:
        for frame in container.decode(video=0):
            count += 1
            markers.add(read_marker(frame))
            if count >= frames:
                break
    return count, markers


async def test_ffmpeg_plays_the_re_serve_over_udp(clips: dict[int, list[AccessUnit]]) -> None:
    async with rig({1: clips[1]}) as r:
        await wait_until(lambda: r.engine.channel(1).init is not None, what="a picture")
        count, markers = await asyncio.to_thread(ffmpeg_udp_frames, r.url(1, "ok-1"), 40)
        assert count == 40 and markers == {1}
        await wait_until(lambda: len(r.access.ended) == 1, what="the session reported ended")
        assert r.access.ended[0].bytes_sent > 1000 and r.server.reports_sent >= 1


@asynccontextmanager
async def udp_pair() -> AsyncIterator[tuple[socket.socket, socket.socket]]:
    """A client's RTP and RTCP sockets on an even/odd port pair."""
    for _ in range(32):
        rtp_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rtp_sock.bind(("127.0.0.1", 0))
        port = rtp_sock.getsockname()[1]
        rtcp_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            if port % 2:
                raise OSError("odd")
            rtcp_sock.bind(("127.0.0.1", port + 1))
        except OSError:
            rtp_sock.close()
            rtcp_sock.close()
            continue
        rtp_sock.setblocking(False)
        rtcp_sock.setblocking(False)
        try:
            yield rtp_sock, rtcp_sock
        finally:
            rtp_sock.close()
            rtcp_sock.close()
        return
    pytest.fail("no even/odd UDP port pair")


async def setup_play(client: RawClient, url: str, transport: str) -> tuple[str, dict[str, str]]:
    setup = await client.request("SETUP", url + "/trackID=0", Transport=transport)
    assert setup.status == 200, setup.status
    session = (setup.headers.get("Session") or "").split(";")[0]
    assert (await client.request("PLAY", url, Session=session)).status == 200
    return session, parse_transport(setup.headers.get("Transport") or "")[1]


async def test_udp_session_gets_rtp_and_sender_reports_and_ends_on_bye(
    clips: dict[int, list[AccessUnit]],
) -> None:
    loop = asyncio.get_running_loop()
    async with rig({1: clips[1]}, report_every=0.2) as r, udp_pair() as (rtp_sock, rtcp_sock):
        await wait_until(lambda: r.engine.channel(1).init is not None, what="a picture")
        client = await RawClient.connect(r.server.port)
        try:
            port = rtp_sock.getsockname()[1]
            assert (await client.request("DESCRIBE", r.url(1, "ok-1"))).status == 200
            _, params = await setup_play(client, r.url(1), f"RTP/AVP;unicast;client_port={port}-{port + 1}")
            ssrc = int(params["ssrc"], 16)
            server_rtcp = parse_pair(params["server_port"], "server ports")[1]
            async with asyncio.timeout(5):
                packet = await loop.sock_recv(rtp_sock, 2048)
                report = rtcp.parse_rtcp(await loop.sock_recv(rtcp_sock, 2048))[0]
            assert packet[1] & 0x7F == 96 and struct.unpack_from(">I", packet, 8)[0] == ssrc
            assert report.kind == rtcp.SR and report.ssrc == ssrc and report.packets >= 1
            # The SR's RTP time is the stream's: within a few seconds (90 kHz) of the packets'.
            assert (
                abs((report.rtp_ts - struct.unpack_from(">I", packet, 4)[0] + 2**31) % 2**32 - 2**31)
                < 5 * 90_000
            )
            rtcp_sock.sendto(rtcp.bye(0x1234), ("127.0.0.1", server_rtcp))
            await wait_until(lambda: len(r.access.ended) == 1, what="the session ended by BYE")
            assert r.access.ended[0].reason == "client said BYE"
        finally:
            client.close()


async def test_silent_udp_session_times_out_and_tcp_gets_reports(clips: dict[int, list[AccessUnit]]) -> None:
    async with rig({1: clips[1]}, session_timeout=1, report_every=0.2) as r, udp_pair() as (rtp_sock, _):
        await wait_until(lambda: r.engine.channel(1).init is not None, what="a picture")
        udp_client, tcp_client = (
            await RawClient.connect(r.server.port),
            await RawClient.connect(r.server.port),
        )
        try:
            port = rtp_sock.getsockname()[1]
            await udp_client.request("DESCRIBE", r.url(1, "ok-1"))
            await setup_play(udp_client, r.url(1), f"RTP/AVP;unicast;client_port={port}-{port + 1}")
            await tcp_client.request("DESCRIBE", r.url(1, "ok-1"))
            _, params = await setup_play(tcp_client, r.url(1), "RTP/AVP/TCP;unicast;interleaved=0-1")
            # TCP: the sender report arrives on the odd channel, next to the RTP.
            parser = tcp_client.parser  # mid-stream: go on with the client's own parser
            reports: list[rtcp.RtcpPacket] = []
            async with asyncio.timeout(5):
                while not reports:
                    for item in parser.feed(await tcp_client.reader.read(65536)):
                        if isinstance(item, InterleavedFrame) and item.channel == 1:
                            reports += rtcp.parse_rtcp(item.data)
            assert reports[0].kind == rtcp.SR and reports[0].ssrc == int(params["ssrc"], 16)
            # UDP: the client sends neither RTCP nor requests; after `session_timeout` it is gone.
            await wait_until(lambda: len(r.access.ended) == 1, within=5, what="the silent session's end")
            assert r.access.ended[0].reason == "session timed out"
        finally:
            udp_client.close()
            tcp_client.close()


async def test_our_client_pulls_the_re_serve_over_udp_reports_and_hears_bye(
    clips: dict[int, list[AccessUnit]],
) -> None:
    async with rig({1: clips[1]}) as r:
        await wait_until(lambda: r.engine.channel(1).init is not None, what="a picture")
        session = RtspSource(r.url(1, "ok-1"), transport="udp").open()
        async with session:
            async with asyncio.timeout(5):
                for _ in range(10):
                    await anext(session)
            assert session.transport == "udp" and session.stats.lost_packets == 0
            await wait_until(lambda: r.server.reports_received >= 1, what="our receiver report")
            assert session.media_ssrc is not None
            # The camera (here the re-serve's address) says BYE for the stream: the session ends now.
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.sendto(rtcp.bye(session.media_ssrc), session_rtcp_address(session))
            with pytest.raises(MediaConnectionError, match="BYE"):
                async with asyncio.timeout(5):
                    while True:
                        await anext(session)


def session_rtcp_address(session: RtspSession) -> tuple[str, int]:
    sockname = session._udp[1].get_extra_info("sockname")
    return str(sockname[0]), int(sockname[1])
