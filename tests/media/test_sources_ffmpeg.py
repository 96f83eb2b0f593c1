"""FFmpeg as the far end of our depacketizers (its RTP muxer sends H.264 and H.265 to us), and the
PyAV-based source for files and other URLs."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.bitstreams import Decoder, encode_clip
from xueliang.media.codecs.annexb import join_annexb
from xueliang.media.errors import MediaConnectionError, MediaProtocolError
from xueliang.media.frames import AccessUnit, Codec
from xueliang.media.rtp.assembler import FrameAssembler
from xueliang.media.rtp.packet import parse_rtp
from xueliang.media.rtsp.client import RtspSource
from xueliang.media.rtsp.sdp import parse_sdp, video_track
from xueliang.media.sim.encode import LoopSpec, loop_path
from xueliang.media.sim.marker import decode_marker
from xueliang.media.sim.server import RtspSimulator
from xueliang.media.sources import AvSource, open_source

pytestmark = pytest.mark.slow


class _Collect(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.datagrams: list[bytes] = []

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.datagrams.append(data)


async def _poll(condition: Callable[[], bool], limit: float = 5.0) -> None:
    """Datagrams arrive on their own schedule: look again every 20 ms until `condition` holds."""
    async with asyncio.timeout(limit):
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


@pytest.mark.parametrize("codec", [Codec.h264, Codec.h265])
async def test_ffmpeg_rtp_muxer_output_assembles_into_the_original_frames(
    tmp_path: Path, codec: Codec
) -> None:
    clip = encode_clip(codec, 320, 240, 40, 20)
    source = tmp_path / ("clip.h264" if codec is Codec.h264 else "clip.hevc")
    source.write_bytes(b"".join(join_annexb(au) for au in clip))
    loop = asyncio.get_running_loop()
    receiver = _Collect()
    transport, _ = await loop.create_datagram_endpoint(lambda: receiver, local_addr=("127.0.0.1", 0))
    transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    port = transport.get_extra_info("sockname")[1]
    sdp_file = tmp_path / "stream.sdp"
    try:
        process = await asyncio.create_subprocess_exec(
            *["ffmpeg", "-loglevel", "error", "-r", "25", "-i", str(source), "-c", "copy", "-f", "rtp"],
            *["-sdp_file", str(sdp_file), f"rtp://127.0.0.1:{port}?pkt_size=1000"],
            stdin=subprocess.DEVNULL,
        )
        assert await asyncio.wait_for(process.wait(), 30) == 0
        track = video_track(parse_sdp(sdp_file.read_bytes()), "rtp://127.0.0.1")
        assert track.codec is codec
        out: list[AccessUnit] = []
        assembler = FrameAssembler(codec, track.payload_type, out.append, params=track.params)
        fed = 0

        def drain() -> bool:
            nonlocal fed
            for data in receiver.datagrams[fed:]:
                assembler.push(parse_rtp(data))
            fed = len(receiver.datagrams)
            return len(out) == len(clip)

        await _poll(drain)
    finally:
        transport.close()
    assert max(len(d) for d in receiver.datagrams) <= 1000
    assert assembler.stats.lost_packets == 0
    # FFmpeg may keep a 4-byte start code's zero byte as the NAL unit's trailing_zero_8bits
    assert [[n.rstrip(b"\x00") for n in au.nalus] for au in out] == [list(au) for au in clip]
    decoder = Decoder(codec)
    assert len([p for au in out for p in decoder.decode_au(au)] + decoder.flush()) == len(clip)


@pytest.fixture(scope="module")
def loop_mp4(sim_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("mp4") / "cam2.mp4"
    source = loop_path(sim_data, 2, LoopSpec())
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-r", "25", "-i", str(source), "-c", "copy", str(target)],
        check=True,
        timeout=60,
    )
    return target


async def _take(source: AvSource, count: int) -> list[AccessUnit]:
    out: list[AccessUnit] = []
    async with asyncio.timeout(20):
        async with source.open() as session:
            async for au in session:
                out.append(au)
                if len(out) == count:
                    break
    return out


async def test_file_source_reads_an_mp4_to_its_end(loop_mp4: Path) -> None:
    aus = await _take(AvSource(str(loop_mp4), realtime=False), 1000)
    assert len(aus) == 100 and aus[0].keyframe and aus[0].params.width == 640
    assert [au.pts for au in aus] == [i * 3600 for i in range(100)]
    decoder = Decoder(Codec.h264)
    markers = {decode_marker(p) for au in aus[:10] for p in decoder.decode_au(au)}
    assert markers == {2}


async def test_looping_file_keeps_time_moving_and_realtime_paces_it(sim_data: Path, loop_mp4: Path) -> None:
    raw = loop_path(sim_data, 2, LoopSpec())
    aus = await _take(AvSource(str(raw), realtime=False, loop=True), 130)
    assert [au.pts for au in aus] == [i * 3600 for i in range(130)]
    loop = asyncio.get_running_loop()
    started = loop.time()
    await _take(AvSource(str(loop_mp4)), 13)  # local files are paced by default
    assert loop.time() - started >= 12 * 0.04 * 0.9


async def test_file_source_errors_are_media_errors(tmp_path: Path) -> None:
    with pytest.raises(MediaConnectionError):
        await _take(AvSource(str(tmp_path / "missing.mp4")), 1)
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises((MediaProtocolError, MediaConnectionError)):
        await _take(AvSource(str(junk)), 1)


async def test_pyav_source_pulls_rtsp_from_the_simulator(sim: RtspSimulator) -> None:
    source = AvSource(sim.url(3), options={"rtsp_transport": "tcp"})
    aus = await _take(source, 5)
    assert aus[0].keyframe
    decoder = Decoder(Codec.h264)
    assert {decode_marker(p) for au in aus for p in decoder.decode_au(au)} == {3}


async def test_closing_a_file_session_stops_its_thread(loop_mp4: Path) -> None:
    session = AvSource(str(loop_mp4), realtime=True, loop=True).open()
    await anext(session)
    thread = session._thread
    await session.close()
    assert thread is not None and not thread.is_alive()
    with pytest.raises(StopAsyncIteration):
        await anext(session)


def test_open_source_picks_the_implementation() -> None:
    assert isinstance(open_source("rtsp://cam/stream"), RtspSource)
    assert isinstance(open_source("/var/clips/a.mp4"), AvSource)
    assert isinstance(open_source("rtmp://server/live/x"), AvSource)
