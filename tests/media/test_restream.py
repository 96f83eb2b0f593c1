"""The RTSP re-serve in one process: the engine fed by scripted cameras, the server on an ephemeral port,
and three kinds of client: FFmpeg (PyAV) as the outside judge, our own RTSP client (what a parent node
runs), and raw sockets for exact status codes and misbehaviour."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import av
import pytest

from tests.support.clips import encode_clip, read_marker
from tests.support.media import ScriptedCamera
from tests.support.waits import wait_until
from xueliang.media.channel import ChannelConfig
from xueliang.media.engine import CameraSpec, EngineConfig, MediaEngine
from xueliang.media.errors import MediaAuthError, MediaConnectionError
from xueliang.media.frames import AccessUnit, Codec
from xueliang.media.live import LiveSession
from xueliang.media.restream import Denied, RestreamConfig, RtspRestreamer
from xueliang.media.restream.server import parse_target
from xueliang.media.rtsp.auth import ClientAuth
from xueliang.media.rtsp.client import RtspSource
from xueliang.media.rtsp.message import Headers, RtspParser, RtspRequest, RtspResponse

USER_ID = 7


@dataclass
class FakeAccess:
    """Tokens are "ok-<camera>"; the Digest user is parent/secret; `allowed` is the policy."""

    allowed: set[tuple[int, int]] = field(default_factory=lambda: {(USER_ID, 1), (USER_ID, 2)})
    started: list[LiveSession] = field(default_factory=list)
    ended: list[LiveSession] = field(default_factory=list)
    rechecks: int = 0

    def check_token(self, token: str, camera_id: int) -> int:
        if not token.startswith("ok-"):
            raise Denied(401, "bad token")
        if token != f"ok-{camera_id}":
            raise Denied(403, "token for another camera")
        return USER_ID

    async def digest_user(self, username: str) -> tuple[int, str] | None:
        return (USER_ID, "secret") if username == "parent" else None

    async def may_view(self, user_id: int, camera_id: int) -> bool:
        self.rechecks += 1
        return (user_id, camera_id) in self.allowed

    async def session_started(self, session: LiveSession) -> None:
        self.started.append(session)

    async def session_ended(self, session: LiveSession) -> None:
        self.ended.append(session)


@dataclass
class Rig:
    engine: MediaEngine
    server: RtspRestreamer
    camera: ScriptedCamera
    access: FakeAccess

    def url(self, camera_id: int, token: str | None = None) -> str:
        return self.server.url(camera_id, token)


@asynccontextmanager
async def rig(
    clips: dict[int, list[AccessUnit]],
    *,
    interval: float = 0.04,
    channel: ChannelConfig | None = None,
    **config: object,
) -> AsyncIterator[Rig]:
    camera = ScriptedCamera(clips, interval=interval)
    access = FakeAccess()
    engine = MediaEngine(camera.open, EngineConfig(channel=channel or ChannelConfig()))
    server = RtspRestreamer(engine, access, RestreamConfig(port=0, **config))  # type: ignore[arg-type]
    async with engine:
        for camera_id in clips:
            engine.add_camera(CameraSpec(camera_id))
        await server.start()
        try:
            yield Rig(engine, server, camera, access)
        finally:
            await server.stop()


class RawClient:
    """One RTSP connection driven by hand; interleaved data is counted, not parsed."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.parser = RtspParser()
        self.pending: list[RtspResponse] = []
        self.cseq = 0
        self.media_bytes = 0

    @classmethod
    async def connect(cls, port: int) -> RawClient:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(self, method: str, uri: str, **headers: str) -> RtspResponse:
        self.cseq += 1
        items = [("CSeq", str(self.cseq)), *((k.replace("_", "-"), v) for k, v in headers.items())]
        self.writer.write(RtspRequest(method, uri, Headers(items)).to_bytes())
        return await self.response()

    async def response(self) -> RtspResponse:
        async with asyncio.timeout(5):
            while not self.pending:
                data = await self.reader.read(65536)
                if not data:
                    raise ConnectionError("closed")
                for item in self.parser.feed(data):
                    if isinstance(item, RtspResponse):
                        self.pending.append(item)
                    else:
                        self.media_bytes += len(getattr(item, "data", b""))
        return self.pending.pop(0)

    async def closed(self) -> bool:
        """True once the server has closed the connection (reads until EOF, 5 s at most)."""
        async with asyncio.timeout(5):
            while await self.reader.read(65536):
                pass
        return True

    def close(self) -> None:
        self.writer.close()


