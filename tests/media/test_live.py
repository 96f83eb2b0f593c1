"""Live routes end to end on a real uvicorn server at 127.0.0.1: WebSocket fMP4 and LL-HLS, both read
back by independent clients (the `websockets` library, FFmpeg's HLS demuxer through PyAV, httpx)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import re
import socket
import struct
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import av
import httpx
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.streams import StreamReader

from tests.support.clips import FRAME_TICKS, encode_clip, pts_of, read_marker
from tests.support.media import ScriptedCamera, serve
from tests.support.waits import wait_until
from xueliang.media import tokens
from xueliang.media.channel import ChannelConfig
from xueliang.media.engine import CameraSpec, EngineConfig, MediaEngine
from xueliang.media.frames import AccessUnit
from xueliang.media.hls import HlsConfig
from xueliang.media.live import LiveConfig, LiveGateway, LiveSession
from xueliang.media.tokens import StreamClaims
from xueliang.media.ws_direct import DirectWriter, frame_header

SECRET = b"test-secret-for-stream-tokens-32"
ACTION = "view_live"


def verifier(token: str, camera_id: int) -> StreamClaims:
    return tokens.verify(SECRET, token, camera_id, ACTION, datetime.now(UTC))


def token_for(camera_id: int, user_id: int = 5, ttl: int = 120, action: str = ACTION) -> str:
    return tokens.issue(SECRET, user_id, camera_id, action, ttl, datetime.now(UTC))


@dataclass
class Live:
    host: str
    engine: MediaEngine
    gateway: LiveGateway
    camera: ScriptedCamera
    revoked: set[int] = field(default_factory=set)
    started: list[LiveSession] = field(default_factory=list)
    ended: list[LiveSession] = field(default_factory=list)
    checks: list[tuple[str, int]] = field(default_factory=list)  # ("connect" or "periodic", camera)

    def ws_url(self, camera_id: int, token: str) -> str:
        return f"ws://{self.host}/api/v1/live/{camera_id}/ws?token={token}"

    def hls_url(self, camera_id: int, name: str, token: str) -> str:
        return f"http://{self.host}/api/v1/live/{camera_id}/hls/{name}?token={token}"


def other_tasks() -> set[asyncio.Task[object]]:
    """Tasks of this loop apart from the running one (fixture setup and teardown run in different tasks)."""
    return {t for t in asyncio.all_tasks() if t is not asyncio.current_task()}


@pytest.fixture
def big_clip() -> list[AccessUnit]:
    return encode_clip(frames=25, gop=25, width=320, height=240, noise=True, camera_index=3)


@pytest.fixture
async def live(clips: dict[int, list[AccessUnit]], big_clip: list[AccessUnit]) -> AsyncIterator[Live]:
    tasks_before = other_tasks()
    camera = ScriptedCamera({**clips, 4: big_clip}, interval=0.005)
    config = EngineConfig(
        stale_after=10.0,
        channel=ChannelConfig(max_queue=20, stall_timeout=1.0, max_skips=3),
        hls=HlsConfig(segment_target=2.0, part_target=0.5, window=6),
    )
    engine = MediaEngine(camera.open, config)
    env = Live("", engine, None, camera)  # type: ignore[arg-type]

    async def recheck(claims: StreamClaims) -> bool:
        env.checks.append(("connect", claims.camera_id))
        return claims.user_id not in env.revoked

    async def recheck_periodic(claims: StreamClaims) -> bool:
        env.checks.append(("periodic", claims.camera_id))
        return claims.user_id not in env.revoked

    async def started(session: LiveSession) -> None:
        env.started.append(session)

    async def ended(session: LiveSession) -> None:
        env.ended.append(session)

    env.gateway = LiveGateway(
        engine,
        verifier,
        recheck=recheck,
        recheck_periodic=recheck_periodic,
        on_session_start=started,
        on_session_end=ended,
        config=LiveConfig(recheck_every=0.2, remind_before=1.5, hls_block_timeout=0.5, hls_session_idle=0.3),
    )
    app = FastAPI()
    app.include_router(env.gateway.router)
    await engine.start([CameraSpec(i) for i in (1, 2, 3, 4)])
    try:
        async with serve(app) as host:
            env.host = host
            yield env
    finally:
        await env.gateway.aclose()
        await engine.stop()
    assert other_tasks() == tasks_before, "tasks leaked"


async def read_stream(ws: ClientConnection, fragments: int) -> tuple[dict[str, object], bytes, list[bytes]]:
    header = json.loads(await asyncio.wait_for(ws.recv(), 5))
    init = await asyncio.wait_for(ws.recv(), 5)
    frags: list[bytes] = []
    while len(frags) < fragments:
        message = await asyncio.wait_for(ws.recv(), 5)
        if isinstance(message, bytes):
            frags.append(message)
    assert isinstance(init, bytes)
    return header, init, frags


def sequence(fragment: bytes) -> int:
    return int(struct.unpack_from(">I", fragment, 20)[0])


async def close_code(ws: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            await asyncio.wait_for(ws.recv(), 5)
    return closed.value.rcvd.code if closed.value.rcvd else None


# -- WebSocket -----------------------------------------------------------------------------------------


async def test_websocket_stream_decodes_and_shows_the_asked_camera(live: Live) -> None:
    async with connect(live.ws_url(2, token_for(2)), max_size=None) as ws:
        header, init, frags = await read_stream(ws, 40)
    assert header["type"] == "init" and header["codec"] == live.engine.health(2).codec
    assert header["mime"] == f'video/mp4; codecs="{header["codec"]}"'
    assert (header["width"], header["height"]) == (160, 96)
    with av.open(io.BytesIO(init + b"".join(frags)), "r") as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 40
    assert {read_marker(f) for f in frames} == {2}
    assert pts_of(frames) == [i * FRAME_TICKS for i in range(40)]
    await wait_until(lambda: len(live.ended) == 1, what="session end reported")
    session = live.ended[0]
    assert (session.kind, session.user_id, session.camera_id) == ("ws", 5, 2)
    assert session.bytes_sent >= len(init) + sum(map(len, frags)) and session.ended_at is not None
    assert live.started == [session]


@pytest.fixture
def direct_writes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Sizes of the fragments written by `DirectWriter` (bypassing ASGI), in order."""
    written: list[int] = []
    original = DirectWriter.write

    def write(self: DirectWriter, data: bytes) -> bool:
        done = original(self, data)
        if done:
            written.append(len(data))
        return done

    monkeypatch.setattr(DirectWriter, "write", write)
    return written


