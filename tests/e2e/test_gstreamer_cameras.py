"""Cameras the node was not written against: Debian's GStreamer RTSP server encoding live with x264
(two B-frames) and x265 (B-frames), pulled by our RTSP client into the engine, and read back from every
output: the fragments a live viewer (WebSocket/MSE) gets, the HLS segments, the RTSP re-serve as FFmpeg
reads it, and a recording segment on disk. Each must hold every frame, in order, at the full 25 fps of
the camera's own clock: the B-frame camera once gave 60 frames in 6 s with "non monotonically
increasing dts" (issue 15)."""

from __future__ import annotations

import asyncio
import io
import itertools
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import pytest

from tests.support.gst_camera import AAC, H264_BFRAMES, H264_PLAIN, H265_BFRAMES, PCMA, gst_cameras
from tests.support.waits import wait_until
from xueliang.media.audio.aac import FRAME_SAMPLES
from xueliang.media.audio.channel import AudioChannel, AudioFragment, AudioItem
from xueliang.media.audio.fmp4 import AudioInit
from xueliang.media.audio.frames import AudioCodec, AudioFrame
from xueliang.media.channel import Fragment, InitSegment, Viewer
from xueliang.media.engine import CameraSpec, MediaEngine
from xueliang.media.frames import AccessUnit, Codec
from xueliang.media.hls.packager import HlsConfig, HlsPackager
from xueliang.media.live import LiveSession
from xueliang.media.recording.index import IndexOp, OpenSegment, SegmentState, UpdateSegment
from xueliang.media.recording.recorder import Recorder, RecorderConfig
from xueliang.media.restream import RestreamConfig, RtspRestreamer
from xueliang.media.rtsp.client import RtspSource
from xueliang.media.rtsp.message import Headers, InterleavedFrame, RtspParser, RtspRequest, RtspResponse
from xueliang.media.sources import FrameSession
from xueliang.recordings.export import Source, remux

pytestmark = pytest.mark.slow

FRAMES = 150  # 6 s at 25 fps
TICKS = 3600  # one frame on the 90 kHz clock
CAMERAS = {1: ("h264b", Codec.h264), 2: ("h265b", Codec.h265)}


@pytest.fixture(scope="module")
def camera_urls() -> Iterator[dict[str, str]]:
    mounts = {"h264b": H264_BFRAMES, "h265b": H265_BFRAMES}
    # Sound cameras; the second is pulled with audio off (a shared media of its own: GStreamer's server
    # re-times a shared stream that a second client joins with other tracks).
    mounts |= {"pcma": f"{H264_PLAIN} {PCMA}", "aac": f"{H264_PLAIN} {AAC}", "pcma2": f"{H264_PLAIN} {PCMA}"}
    with gst_cameras(mounts) as urls:
        yield urls


class OpenAccess:
    """The re-serve's access policy for this test: one token, every camera allowed."""

    def check_token(self, token: str, camera_id: int) -> int:
        from xueliang.media.restream import Denied

        if token != "t":
            raise Denied(401, "bad token")
        return 1

    async def digest_user(self, username: str) -> tuple[int, str] | None:
        return None

    async def may_view(self, user_id: int, camera_id: int) -> bool:
        return True

    async def session_started(self, session: LiveSession) -> None:
        pass

    async def session_ended(self, session: LiveSession) -> None:
        pass


class FileIndex:
    """The recorder's index kept in memory: this test reads the segment files, not the rows."""

    def __init__(self) -> None:
        self.rows = itertools.count(1)
        self.paths: dict[int, list[str]] = {}  # per camera, relative to the recordings root
        self.states: dict[str, SegmentState] = {}  # the latest row of each segment, by path

    async def recover(self) -> None:
        pass

    async def apply(self, ops: Sequence[IndexOp]) -> dict[int, int]:
        ids = {}
        for op in ops:
            if isinstance(op, OpenSegment):
                ids[op.key] = next(self.rows)
                self.paths.setdefault(op.state.camera_id, []).append(op.state.path)
            if isinstance(op, OpenSegment | UpdateSegment):
                self.states[op.state.path] = op.state
        return ids


def presentation_steps(times: Sequence[int]) -> set[int]:
    """The steps between presentation times in presentation order: {3600} when no frame is missing."""
    ordered = sorted(times)
    return {b - a for a, b in itertools.pairwise(ordered)}


def shown(dts: Sequence[int], pts: Sequence[int]) -> list[int]:
    """The presentation times up to the last decode time: a cut after a P-frame (the end of what was
    read or written so far) leaves out the B-frames shown before it, which come after it."""
    return [t for t in pts if t <= dts[-1]]