def decoded_markers(url: str, frames: int = 10) -> tuple[set[int], float]:
    """FFmpeg pulls the URL over TCP: the markers of the first frames and seconds to the first one."""
    start = time.monotonic()
    first = 0.0
    markers: set[int] = set()
    options = {"rtsp_transport": "tcp", "analyzeduration": "0", "probesize": "32768"}
    with av.open(url, options=options, timeout=10) as container:
        for n, frame in enumerate(container.decode(video=0)):
            if n == 0:
                first = time.monotonic() - start
            markers.add(read_marker(frame))
            if n + 1 >= frames:
                break
    return markers, first


def test_target_urls() -> None:
    assert parse_target("rtsp://h:1/live/12?token=a.b") == (12, "a.b")
    assert parse_target("rtsp://h:1/live/12/trackID=0") == (12, None)
    assert parse_target("rtsp://h:1/live/12?token=a.b/trackID=0") == (12, "a.b")
    for bad in (
        "rtsp://h/cam/1",
        "rtsp://h/live/x",
        "rtsp://h/live/1/track2",
        "*",
        "rtsp://h/live/" + "9" * 12,
    ):
        assert parse_target(bad) is None


async def test_ffmpeg_pulls_each_camera_with_a_token(clips: dict[int, list[AccessUnit]]) -> None:
    async with rig(clips) as r:
        await wait_until(lambda: all(r.engine.channel(c).init for c in (1, 2)), what="pictures")
        for camera_id in (1, 2):
            markers, first = await asyncio.to_thread(decoded_markers, r.url(camera_id, f"ok-{camera_id}"))
            assert markers == {camera_id}
            assert first < 2.0, first  # the cached GOP starts the client at once, not at the next keyframe
        await wait_until(lambda: len(r.access.ended) == 2, what="both sessions reported ended")
        assert [s.camera_id for s in r.access.started] == [1, 2]
        assert all(s.kind == "rtsp" and s.user_id == USER_ID and s.bytes_sent > 1000 for s in r.access.ended)


@pytest.mark.parametrize(
    "clip",
    [
        pytest.param(lambda: encode_clip(codec=Codec.h265, frames=30, gop=15, camera_index=3), id="h265"),
        pytest.param(lambda: encode_clip(frames=50, gop=25, bframes=2, camera_index=2), id="h264-bframes"),
    ],
)
async def test_ffmpeg_decodes_h265_and_b_frames(clip: Callable[[], list[AccessUnit]]) -> None:
    units = clip()
    camera_id = 3 if units[0].params.codec is Codec.h265 else 2
    async with rig({camera_id: units}) as r:
        await wait_until(lambda: r.engine.channel(camera_id).init is not None, what="a picture")
        url = r.url(camera_id, f"ok-{camera_id}")
        r.access.allowed.add((USER_ID, camera_id))
        markers, _ = await asyncio.to_thread(decoded_markers, url, 20)
        assert markers == {camera_id}


async def test_a_new_client_starts_with_the_cached_keyframe(clips: dict[int, list[AccessUnit]]) -> None:
    async with rig(clips) as r:
        await wait_until(lambda: r.engine.channel(1).frames_in > 30, what="frames past the first GOP")
        source = RtspSource(r.url(1, "ok-1"))
        async with source.open() as session:
            first = await asyncio.wait_for(anext(session), 2)
            assert first.keyframe
            assert session.params is not None and first.params == r.engine.channel(1).init.params  # type: ignore[union-attr]