@pytest.mark.parametrize("size", [0, 1, 125, 126, 127, 65535, 65536, 200_000])
def test_direct_frame_header_is_what_websockets_reads(size: int) -> None:
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    reader = StreamReader()
    reader.feed_data(frame_header(size) + payload)
    parser = Frame.parse(reader.read_exact, mask=False)
    with pytest.raises(StopIteration) as done:
        next(parser)
    frame = done.value.value
    assert frame.opcode is Opcode.BINARY and frame.fin and frame.data == payload


async def test_websocket_fragments_go_straight_to_the_socket_and_every_byte_is_counted(
    live: Live, direct_writes: list[int]
) -> None:
    """After the cached GOP (queued), live fragments are written from `Channel.push` without the
    ASGI layers; the stream stays decodable and in order, and the audit counts exactly the bytes sent."""
    received = 0
    async with connect(live.ws_url(2, token_for(2)), max_size=None) as ws:
        header, init, frags = await read_stream(ws, 60)
        received += len(json.dumps(header, separators=(",", ":"))) + len(init) + sum(map(len, frags))
        live.camera.allow(2, 0)  # the camera falls silent: drain what is on the way
        with contextlib.suppress(TimeoutError):
            while True:
                message = await asyncio.wait_for(ws.recv(), 0.5)
                received += len(message if isinstance(message, bytes) else message.encode())
                if isinstance(message, bytes):
                    frags.append(message)
    with av.open(io.BytesIO(init + b"".join(frags)), "r") as container:
        frames = list(container.decode(video=0))
    assert len(frames) == len(frags) and {read_marker(f) for f in frames} == {2}
    assert pts_of(frames) == [i * FRAME_TICKS for i in range(len(frames))]
    assert len(direct_writes) >= 30 and direct_writes == [len(f) for f in frags[-len(direct_writes) :]]
    await wait_until(lambda: len(live.ended) == 1, what="session end reported")
    assert live.ended[0].bytes_sent == received


@pytest.mark.parametrize(
    ("camera_id", "make_token", "code"),
    [
        (2, lambda: token_for(1), 4403),  # camera 1's token never opens camera 2
        (1, lambda: token_for(1, action="export_video"), 4403),
        (1, lambda: token_for(1)[:-3] + "AAA", 4401),  # tampered
        (1, lambda: tokens.issue(SECRET, 5, 1, ACTION, 1, datetime(2026, 1, 1, tzinfo=UTC)), 4401),  # expired
        (1, lambda: "", 4401),
        (77, lambda: token_for(77), 4404),
    ],
)
async def test_websocket_refuses_bad_tokens(
    live: Live, camera_id: int, make_token: object, code: int
) -> None:
    assert callable(make_token)
    async with connect(live.ws_url(camera_id, make_token()), max_size=None) as ws:
        assert await close_code(ws) == code
    assert live.started == []