def decode_bytes(data: bytes) -> tuple[list[int], list[int]]:
    """(packet decode times, decoded presentation times) of an fMP4 as FFmpeg reads it."""
    dts: list[int] = []
    pts: list[int] = []
    with av.open(io.BytesIO(data), "r", format="mp4") as container:
        for packet in container.demux(video=0):
            if packet.dts is not None:
                dts.append(packet.dts)
            pts.extend(f.pts for f in packet.decode() if f.pts is not None)
    return dts, pts


def read_rtsp(url: str, frames: int) -> tuple[list[int], list[int], float]:
    """FFmpeg pulls the re-serve over TCP: (packet dts seen, decoded frame pts, seconds taken)."""
    options = {"rtsp_transport": "tcp", "analyzeduration": "0", "probesize": "32768"}
    dts: list[int] = []
    pts: list[int] = []
    started = time.monotonic()
    with av.open(url, options=options, timeout=10) as container:
        for packet in container.demux(video=0):
            if packet.dts is not None:
                dts.append(packet.dts)
            pts.extend(f.pts for f in packet.decode() if f.pts is not None)
            if len(pts) >= frames:
                break
    return dts, pts, time.monotonic() - started


async def collect(viewer: Viewer, frames: int) -> tuple[InitSegment, list[Fragment], float]:
    """What a live WebSocket viewer is sent: the init segment, then `frames` fragments."""
    init: InitSegment | None = None
    fragments: list[Fragment] = []
    started = time.monotonic()
    async with asyncio.timeout(60):
        while len(fragments) < frames:
            item = await viewer.next()
            if isinstance(item, InitSegment):
                init = item
            elif isinstance(item, Fragment) and init is not None:
                fragments.append(item)
    assert init is not None
    return init, fragments, time.monotonic() - started


