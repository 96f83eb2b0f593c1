"""The simulator's RTSP server: serves each camera's pre-packetized loop at rtsp://host:port/cam/<N>
(N 1-based, or a 20-digit GB/T 28181 id mapped to N), over TCP interleaved or UDP, with optional
Digest auth. One timer per server paces all cameras: each tick sends every playing session its
camera's next frame, with RTP timestamps that keep running across loop-arounds. Cameras start their
loops at staggered positions so keyframes spread over time. Nothing is encoded while serving."""

from __future__ import annotations

import asyncio
import collections
import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

from xueliang.media.errors import MediaProtocolError
from xueliang.media.rtsp import serving
from xueliang.media.rtsp.auth import ServerAuth
from xueliang.media.rtsp.message import InterleavedFrame, RtspParser, RtspRequest, RtspResponse
from xueliang.media.rtsp.sdp import video_sdp
from xueliang.media.rtsp.serving import TcpTransport
from xueliang.media.sim.encode import LoopSpec, load_loop
from xueliang.media.sim.packets import PAYLOAD_TYPE, PreparedFrame, prepare_frames

log = logging.getLogger(__name__)

_MAX_CATCH_UP = 25  # frames sent at once after the event loop stalled; beyond that, skip ahead
_MAX_WRITE_BUFFER = 8 * 1024 * 1024  # a TCP client this far behind is cut off


@dataclass(slots=True)
class _Camera:
    number: int
    frames: list[PreparedFrame]
    sdp: bytes
    stagger: int
    playing: set[_Session] = field(default_factory=set)


@dataclass(eq=False, slots=True)
class _Session:
    ident: str
    conn: _Connection
    camera: _Camera
    channel: int = -1  # TCP interleaved RTP channel; -1 for UDP
    udp_addr: tuple[str, int] | None = None
    ssrc: int = field(default_factory=lambda: secrets.randbits(32))
    seq: int = field(default_factory=lambda: secrets.randbits(16))
    ts_base: int = field(default_factory=lambda: secrets.randbits(32))
    start_tick: int = 0
    last_seen: float = 0.0


class _Connection(asyncio.Protocol):
    """One RTSP control connection (and, for TCP clients, their media)."""

    def __init__(self, server: RtspSimulator) -> None:
        self.server = server
        self.parser = RtspParser()
        self.transport: asyncio.Transport | None = None
        self.peer_ip = ""
        self.sessions: set[_Session] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.peer_ip = transport.get_extra_info("peername")[0]
        self.server.connections.add(self)

    def data_received(self, data: bytes) -> None:
        now = self.server.loop.time()
        for session in self.sessions:
            session.last_seen = now
        try:
            items = self.parser.feed(data)
        except MediaProtocolError as exc:
            log.info("simulator: bad request from %s: %s", self.peer_ip, exc)
            self.write(serving.error(400))
            if self.transport is not None:
                self.transport.close()
            return
        for item in items:
            if isinstance(item, RtspRequest):
                self.write(self.server.handle(self, item))
            elif not isinstance(item, InterleavedFrame):
                log.debug("simulator: ignoring a response from %s", self.peer_ip)

    def write(self, response: RtspResponse) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(response.to_bytes())

    def connection_lost(self, exc: Exception | None) -> None:
        self.server.drop_connection(self)


class _RtcpSink(asyncio.DatagramProtocol):
    """The server's UDP sockets receive receiver reports and NAT punches; they carry no meaning here."""