async def test_revoked_rights_close_the_stream_within_the_recheck_period(live: Live) -> None:
    async with connect(live.ws_url(1, token_for(1, user_id=9)), max_size=None) as ws:
        await read_stream(ws, 5)
        live.revoked.add(9)
        revoked_at = time.monotonic()
        assert await close_code(ws) == 4403
    assert time.monotonic() - revoked_at < 1.0  # recheck_every is 0.2 s
    await wait_until(lambda: len(live.ended) == 1, what="session end")
    assert live.ended[0].reason == "access revoked"


async def test_open_streams_are_rechecked_through_the_periodic_path(live: Live) -> None:
    async with connect(live.ws_url(2, token_for(2, user_id=7)), max_size=None) as ws:
        await read_stream(ws, 1)
        while sum(kind == "periodic" for kind, _ in live.checks) < 2:
            await asyncio.wait_for(ws.recv(), 5)
    assert live.checks[0] == ("connect", 2)
    assert set(live.checks[1:]) == {("periodic", 2)}


async def test_token_refresh_keeps_the_stream_and_no_refresh_ends_it(live: Live) -> None:
    async with connect(live.ws_url(1, token_for(1, ttl=2)), max_size=None) as ws:
        short = verifier(token_for(1, ttl=2), 1).expires
        kinds: list[str] = []
        while "token_expiring" not in kinds:
            message = await asyncio.wait_for(ws.recv(), 5)
            if isinstance(message, str):
                kinds.append(json.loads(message)["type"])
        await ws.send(json.dumps({"type": "token", "token": token_for(1, ttl=60)}))
        while "token_ok" not in kinds:
            message = await asyncio.wait_for(ws.recv(), 5)
            if isinstance(message, str):
                kinds.append(json.loads(message)["type"])
        while time.time() < short + 0.3:  # past the first token's expiry, fragments still come
            assert isinstance(await asyncio.wait_for(ws.recv(), 5), bytes | str)
        await ws.send(json.dumps({"type": "token", "token": token_for(2)}))  # another camera's token
        assert await close_code(ws) == 4403
    async with connect(live.ws_url(1, token_for(1, ttl=1)), max_size=None) as ws:
        assert await close_code(ws) == 4401  # expired without a refresh