async def rtptime_and_first_rtp(port: int, url: str) -> tuple[int, int]:
    """PLAY the re-serve by hand: (RTP-Info's rtptime, the RTP timestamp of the first packet sent)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    parser = RtspParser()
    pending: list[RtspResponse] = []
    first: list[int] = []
    cseq = 0

    async def read_until(done: Callable[[], bool]) -> None:
        async with asyncio.timeout(10):
            while not done():
                data = await reader.read(65536)
                assert data, "the server closed the connection"
                for item in parser.feed(data):
                    if isinstance(item, RtspResponse):
                        pending.append(item)
                    elif isinstance(item, InterleavedFrame) and item.channel == 0 and not first:
                        first.append(int.from_bytes(item.data[4:8], "big"))

    async def request(method: str, uri: str, *headers: tuple[str, str]) -> RtspResponse:
        nonlocal cseq
        cseq += 1
        writer.write(RtspRequest(method, uri, Headers([("CSeq", str(cseq)), *headers])).to_bytes())
        await read_until(lambda: bool(pending))
        response = pending.pop(0)
        assert response.status == 200, (method, response.status)
        return response

    try:
        await request("DESCRIBE", url)
        setup = await request(
            "SETUP", url + "/trackID=0", ("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")
        )
        session = (setup.headers.get("Session") or "").partition(";")[0]
        play = await request("PLAY", url, ("Session", session))
        await read_until(lambda: bool(first))
    finally:
        writer.close()
    info = play.headers.get("RTP-Info") or ""
    rtptime = dict(part.partition("=")[::2] for part in info.split(";")).get("rtptime")
    assert rtptime is not None, info
    return int(rtptime), first[0]


@dataclass
class Node:
    engine: MediaEngine
    server: RtspRestreamer
    recorder: Recorder
    index: FileIndex
    hls: dict[int, HlsPackager]


@pytest.fixture
async def node(camera_urls: dict[str, str], tmp_path: Path) -> AsyncIterator[Node]:
    sources = {camera_id: RtspSource(camera_urls[name]) for camera_id, (name, _) in CAMERAS.items()}

    def pull(spec: CameraSpec) -> FrameSession:
        return sources[spec.camera_id].open()

    engine = MediaEngine(pull)
    index = FileIndex()
    recorder = Recorder(index, tmp_path, RecorderConfig(flush_interval=0.2))
    server = RtspRestreamer(engine, OpenAccess(), RestreamConfig(port=0))
    hls: dict[int, HlsPackager] = {}
    async with engine:
        await recorder.start()
        for camera_id in CAMERAS:
            engine.add_camera(CameraSpec(camera_id, camera_urls[CAMERAS[camera_id][0]]))
            channel = engine.channel(camera_id)
            hls[camera_id] = HlsPackager(HlsConfig(segment_target=1.0, part_target=0.5, window=10))
            channel.add_listener(hls[camera_id].on_item)
            recorder.attach(camera_id, channel)
        await server.start()
        try:
            yield Node(engine, server, recorder, index, hls)
        finally:
            await server.stop()
            await recorder.stop()


async def test_b_frame_cameras_keep_every_frame_in_order_through_every_output(
    node: Node, tmp_path: Path
) -> None:
    engine = node.engine
    await wait_until(
        lambda: all(engine.channel(c).init is not None for c in CAMERAS), within=30, what="both cameras"
    )
    for camera_id, (_, codec) in CAMERAS.items():
        assert engine.channel(camera_id).init.params.codec is codec  # type: ignore[union-attr]
    viewers = {c: engine.channel(c).open_viewer(max_queue=400) for c in CAMERAS}
    live_task = asyncio.gather(*(collect(viewers[c], FRAMES) for c in CAMERAS))
    urls = [node.server.url(c, "t") for c in CAMERAS]
    rtsp_task = asyncio.gather(*(asyncio.to_thread(read_rtsp, url, FRAMES) for url in urls))
    live, rtsp = await asyncio.gather(live_task, rtsp_task)
    report = []
    for n, camera_id in enumerate(CAMERAS):
        # Live viewer (WebSocket/MSE): fragments with composition offsets, every frame of the camera.
        init, fragments, live_s = live[n]
        decode_times = [f.decode_time for f in fragments]
        assert decode_times == sorted(set(decode_times))
        dts, pts = decode_bytes(init.data + b"".join(f.data for f in fragments))
        assert len(pts) >= FRAMES - 2  # a GOP-cache start may hold B-frames of the GOP before
        assert pts == sorted(set(pts)) and presentation_steps(shown(dts, pts)) == {TICKS}
        assert dts == sorted(set(dts))
        # RTSP re-serve, as FFmpeg reads it: RTP time is presentation time.
        rtsp_dts, rtsp_pts, rtsp_s = rtsp[n]
        assert len(rtsp_pts) == FRAMES
        assert rtsp_pts == sorted(set(rtsp_pts)) and presentation_steps(rtsp_pts) == {TICKS}
        assert rtsp_dts == sorted(rtsp_dts)
        report.append(
            f"camera {camera_id}: live {len(fragments)} frames in {live_s:.1f} s, RTSP {rtsp_s:.1f} s"
        )

    for camera_id in CAMERAS:
        # HLS: the complete segments, one after another, as a plain HLS player appends them.
        packager = node.hls[camera_id]
        segments = [s for s in packager.segments if s.complete]
        assert len(segments) >= 3
        init = packager.inits[segments[0].epoch]
        dts, pts = decode_bytes(init.data + b"".join(s.data() for s in segments))
        span = sum(s.duration for s in segments)
        assert abs(len(pts) - span // TICKS) <= 2  # leading B-frames of an open GOP may not decode
        assert pts == sorted(set(pts)) and presentation_steps(shown(dts, pts)) == {TICKS}
        assert dts == sorted(set(dts))

    for camera_id in CAMERAS:  # RTP-Info names the RTP time of the first frame PLAY sends
        rtptime, first_rtp = await rtptime_and_first_rtp(node.server.port, node.server.url(camera_id, "t"))
        assert rtptime == first_rtp

    for _ in range(2):  # open the row, then write what is buffered
        await node.recorder.flush()
    for camera_id in CAMERAS:
        # Recording: the first segment on disk, as playback reads it.
        path = node.index.paths[camera_id][0]
        data = (tmp_path / path).read_bytes()
        dts, pts = decode_bytes(data)
        assert len(pts) >= FRAMES - 2
        assert pts == sorted(set(pts)) and presentation_steps(shown(dts, pts)) == {TICKS}
        assert dts == sorted(set(dts))
        # Evidence export: FFmpeg remuxes it into a plain MP4 on wall-clock time, offsets kept.
        state = node.index.states[path]
        source = Source(tmp_path / path, state.start, state.start + 60, len(data), state.media_start)
        out = tmp_path / f"export-{camera_id}"
        out.mkdir()
        exported = remux([source], state.start, state.start + 60, out, "evidence")
        with av.open(str(exported.files[0])) as container:
            packets = list(container.demux(video=0))
            frames = [f.pts for p in packets for f in p.decode() if f.pts is not None]
        packet_dts = [p.dts for p in packets if p.dts is not None]
        assert packet_dts == sorted(set(packet_dts)) and frames == sorted(set(frames))
        steps = presentation_steps([t for t in frames if t <= packet_dts[-1]])
        assert steps <= {TICKS - 1, TICKS, TICKS + 1}  # wall-clock times, rounded to the 90 kHz tick
    print("; ".join(report))


async def pull_with_sound(
    url: str, audio: bool, frames: int
) -> tuple[list[AccessUnit], list[AudioFrame], list[AudioItem]]:
    """`frames` video frames from a camera; with `audio`, the sound that came with them and the audio
    track a listener of the camera's AudioChannel got (G.711 made into AAC on the way)."""
    sound: list[AudioFrame] = []
    track: list[AudioItem] = []
    video: list[AccessUnit] = []
    channel = AudioChannel(1)
    channel.add_listener(track.append)

    def hear(frame: AudioFrame) -> None:
        sound.append(frame)
        channel.push(frame)

    async with RtspSource(url, audio=audio).open() as session:
        session.audio_sink = hear
        async with asyncio.timeout(60):
            async for au in session:
                video.append(au)
                if len(video) >= frames:
                    break
        assert (session.audio_track is not None) is audio
    if sound:
        await wait_until(lambda: channel._queue is None or channel._queue.empty(), within=10, what="AAC")
    await channel.aclose()
    return video, sound, track


