"""The camera's sound reaches listeners (docs/media-audio.md): Debian's GStreamer RTSP server as an H.264
+ AAC camera with its sound on, the engine, the live gateway served by uvicorn; FFmpeg (PyAV) plays
video and sound from the one HLS URL, the sound socket's init and fragments decode, both are audited as
live sessions with sound. A silent camera's outputs stay exactly what they were before sound existed."""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import av
import httpx
import pytest
import websockets
from fastapi import FastAPI

from tests.support.gst_camera import AAC, H264_PLAIN, gst_cameras
from tests.support.media import serve
from tests.support.waits import wait_until
from xueliang.media.audio.aac import FRAME_SAMPLES, build_asc
from xueliang.media.audio.channel import AudioFragment
from xueliang.media.audio.fmp4 import AudioInit, build_audio_init
from xueliang.media.audio.frames import AudioCodec, AudioConfig
from xueliang.media.engine import CameraSpec, MediaEngine
from xueliang.media.hls.audio import AudioHlsPackager
from xueliang.media.live import LiveGateway, LiveSession
from xueliang.media.recording.index import IndexOp, OpenSegment, SegmentState, UpdateSegment
from xueliang.media.recording.recorder import Recorder
from xueliang.media.recording.segment_io import audio_path
from xueliang.media.rtsp.client import RtspSource
from xueliang.media.sources import FrameSession
from xueliang.media.tokens import StreamClaims
from xueliang.recordings.export import Source, remux

SOUND, SILENT = 1, 2


def claims(token: str, camera_id: int) -> StreamClaims:
    return StreamClaims(1, camera_id, "live", int(time.time()) + 600, "n")


class FileIndex:
    """The recorder's index kept in memory: this test reads the files, not rows."""

    def __init__(self) -> None:
        self.rows = itertools.count(1)
        self.states: dict[str, SegmentState] = {}

    async def recover(self) -> None:
        pass

    async def apply(self, ops: Sequence[IndexOp]) -> dict[int, int]:
        ids = {}
        for op in ops:
            if isinstance(op, OpenSegment):
                ids[op.key] = next(self.rows)
            if isinstance(op, OpenSegment | UpdateSegment):
                self.states[op.state.path] = op.state
        return ids


@dataclass
class Node:
    host: str
    engine: MediaEngine
    sessions: list[LiveSession]
    recorder: Recorder
    index: FileIndex
    root: Path


@pytest.fixture
async def node(tmp_path: Path) -> AsyncIterator[Node]:
    with gst_cameras({"aac": f"{H264_PLAIN} {AAC}", "plain": H264_PLAIN}) as urls:
        sources = {SOUND: RtspSource(urls["aac"], audio=True), SILENT: RtspSource(urls["plain"])}

        def pull(spec: CameraSpec) -> FrameSession:
            return sources[spec.camera_id].open()

        sessions: list[LiveSession] = []

        async def started(session: LiveSession) -> None:
            sessions.append(session)

        engine = MediaEngine(pull)
        gateway = LiveGateway(engine, claims, on_session_start=started)
        index = FileIndex()
        recorder = Recorder(index, tmp_path / "rec")
        app = FastAPI()
        app.include_router(gateway.router)
        await engine.start([
            CameraSpec(SOUND, urls["aac"], options={"audio": True}), CameraSpec(SILENT, urls["plain"])
        ])  # fmt: skip
        try:
            await wait_until(
                lambda: all(engine.channel(c).init is not None for c in (SOUND, SILENT)),
                within=30,
                what="the cameras",
            )
            await recorder.start()
            recorder.attach(SOUND, engine.channel(SOUND))
            sound = engine.audio(SOUND)
            assert sound is not None
            recorder.attach_audio(SOUND, sound)
            async with serve(app) as host:
                yield Node(host, engine, sessions, recorder, index, tmp_path)
        finally:
            await recorder.stop()
            await gateway.aclose()
            await engine.stop()


def play_hls(url: str, seconds: float) -> dict[str, float]:
    """Seconds of each kind FFmpeg decodes from `url` (its HLS demuxer, the player set-top boxes use)."""
    got = {"video": 0.0, "audio": 0.0}
    frames = {"video": 0, "audio": 0}
    with av.open(url, "r", options={"live_start_index": "-2"}, timeout=30) as container:
        kinds = {s.index: s.type for s in container.streams}
        assert sorted(kinds.values()) == ["audio", "video"]
        for packet in container.demux():
            kind = kinds[packet.stream_index]
            for frame in packet.decode():
                frames[kind] += 1
                if isinstance(frame, av.AudioFrame):
                    got[kind] += frame.samples / frame.sample_rate
                else:
                    got[kind] = frames[kind] / 25
            if min(got.values()) >= seconds:
                break
    return got


