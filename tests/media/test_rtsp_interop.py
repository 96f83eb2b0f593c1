"""The simulator and our RTSP client over real sockets, each checked against FFmpeg (through PyAV)
as the outside implementation: decoded pictures must show the marker of the camera asked for."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from pathlib import Path

import av
import pytest

from tests.support.bitstreams import Decoder, encode_clip, to_rtp
from tests.support.netutil import ScriptedRtspServer, TcpRelay, reply
from tests.support.sim import GB_IDS
from xueliang.media.codecs.params import ParamSetTracker
from xueliang.media.errors import MediaAuthError, MediaConnectionError, MediaProtocolError
from xueliang.media.frames import AccessUnit, Codec
from xueliang.media.rtp.h264 import H264Packetizer
from xueliang.media.rtp.h265 import H265Packetizer
from xueliang.media.rtsp.client import RtspSession, RtspSource, Transport
from xueliang.media.rtsp.message import RtspRequest
from xueliang.media.rtsp.sdp import video_sdp
from xueliang.media.sim.marker import decode_marker
from xueliang.media.sim.server import RtspSimulator

pytestmark = pytest.mark.slow


def ffmpeg_markers(url: str, transport: str, frames: int = 12) -> list[int | None]:
    """Markers of the first pictures FFmpeg decodes from an RTSP URL (blocking; run in a thread)."""
    options = {"rtsp_transport": transport, "analyzeduration": "0", "probesize": "32768"}
    markers: list[int | None] = []
    with av.open(url, options=options, timeout=10) as container:
        for frame in container.decode(video=0):
            markers.append(decode_marker(frame.to_ndarray(format="gray")))
            if sum(m is not None for m in markers) >= frames:
                break
    return markers


async def pull(source: RtspSource, frames: int) -> list[AccessUnit]:
    out: list[AccessUnit] = []
    async with asyncio.timeout(10):
        async with source.open() as session:
            async for au in session:
                out.append(au)
                if len(out) == frames:
                    break
    return out


def decoded_markers(aus: list[AccessUnit]) -> list[int | None]:
    decoder = Decoder(Codec.h264)
    pictures = [p for au in aus for p in decoder.decode_au(au)] + decoder.flush()
    return [decode_marker(p) for p in pictures]


@pytest.mark.parametrize(
    ("camera", "transport"), [("3", "tcp"), ("2", "udp"), ("34020000001320000001", "tcp")]
)
async def test_ffmpeg_reads_the_simulator(sim: RtspSimulator, camera: str, transport: str) -> None:
    expected = GB_IDS.get(camera, int(camera))
    markers = await asyncio.to_thread(ffmpeg_markers, sim.url(camera), transport)
    readable = [m for m in markers if m is not None]
    assert len(readable) >= 12 and set(readable) == {expected}


@pytest.mark.parametrize("transport", ["tcp", "udp"])
async def test_our_client_pulls_decodable_frames_of_the_right_camera(
    sim: RtspSimulator, transport: Transport
) -> None:
    aus = await pull(RtspSource(sim.url(2), transport=transport), 30)
    assert aus[0].keyframe and aus[0].params.width == 640
    assert [b.pts - a.pts for a, b in itertools.pairwise(aus)] == [3600] * 29
    assert decoded_markers(aus) == [2] * 30


@pytest.mark.parametrize("transport", ["tcp", "udp"])
async def test_pump_hands_the_same_frames_to_a_sink_and_reraises_what_the_sink_raised(
    sim: RtspSimulator, transport: Transport
) -> None:
    """`pump` (the engine's path: frames handed over from the reading callback) delivers what
    iterating delivers; an exception in the sink ends the session and comes out of `pump`."""
    aus: list[AccessUnit] = []

    class Enough(Exception):
        pass

    def sink(au: AccessUnit) -> None:
        aus.append(au)
        if len(aus) == 30:
            raise Enough("30 frames")

    session = RtspSource(sim.url(2), transport=transport).open()
    with pytest.raises(Enough):
        async with asyncio.timeout(10):
            await session.pump(sink)
    await session.aclose()
    assert len(aus) == 30 and aus[0].keyframe and aus[0].params.width == 640
    assert [b.pts - a.pts for a, b in itertools.pairwise(aus)] == [3600] * 29
    assert decoded_markers(aus) == [2] * 30


async def test_clients_of_one_camera_get_their_own_streams(sim: RtspSimulator) -> None:
    one, two = await asyncio.gather(pull(RtspSource(sim.url(1)), 5), pull(RtspSource(sim.url(1)), 5))
    assert decoded_markers(one) == [1] * 5 and decoded_markers(two) == [1] * 5
    assert sim.requests["SETUP"] == 2 and sim.requests["PLAY"] == 2


async def test_digest_auth_with_ffmpeg_and_our_client(sim_data: Path) -> None:
    simulator = RtspSimulator(1, data_dir=sim_data, port=0, auth=("admin", "s3cret"))
    async with simulator:
        base = f"127.0.0.1:{simulator.port}/cam/1"
        markers = await asyncio.to_thread(ffmpeg_markers, f"rtsp://admin:s3cret@{base}", "tcp", 3)
        assert {m for m in markers if m is not None} == {1}
        with pytest.raises(av.error.FFmpegError):
            await asyncio.to_thread(ffmpeg_markers, f"rtsp://admin:wrong@{base}", "tcp", 1)
        aus = await pull(RtspSource(f"rtsp://admin:s3cret@{base}"), 3)
        assert decoded_markers(aus) == [1] * 3
        with pytest.raises(MediaAuthError, match="wrong username or password"):
            await pull(RtspSource(f"rtsp://admin:wrong@{base}"), 1)
        with pytest.raises(MediaAuthError, match="no credentials"):
            await pull(RtspSource(f"rtsp://{base}"), 1)
        assert simulator.requests["DESCRIBE"] >= 5


async def test_a_camera_refusing_tcp_is_pulled_over_udp(sim_data: Path) -> None:
    async with RtspSimulator(2, data_dir=sim_data, port=0, allow_tcp=False) as simulator:
        source = RtspSource(simulator.url(2))
        async with asyncio.timeout(10), source.open() as session:
            aus = [await anext(session) for _ in range(3)]
            assert session.transport == "udp"
        assert decoded_markers(aus) == [2] * 3


async def test_unknown_camera_and_refused_connection_are_clean_errors(sim: RtspSimulator) -> None:
    with pytest.raises(MediaProtocolError, match="DESCRIBE answered 404"):
        await pull(RtspSource(sim.url(99)), 1)
    port = sim.port
    await sim.stop()
    with pytest.raises(MediaConnectionError):
        await pull(RtspSource(f"rtsp://127.0.0.1:{port}/cam/1"), 1)


async def test_stop_and_restart_of_the_simulator(sim: RtspSimulator) -> None:
    tasks_before = len(asyncio.all_tasks())
    source = RtspSource(sim.url(3), read_timeout=3)
    first = await pull(source, 3)
    session = source.open()
    await session.start()
    await anext(session)
    await sim.stop()
    assert not sim.connections and not sim.sessions
    with pytest.raises(MediaConnectionError):
        async with asyncio.timeout(2):
            async for _ in session:
                pass
    await session.close()
    await sim.start()
    again = await pull(source, 3)
    assert decoded_markers(again) == [3] * 3
    assert again[0].pts > first[-1].pts  # the source's timeline only moves forward
    assert len(asyncio.all_tasks()) == tasks_before


async def test_a_silent_link_is_caught_by_the_read_timeout(sim: RtspSimulator) -> None:
    relay = TcpRelay(sim.port)
    port = await relay.start()
    loop = asyncio.get_running_loop()
    try:
        source = RtspSource(f"rtsp://127.0.0.1:{port}/cam/1", read_timeout=0.6)
        async with source.open() as session:
            await anext(session)
            relay.freeze()
            frozen_at = loop.time()
            with pytest.raises(MediaConnectionError, match="no data"):
                async with asyncio.timeout(3):
                    async for _ in session:
                        pass
        assert loop.time() - frozen_at < 2
    finally:
        await relay.close()


async def test_a_streaming_session_wakes_its_timer_once_per_read_timeout(
    sim: RtspSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The silence/keepalive timer wakes when one of them can be due, not on a fixed beat: with data
    flowing, once per read_timeout (it used to be four times as often), per camera."""
    ticks = 0
    original = RtspSession._tick

    def tick(self: RtspSession) -> None:
        nonlocal ticks
        ticks += 1
        original(self)

    monkeypatch.setattr(RtspSession, "_tick", tick)
    loop = asyncio.get_running_loop()
    async with RtspSource(sim.url(1), read_timeout=0.5).open() as session:
        started = loop.time()
        async with asyncio.timeout(5):
            async for _ in session:
                if loop.time() - started > 2.1:
                    break
    assert 3 <= ticks <= 6, ticks  # 2.1 s of data: about four wake-ups (it was about seventeen)


async def test_keepalive_is_sent_before_the_session_times_out(sim_data: Path) -> None:
    simulator = RtspSimulator(1, data_dir=sim_data, port=0, session_timeout=2)
    async with simulator, RtspSource(simulator.url(1)).open() as session:
        async with asyncio.timeout(5):
            async for _ in session:
                if simulator.requests["GET_PARAMETER"] >= 2:
                    break
        assert simulator.sessions  # still alive: the keepalive refreshed it


SDP_OK = b"v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=control:trackID=0\r\n"


def _camera(
    *, status_line: bytes = b"", sdp: bytes = SDP_OK, session: bool = True, after_play: bytes = b""
) -> Callable[[RtspRequest], bytes]:
    """A camera that answers properly except for the one broken thing it is given."""

    def answer(request: RtspRequest) -> bytes:
        if status_line and request.method == "DESCRIBE":
            return status_line
        if request.method == "DESCRIBE":
            return reply(request, body=sdp)
        if request.method == "SETUP":
            headers = [("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")]
            if session:
                headers.append(("Session", "1234"))
            return reply(request, headers=tuple(headers))
        if request.method == "PLAY":
            return reply(request, headers=(("Session", "1234"),)) + after_play
        return reply(request)

    return answer


@pytest.mark.parametrize(
    ("camera", "message"),
    [
        (_camera(status_line=b"HTTP/1.0 200 OK\r\n\r\n"), "unexpected|bad RTSP"),
        (_camera(sdp=b"v=0\r\nnonsense\r\n"), "SDP: bad line"),
        (_camera(sdp=b"v=0\r\nm=audio 0 RTP/AVP 0\r\n"), "no H.264 or H.265"),
        (_camera(session=False), "no Session header"),
        (_camera(after_play=b"$\x00\x00\x0c" + bytes(12)), "RTP version 0"),
        (_camera(after_play=b"$\x00\x00\x0d\x80\x60\x00\x01" + bytes(8) + b"\x7d"), "unsupported H.264 RTP"),
    ],
)
async def test_malformed_camera_answers_end_the_session_with_a_clean_error(
    camera: Callable[[RtspRequest], bytes], message: str
) -> None:
    server = ScriptedRtspServer(camera)
    port = await server.start()
    try:
        with pytest.raises(MediaProtocolError, match=message):
            await pull(RtspSource(f"rtsp://127.0.0.1:{port}/cam"), 1)
    finally:
        await server.close()


@pytest.mark.parametrize(("codec", "sprop"), [(Codec.h265, True), (Codec.h264, False)])
async def test_rtsp_session_end_to_end_for_each_codec(codec: Codec, sprop: bool) -> None:
    """A camera sending H.265 (parameter sets in the SDP) or H.264 (parameter sets only in-band)."""
    clip = encode_clip(codec, 160, 96, 12, 6)
    params = ParamSetTracker(codec).update(clip[0])
    assert params is not None
    sdp = video_sdp(params).encode() if sprop else SDP_OK
    packetizer = H265Packetizer(600) if codec is Codec.h265 else H264Packetizer(600)
    packets = to_rtp([packetizer.packetize(list(au)) for au in clip], seq=65500)
    stream = b"".join(b"$\x00" + len(p.to_bytes()).to_bytes(2, "big") + p.to_bytes() for p in packets)
    server = ScriptedRtspServer(_camera(sdp=sdp, after_play=stream))
    port = await server.start()
    try:
        source = RtspSource(f"rtsp://127.0.0.1:{port}/cam")
        async with asyncio.timeout(10), source.open() as session:
            assert session.track is not None and session.track.params == (params if sprop else None)
            aus = [await anext(session) for _ in range(12)]
    finally:
        await server.close()
    assert [au.nalus for au in aus] == [list(au) for au in clip]
    decoder = Decoder(codec)
    assert len([p for au in aus for p in decoder.decode_au(au)] + decoder.flush()) == 12


async def test_our_client_speaks_basic_auth_when_that_is_all_a_camera_offers() -> None:
    seen: list[str] = []

    def answer(request: RtspRequest) -> bytes:
        authorization = request.headers.get("Authorization")
        if request.method != "OPTIONS":
            seen.append(authorization or "")
            if authorization != "Basic YWRtaW46c2VjcmV0":
                return reply(request, 401, (("WWW-Authenticate", 'Basic realm="cam"'),))
        return _camera(sdp=b"v=0\r\nm=audio 0 RTP/AVP 0\r\n")(request)

    server = ScriptedRtspServer(answer)
    port = await server.start()
    try:
        with pytest.raises(MediaProtocolError, match="no H"):  # got past auth to the (audio-only) SDP
            await pull(RtspSource(f"rtsp://admin:secret@127.0.0.1:{port}/cam"), 1)
        with pytest.raises(MediaAuthError, match="wrong username or password"):
            await pull(RtspSource(f"rtsp://admin:nope@127.0.0.1:{port}/cam"), 1)
    finally:
        await server.close()
    assert seen[:2] == ["", "Basic YWRtaW46c2VjcmV0"]