def decoded_samples(track: list[AudioItem]) -> int:
    """Samples FFmpeg decodes from an audio track's init segment and fragments."""
    data = b"".join(item.data for item in track)
    with av.open(io.BytesIO(data), "r", format="mp4") as container:
        return sum(frame.samples for packet in container.demux(audio=0) for frame in packet.decode())


async def test_sound_never_disturbs_the_video_and_reaches_aac(camera_urls: dict[str, str]) -> None:
    """H.264 with G.711 A-law, and with AAC: with audio on, every video frame still arrives on its
    25 fps time (no stall, no jump, nothing lost), as with audio off; the sound arrives whole, and its
    AudioChannel gives a listener an AAC track FFmpeg plays (AAC as it came, G.711 made into AAC)."""
    frames = 75  # 3 s
    pulls = [
        pull_with_sound(camera_urls["pcma"], True, frames),
        pull_with_sound(camera_urls["aac"], True, frames),
        pull_with_sound(camera_urls["pcma2"], False, frames),
    ]
    (
        (pcma_video, pcma, pcma_track),
        (aac_video, aac, aac_track),
        (plain_video, nothing, _),
    ) = await asyncio.gather(*pulls)
    assert not nothing
    for video in (pcma_video, aac_video, plain_video):
        assert len(video) == frames and presentation_steps([au.pts for au in video]) == {TICKS}
        assert [au.pts for au in video] == sorted(au.pts for au in video) and video[0].keyframe
    seconds = frames / 25
    for sound, codec in ((pcma, AudioCodec.pcma), (aac, AudioCodec.aac)):
        assert sound and {f.config.codec for f in sound} == {codec}
        assert all(b.pts - a.pts == a.samples for a, b in itertools.pairwise(sound))  # nothing lost
        heard = sum(f.samples for f in sound) / sound[0].config.sample_rate
        assert abs(heard - seconds) < 0.5, heard

    assert isinstance(aac_track[0], AudioInit) and isinstance(pcma_track[0], AudioInit)
    assert decoded_samples(aac_track) == len(aac) // 5 * 5 * FRAME_SAMPLES  # whole fragments of five
    made = sum(f.duration for f in pcma_track if isinstance(f, AudioFragment))
    assert made >= sum(f.samples for f in pcma) - 7 * FRAME_SAMPLES  # less the encoder's delay and a run
    assert decoded_samples(pcma_track) == made


async def test_the_engine_keeps_a_cameras_sound_only_when_its_spec_asks(camera_urls: dict[str, str]) -> None:
    """What the plane does for a camera whose `audio_enabled` is on: the engine gives it an AudioChannel
    fed by the RTSP session, beside the video channel; a camera with audio off has none."""
    sources = {1: RtspSource(camera_urls["aac"], audio=True), 2: RtspSource(camera_urls["pcma2"])}

    def pull(spec: CameraSpec) -> FrameSession:
        return sources[spec.camera_id].open()

    async with MediaEngine(pull) as engine:
        engine.add_camera(CameraSpec(1, camera_urls["aac"], options={"audio": True}))
        engine.add_camera(CameraSpec(2, camera_urls["pcma2"]))
        sound = engine.audio(1)
        assert sound is not None and engine.audio(2) is None
        items: list[AudioItem] = []
        sound.add_listener(items.append)
        await wait_until(lambda: sound.fragments >= 3, within=30, what="the camera's sound")
        assert isinstance(items[0], AudioInit) and items[0].config.codec is AudioCodec.aac
        assert engine.channel(1).frames_in > 0 and engine.channel(2).frames_in > 0
