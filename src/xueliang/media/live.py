"""Live viewing routes: fMP4 over WebSocket for Media Source Extensions, and LL-HLS for the rest.

Every request carries a stream token (`?token=`) bound to user, camera and action, checked on every
HTTP request and at WebSocket connect; rights are re-asked through `recheck(claims)` at connect and at
least every `recheck_every` seconds (30 s), so revoked rights end a stream within that time.

WebSocket protocol, `/api/v1/live/{camera_id}/ws?token=T`
  Text messages are JSON objects with a "type"; binary messages are MP4 bytes, appended in order.
  server -> client
    {"type":"init","codec":"avc1.640028","mime":"video/mp4; codecs=\\"avc1.640028\\"","width":1280,
     "height":720,"epoch":0}       the next binary message is an init segment: create the SourceBuffer
                                   with `mime` (or `changeType(mime)` if the codec changed), append it
    binary                         one moof+mdat fragment per frame, starting at a keyframe
    {"type":"gap","dropped":n}     this viewer fell behind and lost n frames; the next fragment is a
                                   keyframe later in time: seek to the newest buffered range
    {"type":"status","online":false,"reason":"..."}   camera not online at connect, lost, or back
                                   ("online":true); the timeline continues without a jump
    {"type":"token_expiring","expires":unix}          send a fresh token before `expires`
    {"type":"token_ok","expires":unix}                a refreshed token was accepted
  client -> server
    {"type":"token","token":"..."}  a fresh token for the same user, camera and action (ask the API for
                                   one when told "token_expiring"); anything else is ignored
  Close codes: 4401 token invalid or expired, 4403 not allowed (other camera/action, rights revoked),
  4404 unknown camera, 4408 viewer too slow, 1001 camera removed or server stopping, 1011 server bug.
  Run uvicorn with `ws_per_message_deflate=False`: compressing video only burns CPU.
  Playback: the first fragments are the cached GOP, so the picture appears at once; after the first
  append the player should seek to `buffered.end - 0.1` to sit at the live edge.

HLS, `/api/v1/live/{camera_id}/hls/index.m3u8?token=T` (LL-HLS with blocking reload `_HLS_msn`,
`_HLS_part`), `init{epoch}.mp4`, `init.mp4` (current), `seg{msn}.m4s`, `part{msn}.{k}.m4s`: the
playlist repeats the caller's token on every URI. A player refreshes its token by rewriting `token=` in
the URLs it requests (hls.js `xhrSetup`) or by reloading the playlist URL with a new token.

Each live session (a WebSocket connection; for HLS a user watching a camera from one address until
`hls_session_idle` seconds without a request) is reported at start and end, with bytes sent."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import APIRouter, Query, Request, Response, WebSocket
from fastapi.responses import JSONResponse, PlainTextResponse
from starlette.websockets import WebSocketState

from xueliang.media.channel import Fragment, Gap, InitSegment, StatusNote, Viewer, ViewerClosed
from xueliang.media.engine import CameraStatus, MediaEngine, UnknownCamera
from xueliang.media.hls import HlsPackager, render_playlist
from xueliang.media.tokens import StreamClaims, TokenError, TokenScopeError
from xueliang.media.ws_direct import DirectWriter

log = logging.getLogger(__name__)

TokenVerifier = Callable[[str, int], StreamClaims]
"""(token, camera_id) -> claims for the live action; raises TokenError (401) or TokenScopeError (403)."""
Recheck = Callable[[StreamClaims], Awaitable[bool]]
"""Asks the access policy again whether the token's user may still watch its camera."""

CLOSE_TOKEN, CLOSE_FORBIDDEN, CLOSE_UNKNOWN, CLOSE_SLOW, CLOSE_GOING_AWAY = 4401, 4403, 4404, 4408, 1001

fragment_sent_probe: Callable[[Fragment], None] | None = None
"""Off (None) by default. bench/media.py sets it to measure the latency the platform adds: from the
arrival of a frame's last RTP packet (`Fragment.arrived_ns`) to its fragment handed to the WebSocket."""


@dataclass(slots=True)
class LiveSession:
    """One viewing session as the audit log records it."""

    session_id: str
    kind: str  # "ws" or "hls"
    user_id: int
    camera_id: int
    action: str
    client: str
    started_at: float  # Unix time
    ended_at: float | None = None
    bytes_sent: int = 0
    reason: str = ""
    last_seen: float = 0.0  # monotonic; HLS idle detection


SessionHook = Callable[[LiveSession], Awaitable[None]]


async def _allow_all(claims: StreamClaims) -> bool:
    return True