async def test_refusals_have_the_right_status(clips: dict[int, list[AccessUnit]]) -> None:
    async with rig(clips) as r:
        await wait_until(lambda: r.engine.channel(1).init is not None, what="a picture")
        client = await RawClient.connect(r.server.port)
        try:
            assert (await client.request("OPTIONS", "*")).status == 200
            assert (await client.request("DESCRIBE", r.url(2, "ok-1"))).status == 403  # token for camera 1
            assert (await client.request("DESCRIBE", r.url(1, "forged"))).status == 401
            plain = await client.request("DESCRIBE", r.url(1))
            assert plain.status == 401 and "Digest" in (plain.headers.get("WWW-Authenticate") or "")
            assert (await client.request("DESCRIBE", r.url(9, "ok-9"))).status == 404  # no such camera
            assert (await client.request("DESCRIBE", "rtsp://127.0.0.1/other/1")).status == 404
            assert (await client.request("PLAY", r.url(1), Session="nope")).status == 454
            ok = await client.request("DESCRIBE", r.url(1, "ok-1"))
            assert (
                ok.status == 200
                and b"m=video" in ok.body
                and "token" not in (ok.headers.get("Content-Base") or "")
            )
            multicast = await client.request(
                "SETUP", r.url(1) + "/trackID=0", Transport="RTP/AVP;multicast;port=5000-5001"
            )
            assert multicast.status == 461  # unicast UDP is served (tests/media/test_rtsp_udp.py)
        finally:
            client.close()


async def digest_status(r: Rig, camera_id: int, password: str) -> int:
    client = await RawClient.connect(r.server.port)
    try:
        url = r.url(camera_id)
        challenge = await client.request("DESCRIBE", url)
        auth = ClientAuth("parent", password)
        assert challenge.status == 401 and auth.accept(challenge.headers.get_all("WWW-Authenticate"))
        return (
            await client.request("DESCRIBE", url, Authorization=auth.header("DESCRIBE", url) or "")
        ).status
    finally:
        client.close()


async def test_digest_for_machine_users(clips: dict[int, list[AccessUnit]]) -> None:
    async with rig(clips) as r:
        await wait_until(lambda: r.engine.channel(2).init is not None, what="a picture")
        assert await digest_status(r, 2, "secret") == 200
        assert await digest_status(r, 2, "wrong") == 401
        r.access.allowed.discard((USER_ID, 2))
        assert await digest_status(r, 2, "secret") == 404  # not allowed looks like not there, as in the API
        r.access.allowed.add((USER_ID, 2))
        host = f"127.0.0.1:{r.server.port}"
        async with RtspSource(f"rtsp://parent:secret@{host}/live/2").open() as session:
            units = [await asyncio.wait_for(anext(session), 2) for _ in range(5)]
            assert units[0].keyframe
        with pytest.raises(MediaAuthError):
            async with RtspSource(f"rtsp://parent:wrong@{host}/live/2").open() as session:
                await asyncio.wait_for(anext(session), 2)


async def test_many_clients_one_pull_one_packetization(clips: dict[int, list[AccessUnit]]) -> None:
    async with rig(clips) as r:
        sources = [RtspSource(r.url(1, "ok-1")).open() for _ in range(3)]
        try:
            for session in sources:
                await session.start()
            for _ in range(30):
                for session in sources:
                    await asyncio.wait_for(anext(session), 2)
            assert r.camera.opens == {1: 1, 2: 1, 3: 1}
            assert r.engine.health(1).viewers == 3
            packager = r.server._packagers[1][0]
            assert packager.packetized <= r.engine.channel(1).fragments + 1  # once per frame, not per client
        finally:
            for session in sources:
                await session.close()
        await wait_until(lambda: r.server.playing == 0 and not r.server._packagers, what="sessions to end")


async def test_a_malformed_request_closes_only_that_client(clips: dict[int, list[AccessUnit]]) -> None:
    async with rig(clips) as r, RtspSource(r.url(1, "ok-1")).open() as good:
        await asyncio.wait_for(anext(good), 2)
        bad = await RawClient.connect(r.server.port)
        bad.writer.write(b"DESCRIBE\x00 nonsense\r\n\r\n")
        assert (await bad.response()).status == 400
        assert await bad.closed()
        received = 0
        for _ in range(10):
            await asyncio.wait_for(anext(good), 2)
            received += 1
        assert received == 10


