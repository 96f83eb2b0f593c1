"""Live video over WebSocket: fMP4 fragments for Media Source Extensions.

WebSocket protocol, `/api/v1/live/{camera_id}/ws?token=T`
  Text messages are JSON objects with a "type"; binary messages are MP4 bytes, appended in order.
  server -> client
    {"type":"init","codec":"avc1.640028","mime":"video/mp4; codecs=\\"avc1.640028\\"","width":1280,
     "height":720,"epoch":0}       the next binary message is an init segment: create the SourceBuffer
                                   with `mime` (or `changeType(mime)` if the codec changed), append it;
                                   `"audio":true` is added when the camera's sound is on: its sound
                                   plays from `/api/v1/live/{camera_id}/audio/ws` (live/audio.py)
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
  append the player should seek to `buffered.end - 0.1` to sit at the live edge."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Callable

from fastapi import Query, WebSocket
from starlette.websockets import WebSocketState

from xueliang.core.aio import first_done
from xueliang.media.channel import Fragment, Gap, InitSegment, StatusNote, Viewer, ViewerClosed
from xueliang.media.engine import CameraStatus, UnknownCamera
from xueliang.media.live.base import (
    CLOSE_FORBIDDEN,
    CLOSE_GOING_AWAY,
    CLOSE_SLOW,
    CLOSE_TOKEN,
    CLOSE_UNKNOWN,
    Denied,
    GatewayBase,
)
from xueliang.media.tokens import StreamClaims, TokenError, TokenScopeError
from xueliang.media.ws_direct import DirectWriter

log = logging.getLogger(__name__)

fragment_sent_probe: Callable[[Fragment], None] | None = None
"""Off (None) by default. bench/media.py sets it to measure the latency the platform adds: from the
arrival of a frame's last RTP packet (`Fragment.arrived_ns`) to its fragment handed to the WebSocket."""


class WebSocketRoute(GatewayBase):
    """The gateway's WebSocket route."""

    async def websocket(self, websocket: WebSocket, camera_id: int, token: str = Query("")) -> None:
        """Stream one camera's fragments to one browser; see the module docstring for the protocol."""
        await websocket.accept()
        try:
            claims = await self._authorize(token, camera_id)
            if not await self._recheck(claims):
                raise Denied(403, CLOSE_FORBIDDEN, "access revoked")
            viewer = self.engine.channel(camera_id).open_viewer(self.config.viewer_queue)
            health = self.engine.health(camera_id)
        except Denied as exc:
            await websocket.close(exc.code, exc.message)
            return
        except (UnknownCamera, ViewerClosed):
            await websocket.close(CLOSE_UNKNOWN, "no such live camera")
            return
        client = websocket.client.host if websocket.client else ""
        session = self._new_session("ws", claims, client)
        stream = _WsStream(self, websocket, viewer, claims)
        stream.sound = self._sound(camera_id) is not None
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


def _viewer_close_code(reason: str) -> int:
    return CLOSE_SLOW if reason.startswith(("too slow", "stalled")) else CLOSE_GOING_AWAY


class TokenGuard:
    """What every live socket does beside sending media: read the client's token refreshes, re-check
    the user's rights on their beat, remind before expiry (the video socket and the sound socket)."""

    def __init__(self, gateway: GatewayBase, websocket: WebSocket, claims: StreamClaims) -> None:
        self._gateway = gateway
        self._ws = websocket
        self.claims = claims
        self._send_lock = asyncio.Lock()
        self._token_changed = asyncio.Event()
        self.bytes_sent = 0

    async def text(self, message: dict[str, object]) -> None:
        text = json.dumps(message, separators=(",", ":"))
        async with self._send_lock:
            await self._ws.send_text(text)
        self.bytes_sent += len(text)

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


class _WsStream(TokenGuard):
    """The three loops of one WebSocket viewer: pump fragments, read client messages, guard the token."""

    def __init__(
        self, gateway: WebSocketRoute, websocket: WebSocket, viewer: Viewer, claims: StreamClaims
    ) -> None:
        super().__init__(gateway, websocket, claims)
        self._viewer = viewer
        self.sound = False  # the camera's sound is on: the init message says so (a second socket plays it)
        self._writer: DirectWriter | None = None
        self._busy = False  # the pump holds an item it has not finished sending
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
        done = await first_done(self._pump(), self._read(), self._guard(), self._watch())
        for task in done:
            if not task.cancelled() and task.exception() is None:
                return task.result()
        error = next((t.exception() for t in done if not t.cancelled() and t.exception()), None)
        return 1011, f"internal error: {type(error).__name__}"

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
                    header: dict[str, object] = {
                        "type": "init", "codec": track.codec, "mime": track.mime,
                        "width": track.width, "height": track.height, "epoch": item.epoch,
                    }  # fmt: skip
                    if self.sound:
                        header["audio"] = True
                    await self.text(header)
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


_PHASE = (math.sqrt(5) - 1) / 2  # spreads users' beats evenly over the period, whatever their ids


def _next_beat(now: float, every: float, user_id: int) -> float:
    """The user's next re-check instant after `now` (Unix time), at most `every` seconds away. All
    streams of one user share a beat, so their re-checks can share one policy visit; each user's
    beat has its own phase within the period, so users do not all hit the database at once."""
    phase = (user_id * _PHASE) % 1.0 * every
    beat = (math.floor((now - phase) / every) + 1) * every + phase
    return beat if beat > now else beat + every  # rounding must not give a beat already passed