async def _ignore(session: LiveSession) -> None:
    return None


@dataclass(frozen=True, slots=True)
class LiveConfig:
    recheck_every: float = 30.0
    remind_before: float = 60.0  # "token_expiring" this long before expiry
    hls_block_timeout: float | None = None  # None: three target durations
    hls_session_idle: float = 30.0
    viewer_queue: int | None = None  # None: the channel's default
    prefix: str = "/api/v1/live"


class _Denied(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class LiveGateway:
    """Holds the live routes' state (HLS sessions, recheck cache); mount `router`, `await aclose()` at
    shutdown so open HLS sessions are reported as ended."""

    def __init__(
        self,
        engine: MediaEngine,
        verify_token: TokenVerifier,
        *,
        recheck: Recheck = _allow_all,
        recheck_periodic: Recheck | None = None,
        on_session_start: SessionHook = _ignore,
        on_session_end: SessionHook = _ignore,
        config: LiveConfig | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        """`recheck_periodic` (default: `recheck`) answers the re-checks of open WebSocket streams,
        which come at the same instants for all streams of one user: it may batch them
        (media/access_batch.py)."""
        self.engine = engine
        self._verify = verify_token
        self._recheck = recheck
        self._recheck_periodic = recheck_periodic or recheck
        self._on_start = on_session_start
        self._on_end = on_session_end
        self.config = config or LiveConfig()
        self._wall = wall
        self._rechecked: dict[tuple[int, int, str], float] = {}
        self._hls_sessions: dict[tuple[int, int, str], LiveSession] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self.router = APIRouter(prefix=self.config.prefix, tags=["live"])
        self._routes()

    # -- access --------------------------------------------------------------------------------------

    async def _authorize(self, token: str, camera_id: int) -> StreamClaims:
        try:
            claims = self._verify(token, camera_id)
        except TokenScopeError as exc:
            raise _Denied(403, CLOSE_FORBIDDEN, exc.message) from exc
        except TokenError as exc:
            raise _Denied(401, CLOSE_TOKEN, exc.message) from exc
        if not self.engine.has_camera(camera_id):
            raise _Denied(404, CLOSE_UNKNOWN, "no such live camera")
        return claims

    async def _recheck_cached(self, claims: StreamClaims) -> None:
        """HLS asks the policy at most every `recheck_every` seconds per token."""
        key = (claims.user_id, claims.camera_id, claims.nonce)
        now = time.monotonic()
        checked = self._rechecked.get(key)
        if checked is not None and now - checked < self.config.recheck_every:
            return
        if not await self._recheck(claims):
            raise _Denied(403, CLOSE_FORBIDDEN, "access revoked")
        if len(self._rechecked) > 10_000:
            horizon = now - self.config.recheck_every
            self._rechecked = {k: v for k, v in self._rechecked.items() if v > horizon}
        self._rechecked[key] = now

    async def _report(self, hook: SessionHook, session: LiveSession) -> None:
        try:
            await hook(session)
        except Exception:
            log.exception("live session hook failed for %s", session.session_id)

    def _new_session(self, kind: str, claims: StreamClaims, client: str) -> LiveSession:
        return LiveSession(
            session_id=secrets.token_hex(8),
            kind=kind,
            user_id=claims.user_id,
            camera_id=claims.camera_id,
            action=claims.action,
            client=client,
            started_at=self._wall(),
            last_seen=time.monotonic(),
        )

    # -- routes --------------------------------------------------------------------------------------

    def _routes(self) -> None:
        router = self.router
        router.add_api_websocket_route("/{camera_id:int}/ws", self.websocket)
        hls = "/{camera_id:int}/hls"
        router.add_api_route(f"{hls}/index.m3u8", self.hls_playlist, methods=["GET"])
        router.add_api_route(f"{hls}/init.mp4", self.hls_init_current, methods=["GET"])
        router.add_api_route(f"{hls}/init{{epoch:int}}.mp4", self.hls_init, methods=["GET"])
        router.add_api_route(f"{hls}/seg{{msn:int}}.m4s", self.hls_segment, methods=["GET"])
        router.add_api_route(f"{hls}/part{{msn:int}}.{{part:int}}.m4s", self.hls_part, methods=["GET"])

    # -- WebSocket -----------------------------------------------------------------------------------

    async def websocket(self, websocket: WebSocket, camera_id: int, token: str = Query("")) -> None:
        """Stream one camera's fragments to one browser; see the module docstring for the protocol."""
        await websocket.accept()
        try:
            claims = await self._authorize(token, camera_id)
            if not await self._recheck(claims):
                raise _Denied(403, CLOSE_FORBIDDEN, "access revoked")
            viewer = self.engine.channel(camera_id).open_viewer(self.config.viewer_queue)
            health = self.engine.health(camera_id)
        except _Denied as exc:
            await websocket.close(exc.code, exc.message)
            return
        except (UnknownCamera, ViewerClosed):
            await websocket.close(CLOSE_UNKNOWN, "no such live camera")
            return
        client = websocket.client.host if websocket.client else ""
        session = self._new_session("ws", claims, client)
        stream = _WsStream(self, websocket, viewer, claims)
        await self._report(self._on_start, session)
        if health.status is not CameraStatus.online:
            await stream.text({"type": "status", "online": False, "reason": health.reason})
        code, reason = 1000, "ended"
        try:
            code, reason = await stream.run()
        finally:
            viewer.close(reason)
            session.ended_at, session.reason = self._wall(), reason
            session.bytes_sent = stream.bytes_sent
            if websocket.application_state is WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(2.0):  # a stuck client must not hold the handler
                        await websocket.close(code, reason[:120])
            await self._report(self._on_end, session)

    # -- HLS -----------------------------------------------------------------------------------------

    async def _hls_request(self, request: Request, token: str, camera_id: int) -> HlsPackager:
        claims = await self._authorize(token, camera_id)
        await self._recheck_cached(claims)
        client = request.client.host if request.client else ""
        key = (claims.user_id, camera_id, client)
        session = self._hls_sessions.get(key)
        if session is None:
            session = self._hls_sessions[key] = self._new_session("hls", claims, client)
            await self._report(self._on_start, session)
            if self._sweeper is None or self._sweeper.done():
                self._sweeper = asyncio.create_task(self._sweep_hls(), name="live-hls-sessions")
        session.last_seen = time.monotonic()
        request.state.live_session = session
        try:
            return self.engine.hls(camera_id)
        except UnknownCamera as exc:
            raise _Denied(404, CLOSE_UNKNOWN, "no such live camera") from exc

    def _media(self, request: Request, data: bytes, media_type: str, cache: str) -> Response:
        session: LiveSession | None = getattr(request.state, "live_session", None)
        if session is not None:
            session.bytes_sent += len(data)
        return Response(data, media_type=media_type, headers={"Cache-Control": cache})

    def _block_timeout(self, packager: HlsPackager) -> float:
        if self.config.hls_block_timeout is not None:
            return self.config.hls_block_timeout
        return 3.0 * packager.target_duration

    async def hls_playlist(
        self,
        request: Request,
        camera_id: int,
        token: str = Query(""),
        hls_msn: int | None = Query(None, alias="_HLS_msn", ge=0),
        hls_part: int | None = Query(None, alias="_HLS_part", ge=0),
    ) -> Response:
        """The LL-HLS media playlist; with `_HLS_msn` (and `_HLS_part`) it blocks until that is listed."""
        try:
            packager = await self._hls_request(request, token, camera_id)
        except _Denied as exc:
            return _deny(exc)
        if hls_part is not None and hls_msn is None:
            return PlainTextResponse("_HLS_part needs _HLS_msn", status_code=400)
        if hls_msn is not None and hls_msn > packager.last_msn() + 2:
            return PlainTextResponse("_HLS_msn is too far ahead", status_code=400)
        msn, part = (hls_msn, hls_part) if hls_msn is not None else (0, 0)
        if not await packager.wait_for(msn, part, self._block_timeout(packager)):
            return PlainTextResponse("not available yet", status_code=503, headers={"Retry-After": "1"})
        text = render_playlist(packager, f"?token={token}")
        return self._media(request, text.encode(), "application/vnd.apple.mpegurl", "no-cache")

    async def hls_init_current(self, request: Request, camera_id: int, token: str = Query("")) -> Response:
        return await self.hls_init(request, camera_id, -1, token)

    async def hls_init(
        self, request: Request, camera_id: int, epoch: int, token: str = Query("")
    ) -> Response:
        try:
            packager = await self._hls_request(request, token, camera_id)
        except _Denied as exc:
            return _deny(exc)
        if epoch < 0 and packager.inits:
            epoch = max(packager.inits)
        init = packager.inits.get(epoch)
        if init is None:
            return PlainTextResponse("no such init segment", status_code=404)
        return self._media(request, init.data, "video/mp4", "private, max-age=300")

    async def hls_segment(
        self, request: Request, camera_id: int, msn: int, token: str = Query("")
    ) -> Response:
        try:
            packager = await self._hls_request(request, token, camera_id)
        except _Denied as exc:
            return _deny(exc)
        if msn <= packager.last_msn() + 1:
            await packager.wait_for(msn, None, self._block_timeout(packager))
        data = packager.segment_data(msn)
        if data is None:
            return PlainTextResponse("no such segment", status_code=404)
        return self._media(request, data, "video/mp4", "private, max-age=60")

    async def hls_part(
        self, request: Request, camera_id: int, msn: int, part: int, token: str = Query("")
    ) -> Response:
        """A part; a request for the part being built (the preload hint) waits until it is complete."""
        try:
            packager = await self._hls_request(request, token, camera_id)
        except _Denied as exc:
            return _deny(exc)
        if msn <= packager.last_msn() + 1:
            await packager.wait_for(msn, part, self._block_timeout(packager))
        data = packager.part_data(msn, part)
        if data is None:
            return PlainTextResponse("no such part", status_code=404)
        return self._media(request, data, "video/mp4", "private, max-age=60")

    async def _sweep_hls(self) -> None:
        """End HLS sessions idle for `hls_session_idle`; exits when none are left."""
        idle = self.config.hls_session_idle
        while self._hls_sessions:
            await asyncio.sleep(min(5.0, idle / 2))
            now = time.monotonic()
            for key, session in list(self._hls_sessions.items()):
                if now - session.last_seen > idle:
                    del self._hls_sessions[key]
                    session.ended_at, session.reason = self._wall(), "idle"
                    await self._report(self._on_end, session)

    async def aclose(self) -> None:
        """Report every open HLS session as ended and stop the sweeper."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            await asyncio.gather(self._sweeper, return_exceptions=True)
            self._sweeper = None
        sessions, self._hls_sessions = list(self._hls_sessions.values()), {}
        for session in sessions:
            session.ended_at, session.reason = self._wall(), "server stopping"
            await self._report(self._on_end, session)


def _viewer_close_code(reason: str) -> int:
    return CLOSE_SLOW if reason.startswith(("too slow", "stalled")) else CLOSE_GOING_AWAY


def _deny(exc: _Denied) -> Response:
    return JSONResponse({"code": "stream_denied", "message": exc.message}, status_code=exc.status)


class _WsStream:
    """The three loops of one WebSocket viewer: pump fragments, read client messages, guard the token."""

    def __init__(
        self, gateway: LiveGateway, websocket: WebSocket, viewer: Viewer, claims: StreamClaims
    ) -> None:
        self._gateway = gateway
        self._ws = websocket
        self._viewer = viewer
        self.claims = claims
        self._send_lock = asyncio.Lock()
        self._token_changed = asyncio.Event()
        self._writer: DirectWriter | None = None
        self._busy = False  # the pump holds an item it has not finished sending
        self.bytes_sent = 0
        self.direct_sent = 0  # fragments written by `_direct`, without the pump

    async def run(self) -> tuple[int, str]:
        self._writer = DirectWriter.find(self._ws)
        if self._writer is not None:
            self._viewer.direct = self._direct
        try:
            return await self._run()
        finally:
            self._viewer.direct = None
            self._writer = None

    def _direct(self, fragment: Fragment) -> bool:
        """Called from `Channel.push` when this viewer's queue is empty: write the fragment at once
        unless a send is under way (order) or the socket is backed up (then it queues, see Viewer)."""
        writer = self._writer
        if writer is None or self._busy or self._send_lock.locked():
            return False
        try:
            if not writer.write(fragment.data):
                return False
        except Exception:  # the queued path will meet the error and end the stream
            log.debug("direct WebSocket write failed", exc_info=True)
            self._writer = None
            return False
        self.bytes_sent += len(fragment.data)
        self.direct_sent += 1
        if fragment_sent_probe is not None:
            fragment_sent_probe(fragment)
        return True

    async def _run(self) -> tuple[int, str]:
        tasks = [
            asyncio.create_task(self._pump()),
            asyncio.create_task(self._read()),
            asyncio.create_task(self._guard()),
            asyncio.create_task(self._watch()),
        ]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in done:
            if not task.cancelled() and task.exception() is None:
                return task.result()
        error = next((t.exception() for t in done if not t.cancelled() and t.exception()), None)
        return 1011, f"internal error: {type(error).__name__}"

    async def text(self, message: dict[str, object]) -> None:
        text = json.dumps(message, separators=(",", ":"))
        async with self._send_lock:
            await self._ws.send_text(text)
        self.bytes_sent += len(text)

    async def _pump(self) -> tuple[int, str]:
        viewer, ws, lock = self._viewer, self._ws, self._send_lock
        try:
            while True:
                item = await viewer.next()
                self._busy = True
                if type(item) is Fragment:
                    async with lock:
                        await ws.send_bytes(item.data)
                    self.bytes_sent += len(item.data)
                    if fragment_sent_probe is not None:
                        fragment_sent_probe(item)
                elif type(item) is InitSegment:
                    track = item.track
                    await self.text({
                        "type": "init", "codec": track.codec, "mime": track.mime,
                        "width": track.width, "height": track.height, "epoch": item.epoch,
                    })  # fmt: skip
                    async with lock:
                        await ws.send_bytes(track.data)
                    self.bytes_sent += len(track.data)
                elif type(item) is Gap:
                    await self.text({"type": "gap", "dropped": item.dropped})
                elif type(item) is StatusNote:
                    await self.text({"type": "status", "online": item.online, "reason": item.reason})
                self._busy = False
        except ViewerClosed as exc:
            return _viewer_close_code(exc.reason), exc.reason
        except Exception as exc:  # the client went away mid-send
            return 1000, f"send failed: {type(exc).__name__}"

    async def _watch(self) -> tuple[int, str]:
        """Ends the stream when the channel drops the viewer, even while a send is stuck on the socket."""
        reason = await self._viewer.wait_closed()
        return _viewer_close_code(reason), reason

    async def _read(self) -> tuple[int, str]:
        gateway = self._gateway
        while True:
            message = await self._ws.receive()
            if message["type"] == "websocket.disconnect":
                return 1000, "client left"
            try:
                body = json.loads(message.get("text") or "null")
            except ValueError:
                continue
            if not isinstance(body, dict) or body.get("type") != "token":
                continue
            try:
                claims = gateway._verify(str(body.get("token", "")), self.claims.camera_id)
            except TokenScopeError as exc:
                return CLOSE_FORBIDDEN, exc.message
            except TokenError as exc:
                return CLOSE_TOKEN, exc.message
            if claims.user_id != self.claims.user_id or claims.action != self.claims.action:
                return CLOSE_FORBIDDEN, "refreshed token belongs to another user or action"
            self.claims = claims
            self._token_changed.set()
            await self.text({"type": "token_ok", "expires": claims.expires})

    async def _guard(self) -> tuple[int, str]:
        gateway = self._gateway
        config = gateway.config
        wall = gateway._wall
        every = config.recheck_every
        user = self.claims.user_id
        next_check = _next_beat(wall(), every, user)  # the connect was checked; then the user's beat
        reminded_for: int | None = None
        while True:
            claims = self.claims
            now = wall()
            if now >= claims.expires:
                return CLOSE_TOKEN, "stream token expired"
            if now >= next_check:
                if not await gateway._recheck_periodic(claims):
                    return CLOSE_FORBIDDEN, "access revoked"
                next_check = _next_beat(now, every, user)
            remind_at = claims.expires - config.remind_before
            if reminded_for != claims.expires and now >= remind_at:
                reminded_for = claims.expires
                await self.text({"type": "token_expiring", "expires": claims.expires})
            wake = min(next_check, claims.expires)
            if reminded_for != claims.expires:
                wake = min(wake, remind_at)
            self._token_changed.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.01, wake - now)):  # not wait_for: 3.11's can eat a cancel
                    await self._token_changed.wait()


_PHASE = (math.sqrt(5) - 1) / 2  # spreads users' beats evenly over the period, whatever their ids


def _next_beat(now: float, every: float, user_id: int) -> float:
    """The user's next re-check instant after `now` (Unix time), at most `every` seconds away. All
    streams of one user share a beat, so their re-checks can share one policy visit; each user's
    beat has its own phase within the period, so users do not all hit the database at once."""
    phase = (user_id * _PHASE) % 1.0 * every
    beat = (math.floor((now - phase) / every) + 1) * every + phase
    return beat if beat > now else beat + every  # rounding must not give a beat already passed


def live_router(
    engine: MediaEngine,
    verify_token: TokenVerifier,
    on_session_end: SessionHook = _ignore,
    *,
    recheck: Recheck = _allow_all,
    on_session_start: SessionHook = _ignore,
    config: LiveConfig | None = None,
) -> APIRouter:
    """The live routes for an app that needs no shutdown hook; prefer `LiveGateway` to end HLS sessions
    cleanly at shutdown."""
    gateway = LiveGateway(
        engine,
        verify_token,
        recheck=recheck,
        on_session_start=on_session_start,
        on_session_end=on_session_end,
        config=config,
    )
    return gateway.router