class RtspSimulator:
    """A simulated camera farm. `start()` encodes missing loops (first run), loads them and listens;
    `stop()` drops every client and frees the port; both may be repeated on the same port.

    `cameras` is a count (cameras 1..N) or a mapping of 20-digit GB ids to camera numbers (each
    camera is then reachable by its id and by its number)."""

    def __init__(
        self,
        cameras: int | dict[str, int],
        *,
        data_dir: Path,
        host: str = "127.0.0.1",
        port: int = 8554,
        size: tuple[int, int] = (640, 360),
        fps: int = 25,
        seconds: int = 4,
        auth: tuple[str, str] | None = None,
        session_timeout: int = 60,
        allow_tcp: bool = True,
    ) -> None:
        if isinstance(cameras, int):
            self.aliases: dict[str, int] = {}
            self.numbers = list(range(1, cameras + 1))
        else:
            self.aliases = dict(cameras)
            self.numbers = sorted(set(cameras.values()))
        if not self.numbers or min(self.numbers) < 1:
            raise ValueError("camera numbers start at 1")
        self.host = host
        self.port = port
        self.data_dir = data_dir
        self.spec = LoopSpec(width=size[0], height=size[1], fps=fps, seconds=seconds)
        self.auth = ServerAuth(*auth) if auth else None
        self.session_timeout = session_timeout
        self.allow_tcp = allow_tcp  # False: act like a camera that only streams over UDP
        self.requests: collections.Counter[str] = collections.Counter()  # by method, for health checks
        self.connections: set[_Connection] = set()
        self.sessions: dict[str, _Session] = {}
        self._cameras: dict[int, _Camera] = {}
        self._server: asyncio.Server | None = None
        self._udp: list[asyncio.DatagramTransport] = []
        self._udp_ports = (0, 0)
        self._timer: asyncio.TimerHandle | None = None
        self._t0 = 0.0
        self._tick_no = 0
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        assert self._loop is not None
        return self._loop

    @property
    def running(self) -> bool:
        return self._server is not None

    def url(self, camera: int | str) -> str:
        return f"rtsp://{self.host}:{self.port}/cam/{camera}"

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        if self._server is not None:
            return
        self._loop = asyncio.get_running_loop()
        if not self._cameras:
            self._cameras = await asyncio.to_thread(self._prepare)
        self._server = await self.loop.create_server(lambda: _Connection(self), self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        await self._open_udp()
        self._t0 = self.loop.time()
        self._tick_no = 0
        self._timer = self.loop.call_at(self._t0 + self._period, self._on_tick)
        log.info("simulator: %d cameras at rtsp://%s:%d/cam/<n>", len(self._cameras), self.host, self.port)

    async def stop(self) -> None:
        """Stop listening and drop every client (they see the connection close)."""
        if self._server is None:
            return
        server, self._server = self._server, None
        server.close()
        if self._timer is not None:
            self._timer.cancel()
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.abort()
            self.drop_connection(conn)
        for transport in self._udp:
            transport.close()
        self._udp = []
        await server.wait_closed()

    def _prepare(self) -> dict[int, _Camera]:
        cameras = {}
        for number in self.numbers:
            loop = load_loop(self.data_dir, number, self.spec)
            frames = prepare_frames(loop)
            sdp = video_sdp(loop.params, payload_type=PAYLOAD_TYPE, session_name=f"Camera {number}")
            stagger = ((number - 1) * 13) % len(frames)
            cameras[number] = _Camera(number, frames, sdp.encode(), stagger)
        return cameras

    async def _open_udp(self) -> None:
        """An even/odd port pair shared by all UDP sessions (RTP from the even one)."""
        for _ in range(64):
            rtp, _ = await self.loop.create_datagram_endpoint(_RtcpSink, local_addr=(self.host, 0))
            port = rtp.get_extra_info("sockname")[1]
            if port % 2 == 0 and port < 65535:
                try:
                    rtcp, _ = await self.loop.create_datagram_endpoint(
                        _RtcpSink, local_addr=(self.host, port + 1)
                    )
                except OSError:
                    pass
                else:
                    self._udp = [rtp, rtcp]
                    self._udp_ports = (port, port + 1)
                    return
            rtp.close()
        raise OSError("no free UDP port pair for the simulator")

    # -- pacing ------------------------------------------------------------------------------------

    @property
    def _period(self) -> float:
        return 1.0 / self.spec.fps

    def _on_tick(self) -> None:
        if self._server is None:
            return
        due = int((self.loop.time() - self._t0) / self._period)
        if due - self._tick_no > _MAX_CATCH_UP:
            self._tick_no = due - 1
        while self._tick_no < due:
            self._tick_no += 1
            self._send_tick(self._tick_no)
        if self._tick_no % self.spec.fps == 0:
            self._expire_sessions()
        self._timer = self.loop.call_at(self._t0 + (self._tick_no + 1) * self._period, self._on_tick)

    def _send_tick(self, tick: int) -> None:
        step = 90000 // self.spec.fps
        for camera in self._cameras.values():
            if not camera.playing:
                continue
            frame = camera.frames[(tick + camera.stagger) % len(camera.frames)]
            count = len(frame.offsets)
            for session in list(camera.playing):
                if tick < session.start_tick:
                    continue
                ts = (session.ts_base + (tick - session.start_tick) * step) & 0xFFFFFFFF
                self._send(session, frame, ts)
                session.seq = (session.seq + count) & 0xFFFF

    def _send(self, session: _Session, frame: PreparedFrame, ts: int) -> None:
        if session.udp_addr is None:
            transport = session.conn.transport
            if transport is None or transport.is_closing():
                return
            if transport.get_write_buffer_size() > _MAX_WRITE_BUFFER:
                log.info("simulator: dropping %s, too far behind", session.conn.peer_ip)
                transport.abort()
                return
            transport.write(frame.for_tcp(session.channel, session.seq, ts, session.ssrc))
        elif self._udp:
            rtp = self._udp[0]
            for packet in frame.for_udp(session.seq, ts, session.ssrc):
                rtp.sendto(packet, session.udp_addr)

    def _expire_sessions(self) -> None:
        """UDP sessions whose client went quiet; TCP sessions end with their connection."""
        limit = self.loop.time() - self.session_timeout
        for session in list(self.sessions.values()):
            if session.udp_addr is not None and session.last_seen < limit:
                self._end_session(session)

    # -- RTSP --------------------------------------------------------------------------------------

    def drop_connection(self, conn: _Connection) -> None:
        for session in list(conn.sessions):
            self._end_session(session)
        self.connections.discard(conn)

    def _end_session(self, session: _Session) -> None:
        session.camera.playing.discard(session)
        session.conn.sessions.discard(session)
        self.sessions.pop(session.ident, None)

    def _camera_for(self, uri: str) -> _Camera | None:
        parts = [p for p in urlsplit(uri).path.split("/") if p]
        if len(parts) not in (2, 3) or parts[0] != "cam" or (len(parts) == 3 and parts[2] != "trackID=0"):
            return None
        key = parts[1]
        number = self.aliases.get(key)
        if number is None and key.isascii() and key.isdigit() and len(key) <= 6:
            number = int(key)
        return self._cameras.get(number) if number is not None else None

    def handle(self, conn: _Connection, request: RtspRequest) -> RtspResponse:
        self.requests[request.method] += 1
        return serving.finish(self._dispatch(conn, request), request, "Xueliang-sim")

    def _dispatch(self, conn: _Connection, request: RtspRequest) -> RtspResponse:
        method = request.method
        if method == "OPTIONS":
            return serving.options()
        if self.auth is not None:
            verdict = self.auth.check(method, request.headers.get("Authorization"), request.uri)
            if verdict != "ok":
                return serving.unauthorized(self.auth.challenges(stale=verdict == "stale"))
        ident = serving.session_id(request)
        session = self.sessions.get(ident) if ident is not None else None
        if session is not None:
            session.last_seen = self.loop.time()
        if method == "GET_PARAMETER":
            return RtspResponse(200, "OK")
        if method == "DESCRIBE":
            return self._describe(request)
        if method == "SETUP":
            return self._setup(conn, request)
        if method in ("PLAY", "PAUSE", "TEARDOWN"):
            if session is None or session.conn is not conn:
                return serving.error(454)
            if method == "TEARDOWN":
                self._end_session(session)
                return RtspResponse(200, "OK")
            if method == "PAUSE":
                session.camera.playing.discard(session)
                return serving.ok(session.ident)
            return self._play(session, request)
        return serving.error(501)

    def _describe(self, request: RtspRequest) -> RtspResponse:
        camera = self._camera_for(request.uri)
        if camera is None:
            return serving.error(404)
        base = request.uri if request.uri.endswith("/") else request.uri + "/"
        return serving.described(base, camera.sdp)

    def _setup(self, conn: _Connection, request: RtspRequest) -> RtspResponse:
        camera = self._camera_for(request.uri)
        if camera is None:
            return serving.error(404)
        try:
            transport = serving.negotiate(request, tcp=self.allow_tcp)
        except MediaProtocolError:
            return serving.error(400)
        except LookupError:
            return serving.error(461)
        session = _Session(secrets.token_hex(8), conn, camera, last_seen=self.loop.time())
        if isinstance(transport, TcpTransport):
            session.channel = transport.rtp
            reply = transport.reply()
        else:
            session.udp_addr = (conn.peer_ip, transport.rtp)  # only ever to the peer: no reflection
            reply = transport.reply(self._udp_ports)
        self.sessions[session.ident] = session
        conn.sessions.add(session)
        return serving.set_up(f"{reply};ssrc={session.ssrc:08X}", session.ident, self.session_timeout)

    def _play(self, session: _Session, request: RtspRequest) -> RtspResponse:
        if session not in session.camera.playing:
            session.start_tick = self._tick_no + 1
            session.camera.playing.add(session)
        step = 90000 // self.spec.fps
        next_ts = (session.ts_base + (self._tick_no + 1 - session.start_tick) * step) & 0xFFFFFFFF
        track = request.uri.rstrip("/") + "/trackID=0"
        return serving.playing(session.ident, track, session.seq, next_ts)


async def run_simulator(
    cameras: int | dict[str, int],
    host: str,
    port: int,
    data_dir: Path,
    size: tuple[int, int] = (640, 360),
    auth: tuple[str, str] | None = None,
) -> None:
    """Serve until cancelled (what `xueliang sim` runs)."""
    async with RtspSimulator(cameras, data_dir=data_dir, host=host, port=port, size=size, auth=auth):
        await asyncio.Event().wait()