async def test_a_stuck_client_is_dropped_and_others_go_on() -> None:
    big = {1: encode_clip(frames=25, gop=25, width=320, height=192, noise=True)}  # tens of KB a frame
    channel = ChannelConfig(max_queue=10, max_skips=2, stall_timeout=1.0)
    async with rig(big, interval=0.01, channel=channel, write_buffer=32 * 1024) as r:
        await wait_until(lambda: r.engine.channel(1).init is not None, what="a picture")
        stuck = socket.socket()
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.connect(("127.0.0.1", r.server.port))
        reader, writer = await asyncio.open_connection(sock=stuck)
        raw = RawClient(reader, writer)
        try:
            assert (await raw.request("DESCRIBE", r.url(1, "ok-1"))).status == 200
            setup = await raw.request(
                "SETUP", r.url(1) + "/trackID=0", Transport="RTP/AVP/TCP;interleaved=0-1"
            )
            session = (setup.headers.get("Session") or "").split(";")[0]
            writer.write(
                RtspRequest("PLAY", r.url(1), Headers([("CSeq", "9"), ("Session", session)])).to_bytes()
            )
            async with RtspSource(r.url(1, "ok-1")).open() as good:
                # The stuck client reads nothing: the channel skips it, then gives up on it.
                await wait_until(
                    lambda: r.engine.channel(1).stats().viewers_dropped >= 1, within=10, what="drop"
                )
                started = time.monotonic()
                for _ in range(50):
                    await asyncio.wait_for(anext(good), 2)
                assert time.monotonic() - started < 3.0  # 50 frames at 100 fps, never held up
            ended = [s for s in r.access.ended if s.reason.startswith(("too slow", "stalled"))]
            assert ended, [s.reason for s in r.access.ended]
        finally:
            raw.close()


async def test_revoked_rights_end_the_session(clips: dict[int, list[AccessUnit]]) -> None:
    async with rig(clips, recheck_every=0.2) as r:
        async with RtspSource(r.url(2, "ok-2"), read_timeout=5).open() as session:
            await asyncio.wait_for(anext(session), 2)
            r.access.allowed.discard((USER_ID, 2))
            with pytest.raises(MediaConnectionError, match="closed"):
                async with asyncio.timeout(3):
                    while True:
                        await anext(session)
        await wait_until(lambda: any(s.reason == "access revoked" for s in r.access.ended), what="audit end")


async def test_stop_ends_every_session_and_leaves_no_tasks(clips: dict[int, list[AccessUnit]]) -> None:
    before = len(asyncio.all_tasks())
    camera = ScriptedCamera(clips, interval=0.02)
    access = FakeAccess()
    async with MediaEngine(camera.open, EngineConfig()) as engine:
        engine.add_camera(CameraSpec(1))
        server = RtspRestreamer(engine, access, RestreamConfig(port=0))
        await server.start()
        sources = [RtspSource(server.url(1, "ok-1")).open() for _ in range(2)]
        for session in sources:
            await session.start()
            await asyncio.wait_for(anext(session), 2)
        await server.stop()
        assert len(access.ended) == 2 and {s.reason for s in access.ended} == {"server stopping"}
        for session in sources:
            await session.close()
        assert not server.running and server.playing == 0
    await wait_until(lambda: len(asyncio.all_tasks()) <= before, what="tasks to finish")


async def test_pause_play_teardown_on_one_connection(clips: dict[int, list[AccessUnit]]) -> None:
    async with rig(clips) as r:
        await wait_until(lambda: r.engine.channel(1).init is not None, what="a picture")
        client = await RawClient.connect(r.server.port)
        try:
            assert (await client.request("DESCRIBE", r.url(1, "ok-1"))).status == 200
            setup = await client.request(
                "SETUP", r.url(1) + "/trackID=0", Transport="RTP/AVP/TCP;interleaved=0-1"
            )
            session = (setup.headers.get("Session") or "").split(";")[0]
            assert (await client.request("PLAY", r.url(1), Session=session)).status == 200
            await wait_until(lambda: r.server.playing == 1, what="playing")
            assert (await client.request("PAUSE", r.url(1), Session=session)).status == 200
            assert r.server.playing == 0 and r.engine.health(1).viewers == 0
            assert (await client.request("PLAY", r.url(1), Session=session)).status == 200
            before = client.media_bytes
            await client.request("GET_PARAMETER", r.url(1), Session=session)  # media flows meanwhile
            await wait_until(lambda: r.server.playing == 1, what="playing again")
            assert (await client.request("TEARDOWN", r.url(1), Session=session)).status == 200
            assert client.media_bytes > before
            assert (await client.request("OPTIONS", "*")).status == 200  # the connection stays open
            assert (await client.request("PLAY", r.url(1), Session=session)).status == 454
        finally:
            client.close()
        await wait_until(lambda: len(r.access.ended) == 1, what="the end report")
        assert len(r.access.started) == 1 and r.access.ended[0].reason == "teardown"
        assert r.access.ended[0].bytes_sent > 0