@pytest.mark.parametrize("direct", [True, False], ids=["direct", "asgi-only"])
async def test_slow_viewer_is_skipped_and_dropped_without_delaying_a_fast_one(
    live: Live, direct: bool, direct_writes: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Camera 4 sends ~38 KB frames; the slow client never reads and has a tiny receive buffer. With
    direct writes (fragments written from `Channel.push` while the socket takes them) and without."""
    if not direct:
        monkeypatch.setattr(DirectWriter, "find", classmethod(lambda cls, websocket: None))
    channel = live.engine.channel(4)
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    host, port = live.host.split(":")
    raw.connect((host, int(port)))
    raw.setblocking(False)
    async with (
        connect(live.ws_url(4, token_for(4)), sock=raw, max_size=None, max_queue=1) as slow,
        connect(live.ws_url(4, token_for(4, user_id=6)), max_size=None) as fast,
    ):
        _, _, frags = await read_stream(fast, 1)
        arrivals: list[float] = []
        seqs = [sequence(frags[0])]
        while channel.stats().viewers_dropped == 0 or len(seqs) < 100:
            message = await asyncio.wait_for(fast.recv(), 2)
            if isinstance(message, bytes):
                arrivals.append(time.monotonic())
                seqs.append(sequence(message))
            assert len(seqs) < 2000, "the slow viewer was never dropped"
        gaps = [b - a for a, b in itertools.pairwise(arrivals)]
        assert max(gaps) < 0.5, max(gaps)  # the fast viewer never waited on the slow one
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # and lost nothing
        stats = channel.stats()
        assert stats.viewers == 1 and stats.skips + stats.viewers_dropped >= 1
        slow.transport.abort()
    await wait_until(lambda: len(live.ended) == 2, what="both sessions ended")
    reasons = {s.user_id: s.reason for s in live.ended}
    assert reasons[5].startswith(("too slow", "stalled")), reasons
    assert (len(direct_writes) > 100) is direct


# -- HLS -----------------------------------------------------------------------------------------------


def read_hls(url: str, count: int) -> list[av.VideoFrame]:
    """FFmpeg's own HLS client: open the live playlist from its first segment and decode `count` frames."""
    frames: list[av.VideoFrame] = []
    options = {"live_start_index": "0"}
    with av.open(url, options=options, timeout=10) as container:
        for frame in container.decode(video=0):
            frames.append(frame)
            if len(frames) == count:
                break
    return frames


async def start_hls(live: Live, camera_id: int, token: str) -> None:
    """Make the camera's packager with a first playlist request, then let the camera fall silent."""
    async with httpx.AsyncClient(timeout=5) as client:
        first = await client.get(live.hls_url(camera_id, "index.m3u8", token))
    assert first.status_code == 200 and first.text.startswith("#EXTM3U")
    live.camera.allow(camera_id, 0)


async def send_frames(live: Live, camera_id: int, frames: int) -> None:
    target = live.camera.sent.get(camera_id, 0) + frames
    live.camera.allow(camera_id, frames)
    await wait_until(lambda: live.camera.sent.get(camera_id) == target, what="frames sent")


async def test_hls_playlist_plays_in_ffmpeg(live: Live) -> None:
    token = token_for(3)
    await start_hls(live, 3, token)
    await send_frames(live, 3, 170)  # at least three complete 2 s segments
    frames = await asyncio.to_thread(read_hls, live.hls_url(3, "index.m3u8", token), 150)
    assert len(frames) == 150 and {read_marker(f) for f in frames} == {3}
    assert pts_of(frames) == [i * FRAME_TICKS for i in range(150)]


async def test_hls_blocking_reload_parts_and_segments(live: Live) -> None:
    token = token_for(1)
    await start_hls(live, 1, token)
    await send_frames(live, 1, 120)
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(live.hls_url(1, "index.m3u8", token))).text
        hint = re.search(r'PRELOAD-HINT:TYPE=PART,URI="part(\d+)\.(\d+)\.m4s', text)
        assert hint is not None
        msn, part = int(hint[1]), int(hint[2])
        blocked = asyncio.create_task(
            client.get(live.hls_url(1, "index.m3u8", token) + f"&_HLS_msn={msn}&_HLS_part={part}")
        )
        preload = asyncio.create_task(client.get(live.hls_url(1, f"part{msn}.{part}.m4s", token)))
        await asyncio.sleep(0.1)
        assert not blocked.done() and not preload.done()  # held until the part exists
        await send_frames(live, 1, 60)
        reply, part_reply = await blocked, await preload
        assert reply.status_code == 200 and f"part{msn}.{part}.m4s" in reply.text
        assert part_reply.status_code == 200 and part_reply.content[4:8] == b"moof"
        # The oldest segment whose parts are still listed is a whole one (the first plain request waited
        # for segment 0 to be whole, so which segments still list parts depends on what came since).
        oldest = min(int(n) for n in re.findall(r'URI="part(\d+)\.\d+\.m4s', reply.text))
        assert oldest < msn
        seg = await client.get(live.hls_url(1, f"seg{oldest}.m4s", token))
        parts = re.findall(rf'URI="(part{oldest}\.\d+\.m4s)', reply.text)
        joined = b"".join([(await client.get(live.hls_url(1, p, token))).content for p in parts])
        assert seg.status_code == 200 and parts and joined == seg.content
        init = await client.get(live.hls_url(1, "init0.mp4", token))
        assert (
            init.content[4:8] == b"ftyp"
            and init.content == (await client.get(live.hls_url(1, "init.mp4", token))).content
        )
        with av.open(io.BytesIO(init.content + seg.content), "r") as container:
            assert len(list(container.decode(video=0))) == 50
        # silent camera: a blocking reload for the future answers 503 after the block timeout
        last = int(re.findall(r"^seg(\d+)\.m4s", reply.text, re.M)[-1])
        late = await client.get(live.hls_url(1, "index.m3u8", token) + f"&_HLS_msn={last + 2}")
        assert late.status_code == 503
        far = await client.get(live.hls_url(1, "index.m3u8", token) + f"&_HLS_msn={last + 9}")
        assert far.status_code == 400
        assert (await client.get(live.hls_url(1, "seg0.m4s", token_for(2)))).status_code == 403
        assert (await client.get(live.hls_url(1, "seg0.m4s", token[:-2] + "xx"))).status_code == 401
        assert (await client.get(live.hls_url(66, "index.m3u8", token_for(66)))).status_code == 404
        assert (await client.get(live.hls_url(1, "seg999.m4s", token))).status_code == 404
    await wait_until(lambda: not live.gateway._hls_sessions, what="idle HLS sessions ended")
    assert live.ended and all(s.kind == "hls" and s.camera_id == 1 and s.user_id == 5 for s in live.ended)
    assert len(live.started) == len(live.ended)
    assert sum(s.bytes_sent for s in live.ended) > len(seg.content) + len(joined)
