"""The RTSP re-serve: rtsp://HOST:PORT/live/<camera_id> for ffmpeg, VLC and parent nodes.

Each client is a viewer of the camera's channel, exactly like a browser on the WebSocket: the camera
is pulled once however many clients there are, a new client starts at once from the cached GOP (its
first frame is a keyframe, with parameter sets in-band), and the channel's bounded queue decides what
a slow client loses (everything up to the next keyframe) and when it is hopeless (then its connection
is closed). Frames are packetized once per camera and stamped per client (sequence, timestamp, SSRC).

Access: `?token=` from POST /api/v1/cameras/{id}/open (a stream token for viewing that camera live),
or RTSP Digest for machine users (parent nodes), whose password the platform derives (see
`media/plane/rtsp.py`). A connection that proved access to a camera keeps it for the following requests
(SETUP/PLAY go to the Content-Base, which carries no token); the access policy is asked again at
least every `recheck_every` seconds while a session plays, so revoked rights end it. Every played
session is reported at start and end with its bytes, for the audit trail.

RTP goes over the RTSP connection (TCP interleaved: passes NAT, loses nothing) or, when SETUP asks for
`RTP/AVP;unicast;client_port=a-b`, over UDP from the server's one port pair to those ports of the
connection's own peer (never another address: no reflection). Every session we send gets RTCP sender
reports (the odd interleaved channel on TCP, the RTCP ports on UDP): players map RTP time to wall-clock
time with them. A UDP session ends on the client's RTCP BYE or after `session_timeout` seconds with
neither RTCP nor an RTSP request from it; multicast is answered 461.
A malformed request gets 400 and closes that connection only."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit, urlunsplit

from xueliang.core.aio import first_done
from xueliang.media.channel import Channel, Fragment, InitSegment, Viewer, ViewerClosed
from xueliang.media.engine import MediaEngine, UnknownCamera
from xueliang.media.errors import MediaProtocolError
from xueliang.media.fmp4 import read_sample
from xueliang.media.frames import CodecParams
from xueliang.media.live import LiveSession
from xueliang.media.restream.access import Denied, Grant, RestreamAccess
from xueliang.media.restream.packager import PAYLOAD_TYPE, RtpPackager
from xueliang.media.rtp import rtcp
from xueliang.media.rtsp import serving
from xueliang.media.rtsp.auth import DigestRealm
from xueliang.media.rtsp.message import InterleavedFrame, RtspParser, RtspRequest, RtspResponse
from xueliang.media.rtsp.sdp import video_sdp
from xueliang.media.rtsp.serving import TcpTransport, UdpTransport

log = logging.getLogger(__name__)

SERVER = "Xueliang"
TRACK = "trackID=0"
ReportHook = Callable[[LiveSession], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class RestreamConfig:
    host: str = "127.0.0.1"
    port: int = 8555  # 0: any free port (see `RtspRestreamer.port` after start)
    url_base: str = ""  # how clients reach us, e.g. rtsp://node.example:8555; default rtsp://host:port
    realm: str = "Xueliang"
    recheck_every: float = 30.0  # the policy is asked again this often while a session plays
    idle_timeout: float = 60.0  # a connection playing nothing is closed after this long without requests
    describe_wait: float = 5.0  # DESCRIBE of a camera without a picture yet waits this long for one
    write_buffer: int = 512 * 1024  # per connection; above it the client's viewer queue fills instead
    max_connections: int = 256
    max_sessions: int = 4  # per connection
    session_timeout: int = 60  # announced in SETUP (clients send GET_PARAMETER keepalives before it)
    udp: bool = True  # serve RTP over UDP to clients that ask (unicast, to the client's own address)
    report_every: float = 5.0  # seconds between RTCP sender reports (RFC 3550: about 5 s)
    viewer_queue: int | None = None  # None: the channel's default


@dataclass(eq=False, slots=True)
class _Session:
    ident: str
    client: _Client
    grant: Grant
    transport: TcpTransport | UdpTransport
    ssrc: int = field(default_factory=lambda: secrets.randbits(32))
    seq: int = field(default_factory=lambda: secrets.randbits(16))
    ts_base: int = field(default_factory=lambda: secrets.randbits(32))
    viewer: Viewer | None = None
    task: asyncio.Task[None] | None = None
    live: LiveSession | None = None
    start_report: asyncio.Task[None] | None = None  # the end is reported only after the start
    ended: bool = False
    bytes_sent: int = 0
    packets: int = 0  # RTP packets sent, for sender reports
    octets: int = 0  # RTP payload octets sent, for sender reports
    clock: tuple[int, float] | None = None  # (RTP time, monotonic time) of the last frame sent
    reported: float = 0.0  # monotonic time of the last sender report
    last_seen: float = field(default_factory=time.monotonic)  # last RTCP or request from the client
    bye: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def camera_id(self) -> int:
        return self.grant.camera_id

    @property
    def udp(self) -> tuple[tuple[str, int], tuple[str, int]] | None:
        """The client's RTP and RTCP addresses for a UDP session."""
        transport = self.transport
        if isinstance(transport, UdpTransport):
            peer = self.client.peer
            return (peer, transport.rtp), (peer, transport.rtcp)
        return None


