"""The RTSP pulling client: DESCRIBE/SETUP/PLAY over one TCP connection, RTP interleaved on it (the
default: passes NAT, loses nothing) or over UDP; keepalive before the session times out; a read
timeout catches silent drops. Access units come out of an async iterator.

    source = RtspSource("rtsp://user:pw@cam/stream")
    async with source.open() as session:
        async for au in session:
            ...

The source keeps one timeline, so a new session after a reconnect continues its timestamps.
A camera that answers 461 to TCP interleaving is pulled over UDP instead; UDP packets pass a small
reorder buffer (media/rtp/reorder.py) before the assembler. 3xx answers are followed (a few hops;
credentials only go to the same host). `rtsps://` runs the same conversation over TLS (interleaved
only), verifying the camera's certificate (system CAs, a given CA file, or a pinned certificate).
Everything a session can fail with is a `MediaError`; a failed session has released its sockets.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import logging
import secrets
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Self
from urllib.parse import unquote, urljoin, urlsplit

from xueliang.media.audio.frames import AudioFrame
from xueliang.media.audio.rtp import AudioAssembler, audio_timeline
from xueliang.media.audio.sdp import AudioTrack, audio_track
from xueliang.media.errors import MediaAuthError, MediaConnectionError, MediaError, MediaProtocolError
from xueliang.media.frames import AccessUnit, Codec, CodecParams
from xueliang.media.rtp import rtcp
from xueliang.media.rtp.assembler import AssemblerStats, FrameAssembler
from xueliang.media.rtp.reorder import ReorderBuffer
from xueliang.media.rtp.timeline import Timeline
from xueliang.media.rtsp.auth import ClientAuth, parse_auth_header
from xueliang.media.rtsp.fields import parse_pair, parse_session, parse_transport
from xueliang.media.rtsp.message import Headers, RtspParser, RtspRequest, RtspResponse
from xueliang.media.rtsp.sdp import SessionDescription, VideoTrack, parse_sdp, resolve_control, video_track

log = logging.getLogger(__name__)

Transport = Literal["tcp", "udp"]
_HIGH_WATER = 64  # frames queued for the consumer before TCP reading pauses
_LOW_WATER = 8
_UDP_OVERFLOW = 256  # frames queued on UDP (cannot pause): drop them and resync at a keyframe
_UDP_RCVBUF = 2 * 1024 * 1024
_MIN_TICK = 0.05  # seconds between two looks at the read timeout and keepalive, at least
_MAX_REDIRECTS = 3
_REDIRECTS = (301, 302, 303, 305, 307, 308)
_DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322}


class RtspSource:
    """A camera reachable over RTSP. Credentials come from the URL or the arguments."""

    def __init__(
        self,
        url: str,
        *,
        transport: Transport = "tcp",
        username: str | None = None,
        password: str | None = None,
        connect_timeout: float = 5.0,
        request_timeout: float = 5.0,
        read_timeout: float = 5.0,
        user_agent: str = "Xueliang",
        audio: bool = False,
        ca_file: str | None = None,
        pin_sha256: str | None = None,
        reorder_delay: float = 0.05,
    ) -> None:
        """`audio`: also SETUP the camera's audio track (TCP only) and hand its frames to the session's
        `audio_sink`; the camera's `audio_enabled` decides (docs/media-audio.md).

        For rtsps://: `ca_file` trusts that CA (PEM) instead of the system's; `pin_sha256` (hex SHA-256
        of the camera's DER certificate) accepts exactly that certificate, whoever signed it, for
        cameras with self-signed certificates. `reorder_delay`: how long UDP ingest waits for a
        packet that is missing before counting it lost."""
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _DEFAULT_PORTS or not parts.hostname:
            raise MediaProtocolError(f"not an rtsp:// or rtsps:// URL: {url[:80]!r}")
        try:
            self.port = parts.port or _DEFAULT_PORTS[scheme]
        except ValueError as exc:
            raise MediaProtocolError(f"bad port in {url[:80]!r}") from exc
        self.host = parts.hostname
        self.tls = scheme == "rtsps"
        netloc = parts.netloc.rpartition("@")[2]
        self.url = parts._replace(netloc=netloc).geturl()  # never carries credentials
        user = username if username is not None else unquote(parts.username or "")
        secret = password if password is not None else unquote(parts.password or "")
        self.credentials = (user, secret) if user else None
        self.transport: Transport = "tcp" if self.tls else transport  # TLS protects the connection only
        self.ca_file = ca_file
        self.pin_sha256 = pin_sha256.replace(":", "").lower() if pin_sha256 else None
        self.reorder_delay = reorder_delay
        self.connect_timeout = connect_timeout
        self.request_timeout = request_timeout
        self.read_timeout = read_timeout
        self.user_agent = user_agent
        self.timeline = Timeline()
        self.audio = audio
        self.audio_timeline: Timeline | None = None  # made with the first audio track, kept like `timeline`

    def open(self) -> RtspSession:
        """A new session (connects on `async with` or the first `__anext__`)."""
        return RtspSession(self)

    def tls_context(self) -> ssl.SSLContext:
        """Certificates verified against the system's CAs or `ca_file`; with a pin, the chain and
        name are not checked but the certificate must be exactly the pinned one (checked after the
        handshake)."""
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.pin_sha256:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


@dataclass(frozen=True, slots=True)
class _Target:
    """Where a session connects: the first URL, or where a redirect sent it."""

    url: str
    host: str
    port: int
    tls: bool
    credentials: tuple[str, str] | None


def _redirected(current: _Target, location: str) -> _Target:
    """The target a Location header names (relative to the current URL). Credentials follow only to
    the same host and port: a camera must not be able to send our password elsewhere."""
    parts = urlsplit(urljoin(current.url, location.strip()))
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise MediaProtocolError(f"redirect to something that is not RTSP: {location[:80]!r}")
    if current.tls and scheme != "rtsps":
        raise MediaProtocolError("redirect from rtsps:// to plain rtsp:// refused")
    try:
        port = parts.port or _DEFAULT_PORTS[scheme]
    except ValueError as exc:
        raise MediaProtocolError(f"bad port in redirect {location[:80]!r}") from exc
    same = parts.hostname == current.host and port == current.port
    user = unquote(parts.username or "")
    credentials = (user, unquote(parts.password or "")) if user else (current.credentials if same else None)
    url = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    return _Target(url, parts.hostname, port, scheme == "rtsps", credentials)


class _Control(asyncio.Protocol):
    """The RTSP TCP connection: responses, server requests and interleaved RTP."""

    def __init__(self, session: RtspSession) -> None:
        self.session = session
        self.parser = RtspParser()
        self.retired = False  # left for a redirect's target: its last words mean nothing

    def data_received(self, data: bytes) -> None:
        if self.retired:
            return
        session = self.session
        session.last_rx = session.loop.time()
        session.bytes_received += len(data)
        try:
            self.parser.scan(data, session.on_interleaved, session.on_message)
        except MediaError as exc:
            session.fail(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.retired:
            return
        detail = f": {exc}" if exc else ""
        self.session.fail(MediaConnectionError(f"connection closed by {self.session.target.host}{detail}"))


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, session: RtspSession, rtp: bool) -> None:
        self.session = session
        self.rtp = rtp

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        session = self.session
        if addr[0] != session.server_ip:
            return
        session.last_rx = session.loop.time()
        session.bytes_received += len(data)
        if not self.rtp:
            session.on_rtcp(data)
        else:
            if session.media_ssrc is None and len(data) >= 12:
                session.media_ssrc = int.from_bytes(data[8:12], "big")
            reorder = session.reorder
            if reorder is not None:
                reorder.push(data)
            else:
                session.on_rtp(data)

    def error_received(self, exc: Exception) -> None:
        log.debug("UDP error from %s: %s", self.session.source.host, exc)


class RtspSession:
    """One RTSP session: an async iterator of access units, closed with `close()` or `async with`."""

    def __init__(self, source: RtspSource) -> None:
        self.source = source
        self.loop = asyncio.get_running_loop()
        self.transport: Transport = source.transport  # "udp" after a fallback
        self.track: VideoTrack | None = None
        self.rtp_channel = -1
        self.server_ip = ""
        self.last_rx = 0.0
        self.bytes_received = 0
        self.reorder: ReorderBuffer | None = None  # UDP only
        self.media_ssrc: int | None = None  # UDP: the camera's SSRC, from its first RTP packet
        self._rtcp_peer: tuple[str, int] | None = None  # UDP: the camera's RTCP port
        self.target = _Target(source.url, source.host, source.port, source.tls, source.credentials)
        self.redirects: list[str] = []  # the URLs redirects led to, in order
        self._auth = ClientAuth(*source.credentials) if source.credentials else None
        self._ssrc = secrets.randbits(32)  # ours, in receiver reports
        self._control: asyncio.Transport | None = None
        self._protocol: _Control | None = None
        self._udp: list[asyncio.DatagramTransport] = []
        self._assembler: FrameAssembler | None = None
        self._frames: collections.deque[AccessUnit] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._pending: dict[int, asyncio.Future[RtspResponse]] = {}
        self._cseq = 0
        self._session_id: str | None = None
        self._session_timeout = 60.0
        self._public = ""
        self._keepalive_method = "OPTIONS"
        self._keepalive_cseq: int | None = None
        self._last_keepalive = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._paused = False
        self._started = False
        self._closed = False
        self._error: MediaError | None = None
        self._sink: Callable[[AccessUnit], None] | None = None  # set while pump() runs
        self._sink_error: Exception | None = None
        # Audio, when the source asks for it: never allowed to disturb the video (its errors and a
        # refused SETUP only cost the audio).
        self.audio_track: AudioTrack | None = None
        self.audio_channel = -1
        self.audio_sink: Callable[[AudioFrame], None] | None = None
        self.audio_frames: collections.deque[AudioFrame] = collections.deque(maxlen=256)  # without a sink
        self._audio: AudioAssembler | None = None

    # -- public -----------------------------------------------------------------------------------

    @property
    def codec(self) -> Codec | None:
        return self.track.codec if self.track else None

    @property
    def params(self) -> CodecParams | None:
        """Current parameter sets (SDP first, then in-band); None until known."""
        if self._assembler is not None and self._assembler.params is not None:
            return self._assembler.params
        return self.track.params if self.track else None

    @property
    def stats(self) -> AssemblerStats:
        return self._assembler.stats if self._assembler else AssemblerStats()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __aiter__(self) -> Self:
        return self

    async def pump(self, sink: Callable[[AccessUnit], None]) -> None:
        """Hand every access unit to `sink` from the callback that read its last packet, instead of
        queueing it for `__anext__`: no task switch per frame. Returns when the session is closed;
        raises what ended it otherwise (a MediaError, or whatever `sink` raised)."""
        if not self._started:
            await self.start()
        frames = self._frames
        while frames:  # assembled before pumping began
            sink(frames.popleft())
        self._sink = sink
        if self._paused and self._control is not None:
            self._paused = False
            self._control.resume_reading()
        try:
            while self._error is None and not self._closed:
                self._waiter = self.loop.create_future()
                await self._waiter
        finally:
            self._sink = None
        if self._sink_error is not None:
            raise self._sink_error
        if self._error is not None:
            raise self._error

    async def aclose(self) -> None:
        await self.close()

    async def __anext__(self) -> AccessUnit:
        if not self._started:
            await self.start()
        frames = self._frames
        while not frames:
            if self._error is not None:
                raise self._error
            if self._closed:
                raise StopAsyncIteration
            self._waiter = self.loop.create_future()
            await self._waiter
        au = frames.popleft()
        if self._paused and len(frames) <= _LOW_WATER and self._control is not None:
            self._paused = False
            self._control.resume_reading()
        return au

    async def start(self) -> None:
        """Connect, DESCRIBE, SETUP the video track, PLAY."""
        if self._started:
            return
        self._started = True
        try:
            await self._handshake()
        except BaseException as exc:
            await self.close()
            if isinstance(exc, OSError):
                raise MediaConnectionError(f"{self.source.host}: {exc}") from exc
            raise
        self.last_rx = self._last_keepalive = self.loop.time()
        self._timer = self.loop.call_later(min(self.source.read_timeout, 1.0), self._tick)

    async def close(self) -> None:
        """TEARDOWN (best effort, not awaited) and release sockets; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
        control = self._control
        if control is not None and not control.is_closing():
            if self._session_id and self._error is None:
                self._send("TEARDOWN", self.target.url)
            control.close()
        for transport in self._udp:
            transport.close()
        if self.reorder is not None:
            self.reorder.close()
        for fut in self._pending.values():
            fut.cancel()
        self._pending.clear()
        self._wake()

    # -- handshake ---------------------------------------------------------------------------------

    async def _connect(self) -> asyncio.Transport:
        """The RTSP connection to the current target (TLS for rtsps://, the pin checked)."""
        target, src = self.target, self.source
        context = src.tls_context() if target.tls else None
        try:
            async with asyncio.timeout(src.connect_timeout):
                control, protocol = await self.loop.create_connection(
                    lambda: _Control(self),
                    target.host,
                    target.port,
                    ssl=context,
                    server_hostname=target.host if context is not None else None,
                )
        except TimeoutError as exc:
            raise MediaConnectionError(f"{target.host}:{target.port}: connect timed out") from exc
        except ssl.SSLError as exc:
            reason = getattr(exc, "verify_message", None) or exc.reason or exc
            raise MediaConnectionError(f"{target.host}:{target.port}: TLS: {reason}") from exc
        except OSError as exc:
            raise MediaConnectionError(f"{target.host}:{target.port}: {exc.strerror or exc}") from exc
        self._control, self._protocol = control, protocol
        if context is not None and src.pin_sha256:
            tls = control.get_extra_info("ssl_object")
            der = tls.getpeercert(binary_form=True) if tls is not None else None
            if der is None or hashlib.sha256(der).hexdigest() != src.pin_sha256:
                raise MediaConnectionError(
                    f"{target.host}:{target.port}: TLS certificate is not the pinned one"
                )
        return control

    def _follow(self, response: RtspResponse) -> None:
        """Leave this connection for the one a 3xx answer names."""
        location = response.headers.get("Location")
        if not location:
            raise MediaProtocolError(f"{response.status} redirect without a Location header")
        if len(self.redirects) >= _MAX_REDIRECTS:
            raise MediaProtocolError(f"more than {_MAX_REDIRECTS} redirects")
        target = _redirected(self.target, location)
        log.info("%s redirects to %s:%s", self.target.host, target.host, target.port)
        if self._protocol is not None:
            self._protocol.retired = True
        if self._control is not None:
            self._control.close()
        for future in self._pending.values():
            future.cancel()
        self._pending.clear()
        self._control = self._protocol = None
        self.target = target
        self.redirects.append(target.url)
        self._auth = ClientAuth(*target.credentials) if target.credentials else None

    async def _handshake(self) -> None:
        src = self.source
        while True:
            control = await self._connect()
            self.server_ip = control.get_extra_info("peername")[0]
            url = self.target.url
            options = await self._request("OPTIONS", url)
            if options.status in _REDIRECTS:
                self._follow(options)
                continue
            if options.status < 300:
                self._public = (options.headers.get("Public") or "").upper()
            accept = Headers([("Accept", "application/sdp")])
            describe = await self._request("DESCRIBE", url, accept)
            if describe.status in _REDIRECTS:
                self._follow(describe)
                continue
            break
        _ok("DESCRIBE", describe)
        if "GET_PARAMETER" in self._public:
            self._keepalive_method = "GET_PARAMETER"
        base = describe.headers.get("Content-Base") or describe.headers.get("Content-Location") or url
        session_description = parse_sdp(describe.body)
        track = video_track(session_description, base)
        self.track = track
        self._assembler = FrameAssembler(
            track.codec,
            track.payload_type,
            self._emit,
            params=track.params,
            timeline=src.timeline,
            donl=track.donl,
        )
        local_ip = control.get_extra_info("sockname")[0]
        if self.transport == "tcp":
            spec = Headers([("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")])
            setup = await self._request("SETUP", track.control_url, spec)
            if setup.status == 461:  # Unsupported Transport: the camera only streams over UDP
                log.info("%s refuses TCP interleaving; falling back to UDP", self.target.host)
                self.transport = "udp"
        if self.transport == "udp":
            self.reorder = ReorderBuffer(self.on_rtp, delay=src.reorder_delay, loop=self.loop)
            port = await self._open_udp(local_ip)
            spec = Headers([("Transport", f"RTP/AVP;unicast;client_port={port}-{port + 1}")])
            setup = await self._request("SETUP", track.control_url, spec)
        _ok("SETUP", setup)
        session_header = setup.headers.get("Session")
        if session_header is None:
            raise MediaProtocolError("SETUP answer has no Session header")
        self._session_id, timeout = parse_session(session_header)
        self._session_timeout = timeout or 60.0
        proto, params = parse_transport(setup.headers.get("Transport") or "")
        if self.transport == "tcp":
            if not proto.endswith("/TCP") or "interleaved" not in params:
                raise MediaProtocolError(f"server refused TCP interleaving: {proto}")
            self.rtp_channel = parse_pair(params["interleaved"], "interleaved channels")[0]
        elif proto.endswith("/TCP"):
            raise MediaProtocolError("server refused UDP transport")
        elif "server_port" in params:
            with contextlib.suppress(MediaProtocolError):
                self._rtcp_peer = (self.server_ip, parse_pair(params["server_port"], "server ports")[1])
        if src.audio and self.transport == "tcp":
            await self._setup_audio(session_description, base)
        base_control = resolve_control(base, session_description.attribute("control"))
        _ok("PLAY", await self._request("PLAY", base_control, Headers([("Range", "npt=0.000-")])))
        self._receiver_report()

    async def _setup_audio(self, description: SessionDescription, base: str) -> None:
        """SETUP the audio track on the next interleaved channels; a camera without a usable one, or
        that refuses it, streams video alone."""
        track = audio_track(description, base)
        if track is None:
            log.info("%s: no G.711 or AAC audio track to carry", self.source.host)
            return
        channel = self.rtp_channel + 2
        spec = Headers([("Transport", f"RTP/AVP/TCP;unicast;interleaved={channel}-{channel + 1}")])
        setup = await self._request("SETUP", track.control_url, spec)
        try:
            proto, params = parse_transport(setup.headers.get("Transport") or "")
            if setup.status >= 300 or not proto.endswith("/TCP") or "interleaved" not in params:
                raise MediaProtocolError(f"status {setup.status}, transport {proto or 'none'}")
            self.audio_channel = parse_pair(params["interleaved"], "interleaved channels")[0]
        except MediaProtocolError as exc:
            log.warning("%s: audio SETUP refused (%s); video only", self.source.host, exc)
            return
        rate = track.config.sample_rate
        if self.source.audio_timeline is None:
            self.source.audio_timeline = audio_timeline(rate)
        self.audio_track = track
        self._audio = AudioAssembler(track, self._emit_audio, timeline=self.source.audio_timeline)

    def _emit_audio(self, frame: AudioFrame) -> None:
        sink = self.audio_sink
        if sink is None:
            self.audio_frames.append(frame)
            return
        try:
            sink(frame)
        except Exception:
            log.exception("%s: audio sink failed; audio dropped for this session", self.source.host)
            self._audio = None

    async def _open_udp(self, local_ip: str) -> int:
        """Bind an even RTP port and the next one for RTCP."""
        for _ in range(32):
            rtp, _ = await self.loop.create_datagram_endpoint(
                lambda: _Udp(self, True), local_addr=(local_ip, 0)
            )
            port = rtp.get_extra_info("sockname")[1]
            if port % 2 == 0 and port < 65535:
                try:
                    rtcp, _ = await self.loop.create_datagram_endpoint(
                        lambda: _Udp(self, False), local_addr=(local_ip, port + 1)
                    )
                except OSError:
                    pass
                else:
                    sock = rtp.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _UDP_RCVBUF)
                    self._udp = [rtp, rtcp]
                    return int(port)
            rtp.close()
        raise MediaConnectionError("no free UDP port pair for RTP/RTCP")

    # -- requests ----------------------------------------------------------------------------------

    def _send(self, method: str, url: str, extra: Headers | None = None) -> tuple[int, RtspRequest]:
        self._cseq += 1
        headers = Headers([("CSeq", str(self._cseq)), ("User-Agent", self.source.user_agent)])
        if self._session_id:
            headers.add("Session", self._session_id)
        if self._auth is not None and self._auth.ready:
            authorization = self._auth.header(method, url)
            if authorization:
                headers.add("Authorization", authorization)
        for name, value in extra or ():
            headers.add(name, value)
        request = RtspRequest(method, url, headers)
        if self._control is not None and not self._control.is_closing():
            self._control.write(request.to_bytes())
        return self._cseq, request

    async def _exchange(self, method: str, url: str, extra: Headers | None) -> RtspResponse:
        if self._error is not None:
            raise self._error
        cseq, _ = self._send(method, url, extra)
        future: asyncio.Future[RtspResponse] = self.loop.create_future()
        self._pending[cseq] = future
        try:
            async with asyncio.timeout(self.source.request_timeout):
                return await future
        except TimeoutError as exc:
            timeout = self.source.request_timeout
            raise MediaConnectionError(f"no answer to {method} within {timeout:g} s") from exc
        finally:
            self._pending.pop(cseq, None)

    async def _request(self, method: str, url: str, extra: Headers | None = None) -> RtspResponse:
        """Send a request, answering an authentication challenge when one comes back."""
        answered = False
        for _ in range(3):
            response = await self._exchange(method, url, extra)
            if response.status != 401:
                return response
            if self._auth is None:
                raise MediaAuthError(f"{method}: 401 Unauthorized and no credentials are configured")
            challenges = response.headers.get_all("WWW-Authenticate")
            stale = any(
                c.params.get("stale", "").lower() == "true" for v in challenges for c in parse_auth_header(v)
            )
            if answered and not stale:
                raise MediaAuthError(f"{method}: 401 Unauthorized: wrong username or password")
            if not self._auth.accept(challenges):
                raise MediaAuthError(f"{method}: 401 Unauthorized with no supported authentication scheme")
            answered = True
        raise MediaAuthError(f"{method}: 401 Unauthorized after repeated stale nonces")

    # -- events from the transports -----------------------------------------------------------------

    def on_rtp(self, data: bytes) -> None:
        """One RTP packet from UDP."""
        assembler = self._assembler
        if assembler is None or self._error is not None:
            return
        try:
            assembler.push_rtp(data)
        except MediaError as exc:
            self.fail(exc)

    def on_interleaved(self, channel: int, data: bytes, spans: list[int]) -> None:
        """Interleaved frames `data[spans[0]:spans[1]]`, ... on one channel of the RTSP connection (a
        MediaError ends the session, through data_received)."""
        if channel == self.rtp_channel:
            assembler = self._assembler
            if assembler is not None and self._error is None:
                assembler.push_packets(data, spans)
        elif channel == self.audio_channel and self._audio is not None:
            self._audio.push_packets(data, spans)

    def on_message(self, message: RtspRequest | RtspResponse) -> None:
        if isinstance(message, RtspResponse):
            self.on_response(message)
        else:
            self.on_request(message)

    def on_response(self, response: RtspResponse) -> None:
        cseq = response.cseq
        future = None
        if cseq is not None and cseq.strip().isdigit():
            future = self._pending.get(int(cseq))
        elif self._pending:
            future = next(iter(self._pending.values()))
        if future is not None and not future.done():
            future.set_result(response)

    def on_request(self, request: RtspRequest) -> None:
        """Servers rarely ask us anything; answer keepalive-style requests, refuse the rest."""
        known = request.method in ("OPTIONS", "GET_PARAMETER")
        reply = RtspResponse(200 if known else 501, "OK" if known else "Not Implemented")
        if request.cseq is not None:
            reply.headers.add("CSeq", request.cseq)
        if self._control is not None and not self._control.is_closing():
            self._control.write(reply.to_bytes())

    def fail(self, error: MediaError) -> None:
        """End the session with `error` (the first one wins); the iterator raises it."""
        if self._error is not None or self._closed:
            return
        self._error = error
        if self._timer is not None:
            self._timer.cancel()
        if self._control is not None:
            self._control.abort()
        for transport in self._udp:
            transport.close()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(error)
        self._wake()

    def _emit(self, au: AccessUnit) -> None:
        if self._error is not None:  # failed by an earlier frame of the same read
            return
        sink = self._sink
        if sink is not None:
            try:
                sink(au)
            except Exception as exc:  # the consumer's failure ends the session; pump() re-raises it
                self._sink_error = exc
                self.fail(MediaError(f"frame not taken: {type(exc).__name__}: {exc}"))
            return
        frames = self._frames
        frames.append(au)
        self._wake()
        if len(frames) >= _HIGH_WATER:
            if self.transport == "tcp":
                if not self._paused and self._control is not None:
                    self._paused = True
                    self._control.pause_reading()
            elif len(frames) > _UDP_OVERFLOW and self._assembler is not None:
                frames.clear()
                self._assembler.resync()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- timers ------------------------------------------------------------------------------------

    def _tick(self) -> None:
        """Detect silence, send the keepalive when it is due. Wakes only when one of them can be due:
        `read_timeout` after the last data or a keepalive period after the last keepalive (not on a
        fixed beat: with data flowing, once per `read_timeout` per camera)."""
        if self._closed or self._error is not None:
            return
        now = self.loop.time()
        timeout = self.source.read_timeout
        if not self._paused and now - self.last_rx > timeout:
            self.fail(MediaConnectionError(f"no data from {self.source.host} for {timeout:g} s"))
            return
        every = max(1.0, self._session_timeout / 2)
        if now - self._last_keepalive >= every:
            self._last_keepalive = now
            self._keepalive()
            self._receiver_report()
        silent_at = now + timeout if self._paused else self.last_rx + timeout
        due = min(silent_at, self._last_keepalive + every)
        self._timer = self.loop.call_at(max(due, now + _MIN_TICK), self._tick)

    def _receiver_report(self) -> None:
        """UDP: an RTCP receiver report to the camera's RTCP port, with each keepalive (and once at
        PLAY: it opens NAT and firewall state): cameras that watch RTCP see us alive."""
        if self._rtcp_peer is None or len(self._udp) < 2:
            return
        report = rtcp.receiver_report(self._ssrc, self.media_ssrc, self.stats.lost_packets)
        self._udp[1].sendto(report, self._rtcp_peer)

    def on_rtcp(self, data: bytes) -> None:
        """UDP RTCP from the camera: a BYE for the stream we pull ends the session at once (the engine
        reconnects), instead of waiting for the read timeout."""
        ssrc = self.media_ssrc
        for packet in rtcp.parse_rtcp(data):
            if packet.kind == rtcp.BYE and ssrc is not None and ssrc in packet.sources:
                self.fail(MediaConnectionError(f"{self.target.host} ended the stream (RTCP BYE)"))
                return

    def _keepalive(self) -> None:
        if self._keepalive_cseq is not None:
            stale = self._pending.pop(self._keepalive_cseq, None)
            if stale is not None:
                stale.cancel()
        method = self._keepalive_method
        cseq, _ = self._send(method, self.target.url)
        future: asyncio.Future[RtspResponse] = self.loop.create_future()
        self._pending[cseq] = future
        self._keepalive_cseq = cseq

        def done(fut: asyncio.Future[RtspResponse]) -> None:
            self._pending.pop(cseq, None)
            if fut.cancelled() or fut.exception() is not None:
                return
            response = fut.result()
            if response.status == 401 and self._auth is not None:
                with contextlib.suppress(MediaProtocolError):
                    self._auth.accept(response.headers.get_all("WWW-Authenticate"))
            elif response.status >= 300 and method == "GET_PARAMETER":
                self._keepalive_method = "OPTIONS"

        future.add_done_callback(done)


def _ok(method: str, response: RtspResponse) -> RtspResponse:
    if not 200 <= response.status < 300:
        raise MediaProtocolError(f"{method} answered {response.status} {response.reason}".strip())
    return response