@pytest.mark.slow
async def test_sound_reaches_the_hls_url_and_its_own_socket(node: Node) -> None:
    base = f"http://{node.host}/api/v1/live"
    async with httpx.AsyncClient(timeout=30) as http:
        master = (await http.get(f"{base}/{SOUND}/hls/index.m3u8?token=t")).text
        assert "#EXT-X-MEDIA:TYPE=AUDIO" in master and 'CODECS="avc1.' in master and "mp4a.40.2" in master
        # A silent camera: index.m3u8 is the video playlist, no rendition, no sound routes.
        silent = (await http.get(f"{base}/{SILENT}/hls/index.m3u8?token=t")).text
        assert "#EXTINF" in silent and "STREAM-INF" not in silent and "audio" not in silent
        refused = await http.get(f"{base}/{SILENT}/hls/audio.m3u8?token=t")
        assert refused.status_code == 404 and refused.json()["code"] == "stream_denied"
        assert (await http.get(f"{base}/{SOUND}/hls/audio-seg999.m4s?token=t")).status_code == 404

    # FFmpeg plays picture and sound from the one URL.
    got = await asyncio.to_thread(play_hls, f"{base}/{SOUND}/hls/index.m3u8?token=t", 2.0)
    assert got["video"] >= 2.0 and got["audio"] >= 2.0, got

    # The sound socket: a one-track AAC init, then fragments FFmpeg decodes whole.
    ws_base = f"ws://{node.host}/api/v1/live"
    async with websockets.connect(f"{ws_base}/{SOUND}/ws?token=t", max_size=None) as video:
        header = json.loads(await video.recv())
        assert header["type"] == "init" and header["audio"] is True
    async with websockets.connect(f"{ws_base}/{SILENT}/ws?token=t", max_size=None) as video:
        header = json.loads(await video.recv())
        assert header["type"] == "init" and "audio" not in header
    async with websockets.connect(f"{ws_base}/{SILENT}/audio/ws?token=t") as quiet:
        await quiet.wait_closed()
        assert quiet.close_code == 4404
    parts: list[bytes] = []
    async with websockets.connect(f"{ws_base}/{SOUND}/audio/ws?token=t", max_size=None) as sound:
        init = json.loads(await sound.recv())
        assert init["type"] == "init" and init["mime"] == 'audio/mp4; codecs="mp4a.40.2"'
        assert init["sample_rate"] == 16000 and init["channels"] == 1
        while len(parts) < 5:
            message = await sound.recv()
            assert isinstance(message, bytes)
            parts.append(message)
    with av.open(io.BytesIO(b"".join(parts)), "r", format="mp4") as container:
        (track,) = container.streams
        assert track.type == "audio" and track.codec_context.name == "aac"
        samples = sum(
            f.samples for p in container.demux(track) for f in p.decode() if isinstance(f, av.AudioFrame)
        )
    assert samples == 4 * 5 * FRAME_SAMPLES  # four fragments of five frames, every one decoded

    kinds = {(s.camera_id, s.kind) for s in node.sessions}
    # audited as live views with sound (the HLS session, opened as "hls", ends as one with sound)
    assert {(SOUND, "ws-audio"), (SOUND, "hls-audio"), (SILENT, "ws"), (SILENT, "hls")} <= kinds

    await check_the_recording(node)


async def check_the_recording(node: Node) -> None:
    """The sound was recorded beside the video segment, and the evidence export carries both tracks
    on the same clock (FFmpeg reads video and sound from the one MP4)."""
    await node.recorder.stop()
    ((path, state),) = node.index.states.items()
    root = node.root / "rec"
    assert (root / audio_path(path)).stat().st_size > 0
    source = Source(root / path, state.start, state.end, state.bytes, state.media_start)
    out = node.root / "out"
    out.mkdir()
    exported = await asyncio.to_thread(remux, [source], state.start, state.end, out, "evidence")
    (file,) = exported.files
    with av.open(str(file)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert audio.codec_context.name == "aac" and audio.codec_context.sample_rate == 16000
        ends = {"video": 0.0, "audio": 0.0}
        firsts: dict[str, float] = {}
        for packet in container.demux(video, audio):
            if packet.pts is None:
                continue
            kind = packet.stream.type
            at = float(packet.pts * packet.time_base)
            firsts.setdefault(kind, at)
            ends[kind] = max(ends[kind], at)
    seconds = state.end - state.start
    print(f"export: {seconds:.2f} s of video, sound {firsts['audio']:.2f}..{ends['audio']:.2f} s")
    assert seconds > 2.0 and abs(ends["audio"] - ends["video"]) < 0.6 and firsts["audio"] < 0.6


def test_the_audio_rendition_cuts_whole_segments_and_lists_them() -> None:
    """Unit: fragments into ~2 s segments, a window of six, a new init starts a discontinuity."""
    config = AudioConfig(AudioCodec.aac, 16000, 1, build_asc(16000, 1))
    packager = AudioHlsPackager(segment_target=2.0, window=6)
    packager.on_item(AudioFragment(b"x", 0, 5 * 1024, 0))  # before any init: nothing to list it with
    packager.on_item(build_audio_init(config))
    step = 5 * FRAME_SAMPLES
    for n in range(60):
        packager.on_item(AudioFragment(b"f%d" % n, n * step, step, 0))
    assert len(packager.segments) == 6 and packager.segments[0].msn > 0
    assert all(abs(s.duration / 16000 - 1.92) < 0.01 for s in packager.segments)
    text = packager.render("?token=t")
    assert text.count("#EXTINF:1.92000,") == 6 and 'URI="audio-init0.mp4?token=t"' in text
    assert packager.segment_data(packager.segments[-1].msn) is not None
    packager.on_item(build_audio_init(AudioConfig(AudioCodec.aac, 8000, 1, build_asc(8000, 1))))
    for n in range(10):
        packager.on_item(AudioFragment(b"g", n * step, step, 0))
    text = packager.render()
    assert "#EXT-X-DISCONTINUITY" in text and 'URI="audio-init1.mp4"' in text
    assert isinstance(packager.inits[1], AudioInit)


def test_retention_deletes_a_segments_sound_with_it(tmp_path: Path) -> None:
    """Unit: a segment removed by retention takes its sibling .m4a (the sound) along."""
    from xueliang.recordings.retention import _unlink

    video = tmp_path / "1" / "2026-11-01" / "080000-000.mp4"
    video.parent.mkdir(parents=True)
    video.write_bytes(b"v")
    sound = tmp_path / audio_path("1/2026-11-01/080000-000.mp4")
    sound.write_bytes(b"a")
    _unlink(tmp_path, [(1, 1, "1/2026-11-01/080000-000.mp4", 1)])
    assert not video.exists() and not sound.exists() and not video.parent.exists()