@dataclass(eq=False, slots=True)
class _Client:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    peer: str
    parser: RtspParser = field(default_factory=RtspParser)
    grants: dict[int, tuple[Grant, float]] = field(default_factory=dict)  # camera -> (grant, when asked)
    sessions: dict[str, _Session] = field(default_factory=dict)

    def send(self, data: bytes | bytearray) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    @property
    def playing(self) -> bool:
        return any(s.task is not None for s in self.sessions.values())


def parse_target(uri: str) -> tuple[int, str | None] | None:
    """(camera id, token) of `/live/<id>[/trackID=0][?token=T]`; None for any other URL. Clients that
    ignore Content-Base append the track to the query (`?token=T/trackID=0`): tokens hold no '/'."""
    parts = urlsplit(uri)
    query, _, tail = parts.query.partition("/")
    segments = [s for s in parts.path.split("/") if s]
    if tail:
        segments.append(tail)
    if len(segments) not in (2, 3) or segments[0] != "live" or (len(segments) == 3 and segments[2] != TRACK):
        return None
    key = segments[1]
    if not (key.isascii() and key.isdigit() and len(key) <= 9):
        return None
    tokens = parse_qs(query).get("token")
    return int(key), (tokens[0] if tokens else None)


def _rtptime(session: _Session) -> int | None:
    """RTP-Info's rtptime: the RTP time of the first frame PLAY sends (the cached keyframe's
    presentation time, composition offset included); None while the viewer waits for a keyframe."""
    first = session.viewer.first_fragment() if session.viewer is not None else None
    if first is None:
        return None
    try:
        cts = read_sample(first.data)[1] or 0
    except ValueError:
        return None
    return (session.ts_base + first.decode_time + cts) & 0xFFFFFFFF


def _rebase(uri: str, path: str) -> str:
    """The request's scheme and host with another path, no credentials and no query (no token)."""
    parts = urlsplit(uri)
    return urlunsplit((parts.scheme or "rtsp", parts.netloc.rpartition("@")[2], path, "", ""))


class _RtcpIn(asyncio.DatagramProtocol):
    """What clients send to the server's UDP ports."""

    def __init__(self, server: RtspRestreamer) -> None:
        self.server = server

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.server.on_rtcp(data, (str(addr[0]), int(str(addr[1]))))

    def error_received(self, exc: Exception) -> None:
        log.debug("RTSP re-serve: UDP error: %s", exc)  # ICMP port unreachable from a client gone


class RtspRestreamer:
    """Serves the engine's channels over RTSP; `await start()`, `await stop()` (ends every session and
    reports it). Knows camera ids and user ids only: `access` decides who may watch what."""

    def __init__(
        self, engine: MediaEngine, access: RestreamAccess, config: RestreamConfig | None = None
    ) -> None:
        self.engine = engine
        self.access = access
        self.config = config or RestreamConfig()
        self.port = self.config.port
        self.digest = DigestRealm(self.config.realm)
        self._server: asyncio.Server | None = None
        self._clients: set[_Client] = set()
        self._handlers: set[asyncio.Task[None]] = set()
        self._packagers: dict[int, tuple[RtpPackager, int]] = {}  # camera -> (packager, sessions playing)
        self._udp: tuple[asyncio.DatagramTransport, asyncio.DatagramTransport] | None = None
        self.udp_ports = (0, 0)
        self.udp_host = ""  # the address the UDP pair is bound to
        self._udp_peers: dict[tuple[str, int], _Session] = {}  # client RTP/RTCP address -> session
        self.sessions_started = 0
        self.reports_sent = 0
        self.reports_received = 0  # RTCP receiver reports from UDP clients
        self.bytes_sent = 0

    # -- lifecycle -----------------------------------------------------------------------------------

    @property
    def url_base(self) -> str:
        if self.config.url_base:
            return self.config.url_base.rstrip("/")
        host = self.config.host if self.config.host not in ("", "0.0.0.0", "::") else "127.0.0.1"  # noqa: S104
        return f"rtsp://{host}:{self.port}"

    def url(self, camera_id: int, token: str | None = None) -> str:
        return f"{self.url_base}/live/{camera_id}" + (f"?token={token}" if token else "")

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def playing(self) -> int:
        return sum(count for _, count in self._packagers.values())

    async def start(self) -> None:
        if self._server is not None:
            return
        self._server = await asyncio.start_server(self._accept, self.config.host, self.config.port)
        self.port = self._server.sockets[0].getsockname()[1]
        if self.config.udp:
            await self._open_udp()
        log.info("RTSP re-serve at %s/live/<camera id>", self.url_base)

    async def stop(self) -> None:
        """Stop listening, end every session (reported as ended) and close every connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await server.wait_closed()
        if self._udp is not None:
            for transport in self._udp:
                transport.close()
            self._udp = None

    async def _open_udp(self) -> None:
        """One even/odd port pair for every UDP session: RTP from the even one, RTCP on the odd."""
        loop = asyncio.get_running_loop()
        host = self.config.host or "0.0.0.0"  # noqa: S104
        for _ in range(32):
            rtp, _ = await loop.create_datagram_endpoint(lambda: _RtcpIn(self), local_addr=(host, 0))
            port = rtp.get_extra_info("sockname")[1]
            if port % 2 == 0 and port < 65535:
                try:
                    rtcp_in, _ = await loop.create_datagram_endpoint(
                        lambda: _RtcpIn(self), local_addr=(host, port + 1)
                    )
                except OSError:
                    pass
                else:
                    self._udp = (rtp, rtcp_in)
                    self.udp_ports = (port, port + 1)
                    self.udp_host = str(rtp.get_extra_info("sockname")[0])
                    return
            rtp.close()
        log.warning("RTSP re-serve: no free UDP port pair; serving TCP interleaved only")

    def on_rtcp(self, data: bytes, addr: tuple[str, int]) -> None:
        """A datagram from a client on either port: RTCP receiver reports (or NAT punches on the RTP
        port) keep its session alive, a BYE ends it."""
        session = self._udp_peers.get(addr)
        if session is None:
            return
        session.last_seen = time.monotonic()
        packets = rtcp.parse_rtcp(data)
        self.reports_received += sum(packet.kind == rtcp.RR for packet in packets)
        if any(packet.kind == rtcp.BYE for packet in packets):
            session.bye.set()

    # -- connections ---------------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        peer = writer.get_extra_info("peername")
        client = _Client(reader, writer, str(peer[0]) if peer else "")
        high = self.config.write_buffer
        writer.transport.set_write_buffer_limits(high=high, low=high // 4)
        reason = "client left"
        try:
            if len(self._clients) >= self.config.max_connections:
                client.send(serving.error(503).to_bytes())
                reason = "too many connections"
                return
            self._clients.add(client)
            reason = await self._converse(client)
        except asyncio.CancelledError:
            # Only `stop()` cancels a connection. Not re-raised: Python 3.11's start_server logs a
            # cancelled handler as an unhandled error.
            reason = "server stopping"
        except Exception:
            log.exception("RTSP re-serve: connection from %s failed", client.peer)
            reason = "server error"
        finally:
            self._handlers.discard(task)
            self._clients.discard(client)
            await asyncio.shield(self._close_client(client, reason))

    async def _converse(self, client: _Client) -> str:
        """Read and answer requests until the client leaves; returns why the connection ended."""
        while True:
            try:
                async with asyncio.timeout(None if client.playing else self.config.idle_timeout):
                    data = await client.reader.read(64 * 1024)
            except TimeoutError:
                return "idle"
            except ConnectionError:
                return "client left"
            if not data:
                return "client left"
            try:
                items = client.parser.feed(data)
            except MediaProtocolError as exc:
                log.info("RTSP re-serve: bad request from %s: %s", client.peer, exc)
                client.send(serving.error(400).to_bytes())
                return f"bad request: {exc.reason}"
            for item in items:
                if isinstance(item, RtspRequest):
                    now = time.monotonic()
                    for session in client.sessions.values():
                        session.last_seen = now
                    response = await self._handle(client, item)
                    client.send(serving.finish(response, item, SERVER).to_bytes())
                    self._start_pending(client)
                elif isinstance(item, InterleavedFrame):
                    self._interleaved_rtcp(client, item)
                # Stray responses carry nothing we use.

    def _interleaved_rtcp(self, client: _Client, frame: InterleavedFrame) -> None:
        """Receiver reports on a session's odd channel; a BYE there ends the session."""
        for session in client.sessions.values():
            transport = session.transport
            if isinstance(transport, TcpTransport) and frame.channel == transport.rtcp:
                session.last_seen = time.monotonic()
                if any(packet.kind == rtcp.BYE for packet in rtcp.parse_rtcp(frame.data)):
                    session.bye.set()

    async def _close_client(self, client: _Client, reason: str) -> None:
        for session in list(client.sessions.values()):
            await self._end(session, reason)
        client.writer.transport.abort()  # close() would wait to flush a stuck client's buffer

    # -- requests ------------------------------------------------------------------------------------

    async def _handle(self, client: _Client, request: RtspRequest) -> RtspResponse:
        method = request.method
        if method == "OPTIONS":
            return serving.options()
        ident = serving.session_id(request)
        session = client.sessions.get(ident) if ident is not None else None
        if method == "GET_PARAMETER":
            return serving.ok(session.ident if session else None)
        if method in ("PLAY", "PAUSE", "TEARDOWN"):
            if session is None:
                return serving.error(454)
            if method == "TEARDOWN":
                await self._end(session, "teardown")
                return serving.ok()
            if method == "PAUSE":
                await self._pause(session)
                return serving.ok(session.ident)
            return self._play(session, request)
        if method not in ("DESCRIBE", "SETUP"):
            return serving.error(501)
        target = parse_target(request.uri)
        if target is None:
            return serving.error(404)
        camera_id, token = target
        try:
            grant = await self._authorize(client, request, camera_id, token)
        except Denied as denied:
            return self._refuse(client, request, denied)
        if method == "DESCRIBE":
            return await self._describe(request, camera_id)
        return self._setup(client, request, grant)

    def _refuse(self, client: _Client, request: RtspRequest, denied: Denied) -> RtspResponse:
        log.info(
            "RTSP re-serve: %s %s from %s refused: %s",
            request.method,
            urlsplit(request.uri).path,
            client.peer,
            denied.reason,
        )
        if denied.status == 401:
            return serving.unauthorized([self.digest.challenge(stale=denied.stale)])
        return serving.error(denied.status)

    async def _authorize(
        self, client: _Client, request: RtspRequest, camera_id: int, token: str | None
    ) -> Grant:
        """A token in the URL, else what this connection proved (asked again after `recheck_every`),
        else Digest credentials."""
        now = time.monotonic()
        if token is not None:
            user_id = self.access.check_token(token, camera_id)
            if not self.engine.has_camera(camera_id):
                raise Denied(404, "no such live camera")  # a genuine token: the camera was removed
            if not await self.access.may_view(user_id, camera_id):
                raise Denied(403, "access revoked")
            grant = Grant(user_id, camera_id, "token")
            client.grants[camera_id] = (grant, now)
            return grant
        known = client.grants.get(camera_id)
        if known is not None:
            grant, asked = known
            if now - asked < self.config.recheck_every:
                return grant
            if not await self.access.may_view(grant.user_id, camera_id):
                del client.grants[camera_id]
                raise Denied(403, "access revoked")
            client.grants[camera_id] = (grant, now)
            return grant
        creds = self.digest.credentials(request.headers.get("Authorization"))
        if creds is None or creds.scheme != "digest":
            raise Denied(401, "credentials required")
        if not self.digest.well_formed(creds):
            raise Denied(401, "malformed credentials")  # before the user lookup: nothing odd reaches it
        found = await self.access.digest_user(creds.params.get("username", ""))
        if found is None:
            raise Denied(401, "unknown user")
        user_id, password = found
        verdict = self.digest.verify(request.method, creds, password, request.uri)
        if verdict != "ok":
            raise Denied(
                401, "wrong password" if verdict == "denied" else "stale nonce", stale=verdict == "stale"
            )
        if not self.engine.has_camera(camera_id) or not await self.access.may_view(user_id, camera_id):
            raise Denied(404, "no such live camera for this user")  # as the API: not yours = not there
        grant = Grant(user_id, camera_id, "digest")
        client.grants[camera_id] = (grant, now)
        return grant

    async def _describe(self, request: RtspRequest, camera_id: int) -> RtspResponse:
        try:
            channel = self.engine.channel(camera_id)
        except UnknownCamera:  # removed while the policy was being asked
            return serving.error(404)
        init = channel.init or await self._first_init(channel)
        if init is None:
            return serving.error(503)
        sdp = video_sdp(init.params, payload_type=PAYLOAD_TYPE, session_name=f"Xueliang camera {camera_id}")
        base = _rebase(request.uri, f"/live/{camera_id}/")
        return serving.described(base, sdp.encode())

    async def _first_init(self, channel: Channel) -> InitSegment | None:
        """Waits (bounded) for a camera that has not delivered a picture yet, e.g. just after start."""
        try:
            viewer = channel.open_viewer()
        except ViewerClosed:
            return None
        try:
            async with asyncio.timeout(self.config.describe_wait):
                while True:
                    item = await viewer.next()
                    if type(item) is InitSegment:
                        return item
        except (TimeoutError, ViewerClosed):
            return None
        finally:
            viewer.close("probe done")

    def _setup(self, client: _Client, request: RtspRequest, grant: Grant) -> RtspResponse:
        try:
            transport = serving.negotiate(request, tcp=True, udp=self._udp is not None)
        except MediaProtocolError:
            return serving.error(400)
        except LookupError:
            return serving.error(461)
        if len(client.sessions) >= self.config.max_sessions:
            return serving.error(503)
        session = _Session(secrets.token_hex(8), client, grant, transport)
        if isinstance(transport, UdpTransport):
            addresses = session.udp
            assert addresses is not None
            if transport.rtp == 0 or any(a in self._udp_peers for a in addresses):
                return serving.error(461)  # no port, or ports another session of this peer sends to
            if (":" in client.peer) != (":" in self.udp_host):
                return serving.error(461)  # an IPv6 client of an IPv4 UDP socket, or the reverse
            for address in addresses:
                self._udp_peers[address] = session
            reply = transport.reply(self.udp_ports)
        else:
            reply = transport.reply()
        client.sessions[session.ident] = session
        reply = f"{reply};ssrc={session.ssrc:08X}"
        return serving.set_up(reply, session.ident, self.config.session_timeout)

    def _play(self, session: _Session, request: RtspRequest) -> RtspResponse:
        """Opens the viewer now (so the cached GOP is what the client gets first); the pump starts
        once the reply is on the wire, so no RTP precedes it."""
        if session.viewer is None:
            try:
                session.viewer = self.engine.channel(session.camera_id).open_viewer(self.config.viewer_queue)
            except (UnknownCamera, ViewerClosed):
                return serving.error(404)
        track = _rebase(request.uri, f"/live/{session.camera_id}/{TRACK}")
        return serving.playing(session.ident, track, session.seq, _rtptime(session))

    def _start_pending(self, client: _Client) -> None:
        for session in client.sessions.values():
            if session.viewer is not None and session.task is None:
                self._begin(session)

    async def _pause(self, session: _Session) -> None:
        """Live video cannot be held: a paused session stops receiving; PLAY resumes at a keyframe."""
        await self._stop_pump(session, "paused")

    # -- sessions ------------------------------------------------------------------------------------

    def _begin(self, session: _Session) -> None:
        camera_id = session.camera_id
        packager, count = self._packagers.get(camera_id) or (RtpPackager(camera_id), 0)
        self._packagers[camera_id] = (packager, count + 1)
        if session.live is None:
            self.sessions_started += 1
            session.live = LiveSession(
                session_id=secrets.token_hex(8),
                kind="rtsp",
                user_id=session.grant.user_id,
                camera_id=camera_id,
                action="view_live",
                client=session.client.peer,
                started_at=time.time(),
            )
            # Apart from the session's task, so PAUSE or TEARDOWN cannot cancel it half-written.
            session.start_report = asyncio.create_task(
                self._report(self.access.session_started, session.live)
            )
        session.task = asyncio.create_task(self._run(session, packager), name=f"rtsp-restream-{camera_id}")

    async def _run(self, session: _Session, packager: RtpPackager) -> None:
        assert session.viewer is not None and session.live is not None
        done = await first_done(
            self._pump(session, session.viewer, packager), self._guard(session, session.viewer)
        )
        finished = next(iter(done))
        error = finished.exception()
        if error is not None:
            log.error("RTSP re-serve: session failed", exc_info=error)
        reason = "internal error" if error is not None else finished.result()
        log.info("RTSP re-serve: camera %s to %s ended: %s", session.camera_id, session.client.peer, reason)
        if session.live.reason == "":
            session.live.reason = reason
        # The client would otherwise wait for data that never comes: close its connection.
        session.client.writer.transport.abort()

    async def _pump(self, session: _Session, viewer: Viewer, packager: RtpPackager) -> str:
        writer = session.client.writer
        transport = writer.transport
        high = self.config.write_buffer
        channel, ssrc, ts_base = session.transport.rtp, session.ssrc, session.ts_base
        udp = session.udp
        sender = self._udp[0] if self._udp is not None and udp is not None else None
        params: CodecParams | None = None
        try:
            while True:
                item = await viewer.next()
                if type(item) is Fragment:
                    if params is None:
                        continue
                    if transport.is_closing():
                        return "client left"
                    frame, pts = packager.prepare(item, params)
                    rtp_ts = ts_base + pts
                    if sender is not None and udp is not None:
                        for packet in frame.for_udp(session.seq, rtp_ts, ssrc):
                            sender.sendto(packet, udp[0])
                        sent = len(frame.blob) - 4 * frame.packets
                    else:
                        data = frame.for_tcp(channel, session.seq, rtp_ts, ssrc)
                        writer.write(data)
                        sent = len(data)
                    session.seq = (session.seq + frame.packets) & 0xFFFF
                    session.bytes_sent += sent
                    session.packets += frame.packets
                    session.octets += len(frame.blob) - 16 * frame.packets  # less `$` framing, RTP headers
                    now = time.monotonic()
                    # The decode time advances with the wall clock; B-frames' presentation times do not.
                    session.clock = (ts_base + item.decode_time, now)
                    if now - session.reported >= self.config.report_every:
                        self._report_sender(session, now)
                    if transport.get_write_buffer_size() >= high:
                        await writer.drain()
                elif type(item) is InitSegment:
                    if params is not None and item.params.codec is not params.codec:
                        return "codec changed"  # the SDP the client read no longer applies
                    params = item.params
                # Gap: the next fragment is a keyframe later in time, the RTP timestamps show the hole.
                # StatusNote: RTSP has nothing to say it with; the stream resumes on the same timeline.
        except ViewerClosed as exc:
            return exc.reason
        except ConnectionError:
            return "client left"

    def _report_sender(self, session: _Session, now: float) -> None:
        """An RTCP sender report: the RTP time that corresponds to now, and what was sent so far."""
        if session.clock is None:
            return
        session.reported = now
        rtp_ts, at = session.clock
        report = rtcp.sender_report(
            session.ssrc,
            rtp_ts + round((now - at) * 90_000),
            session.packets,
            session.octets,
            f"xueliang-{session.camera_id}",
        )
        udp = session.udp
        if udp is not None:
            if self._udp is not None:
                self._udp[1].sendto(report, udp[1])
        else:
            channel = session.transport.rtcp
            session.client.send(b"$" + bytes([channel]) + len(report).to_bytes(2, "big") + report)
        self.reports_sent += 1

    async def _guard(self, session: _Session, viewer: Viewer) -> str:
        """Ends the session when the channel drops the viewer (even while a write is stuck on a dead
        client), when the policy no longer lets its user watch the camera, when the client says BYE,
        or (UDP: nothing else tells a client that left) when it has been silent `session_timeout`."""
        grant = session.grant
        config = self.config
        tick = min(config.recheck_every, max(0.2, config.session_timeout / 4))
        checked = time.monotonic()
        while True:
            try:
                async with asyncio.timeout(tick):
                    closed = asyncio.ensure_future(viewer.wait_closed())
                    bye = asyncio.ensure_future(session.bye.wait())
                    try:
                        await asyncio.wait((closed, bye), return_when=asyncio.FIRST_COMPLETED)
                    finally:
                        closed.cancel()
                        bye.cancel()
                    if session.bye.is_set():
                        return "client said BYE"
                    return closed.result()
            except TimeoutError:
                pass
            now = time.monotonic()
            if session.udp is not None and now - session.last_seen > config.session_timeout:
                return "session timed out"
            if now - checked >= config.recheck_every:
                checked = now
                if not await self.access.may_view(grant.user_id, grant.camera_id):
                    return "access revoked"

    async def _stop_pump(self, session: _Session, reason: str) -> None:
        task, session.task = session.task, None
        viewer, session.viewer = session.viewer, None
        if viewer is not None:
            viewer.close(reason)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            packager, count = self._packagers[session.camera_id]
            if count <= 1:
                del self._packagers[session.camera_id]
            else:
                self._packagers[session.camera_id] = (packager, count - 1)

    async def _end(self, session: _Session, reason: str) -> None:
        if session.ended:  # TEARDOWN and the connection closing may race
            return
        session.ended = True
        session.client.sessions.pop(session.ident, None)
        for address in session.udp or ():
            if self._udp_peers.get(address) is session:
                del self._udp_peers[address]
        await self._stop_pump(session, reason)
        live = session.live
        if session.start_report is not None:
            await session.start_report
        if live is not None and live.ended_at is None:
            live.ended_at, live.bytes_sent = time.time(), session.bytes_sent
            live.reason = live.reason or reason
            self.bytes_sent += session.bytes_sent
            await self._report(self.access.session_ended, live)

    async def _report(self, hook: ReportHook, live: LiveSession) -> None:
        try:
            await hook(live)
        except Exception:
            log.exception("RTSP re-serve: session report failed for %s", live.session_id)
