"""The camera's sound for listeners (docs/media-audio.md): its own WebSocket beside the video socket,
and an HLS audio rendition under a master playlist. Both only exist while the camera's audio is on.

WebSocket, `/api/v1/live/{camera_id}/audio/ws?token=T` (the same stream token as the video socket,
checked, re-checked and refreshed the same way; audited as a live session of kind "ws-audio")
  server -> client
    {"type":"init","codec":"mp4a.40.2","mime":"audio/mp4; codecs=\\"mp4a.40.2\\"","sample_rate":16000,
     "channels":1}                 the next binary message is a one-track AAC init segment
    binary                         one moof+mdat of a few AAC frames (about 320 ms)
    {"type":"token_expiring"|"token_ok",...}   as on the video socket; the client answers {"type":"token"}
  Close codes as the video socket, and 4404 when the camera has no sound (audio off).
  Timestamps are seconds on the camera's sound clock, which starts with the stream like the video's:
  a player keeps the sound within a few hundred milliseconds of the picture by seeking it there.

HLS: with sound on, `hls/index.m3u8` is a master playlist naming `video.m3u8` (the LL-HLS video
playlist, the same bytes as index.m3u8 of a silent camera) and `audio.m3u8`, whose whole segments
`audio-seg{msn}.m4s` start with `audio-init{epoch}.mp4`. G.711 cameras are transcoded to AAC only while
a socket listens or the rendition was asked for in the last `hls_session_idle` seconds."""

from __future__ import annotations

import asyncio
import contextlib
import time

from fastapi import Query, Request, Response, WebSocket
from fastapi.responses import PlainTextResponse
from starlette.websockets import WebSocketState

from xueliang.core.aio import first_done
from xueliang.media.audio.channel import AudioChannel, AudioItem
from xueliang.media.audio.fmp4 import AudioInit
from xueliang.media.hls.audio import AudioHlsPackager, render_master
from xueliang.media.live.base import (
    CLOSE_FORBIDDEN,
    CLOSE_SLOW,
    CLOSE_UNKNOWN,
    Denied,
    GatewayBase,
    LiveSession,
)
from xueliang.media.live.hls import FIRST_SEGMENT_WAIT, HlsRoutes, _deny
from xueliang.media.live.ws import TokenGuard
from xueliang.media.tokens import StreamClaims

AUDIO_QUEUE = 64  # fragments (about 20 s of sound) a listener may fall behind before it is closed
_AAC_LC = "mp4a.40.2"  # what G.711 becomes, and what AAC cameras send


class _AudioWsStream(TokenGuard):
    """One listener: the channel's items through a bounded queue to the socket, plus the token loops."""

    def __init__(self, gateway: GatewayBase, websocket: WebSocket, claims: StreamClaims) -> None:
        super().__init__(gateway, websocket, claims)
        self._queue: asyncio.Queue[AudioItem | None] = asyncio.Queue()

    def listen(self, item: AudioItem) -> None:
        """AudioChannel listener (synchronous): queue, or end a listener that fell too far behind."""
        if self._queue.qsize() >= AUDIO_QUEUE:
            self._queue.put_nowait(None)
            raise OverflowError("audio listener too slow")  # the channel removes this listener
        self._queue.put_nowait(item)

    async def run(self) -> tuple[int, str]:
        done = await first_done(self._pump(), self._read(), self._guard())
        for task in done:
            if not task.cancelled() and task.exception() is None:
                return task.result()
        return 1011, "internal error"

    async def _pump(self) -> tuple[int, str]:
        ws, lock = self._ws, self._send_lock
        try:
            while True:
                item = await self._queue.get()
                if item is None:
                    return CLOSE_SLOW, "too slow"
                if isinstance(item, AudioInit):
                    config = item.config
                    await self.text({
                        "type": "init", "codec": item.codec, "mime": item.mime,
                        "sample_rate": config.sample_rate, "channels": config.channels,
                    })  # fmt: skip
                data = item.data
                async with lock:
                    await ws.send_bytes(data)
                self.bytes_sent += len(data)
        except Exception as exc:  # the client went away mid-send
            return 1000, f"send failed: {type(exc).__name__}"


class AudioRoutes(HlsRoutes):
    """The sound routes of the live gateway; `_audio_hls` holds each camera's rendition while asked for."""

    _audio_hls: dict[int, tuple[AudioChannel, AudioHlsPackager]]
    _audio_sweeper: asyncio.Task[None] | None

    async def audio_websocket(self, websocket: WebSocket, camera_id: int, token: str = Query("")) -> None:
        """Stream one camera's sound to one listener; see the module docstring for the protocol."""
        await websocket.accept()
        try:
            claims = await self._authorize(token, camera_id)
            if not await self._recheck(claims):
                raise Denied(403, CLOSE_FORBIDDEN, "access revoked")
        except Denied as exc:
            await websocket.close(exc.code, exc.message)
            return
        channel = self._sound(camera_id)
        if channel is None:
            await websocket.close(CLOSE_UNKNOWN, "this camera's sound is off")
            return
        client = websocket.client.host if websocket.client else ""
        session = self._new_session("ws-audio", claims, client)
        stream = _AudioWsStream(self, websocket, claims)
        remove = channel.add_listener(stream.listen)
        await self._report(self._on_start, session)
        code, reason = 1000, "ended"
        try:
            code, reason = await stream.run()
        finally:
            remove()
            session.ended_at, session.reason = self._wall(), reason
            session.bytes_sent = stream.bytes_sent
            if websocket.application_state is WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(2.0):
                        await websocket.close(code, reason[:120])
            await self._report(self._on_end, session)

    # -- HLS ---------------------------------------------------------------------------------------

    def _audio_packager(self, camera_id: int, channel: AudioChannel) -> AudioHlsPackager:
        """The camera's rendition, attached to its channel on first use (a restarted camera has a new
        channel: a new rendition); the sweeper detaches it once nobody asked for a while."""
        held = self._audio_hls.get(camera_id)
        if held is not None and held[0] is channel:
            packager = held[1]
        else:
            if held is not None:
                held[1].detach()
            packager = AudioHlsPackager(self.engine.hls(camera_id).config.segment_target)
            packager.detach = channel.add_listener(packager.on_item)
            self._audio_hls[camera_id] = (channel, packager)
            if self._audio_sweeper is None or self._audio_sweeper.done():
                self._audio_sweeper = asyncio.create_task(self._sweep_audio(), name="live-hls-audio")
        packager.last_used = time.monotonic()
        return packager

    async def _sweep_audio(self) -> None:
        idle = self.config.hls_session_idle
        while self._audio_hls:
            await asyncio.sleep(min(5.0, idle / 2))
            now = time.monotonic()
            for camera_id, (_, packager) in list(self._audio_hls.items()):
                if now - packager.last_used > idle:
                    del self._audio_hls[camera_id]
                    packager.detach()

    async def _audio_request(
        self, request: Request, token: str, camera_id: int
    ) -> tuple[AudioHlsPackager, LiveSession | None]:
        await self._hls_request(request, token, camera_id)  # token, re-check, the user's HLS session
        channel = self._sound(camera_id)
        if channel is None:
            raise Denied(404, CLOSE_UNKNOWN, "this camera's sound is off")
        session: LiveSession | None = getattr(request.state, "live_session", None)
        if session is not None and session.kind == "hls":
            session.kind = "hls-audio"  # the audit's end record says the user heard the camera too
        return self._audio_packager(camera_id, channel), session

    async def hls_index(
        self,
        request: Request,
        camera_id: int,
        token: str = Query(""),
        hls_msn: int | None = Query(None, alias="_HLS_msn", ge=0),
        hls_part: int | None = Query(None, alias="_HLS_part", ge=0),
    ) -> Response:
        """`index.m3u8`: the master playlist when the camera's sound is on; for a silent camera (or an
        LL-HLS reload) the video playlist itself, exactly as before sound existed."""
        channel = self._sound(camera_id)
        if channel is None or hls_msn is not None or hls_part is not None:
            return await self.hls_playlist(request, camera_id, token, hls_msn, hls_part)
        try:
            packager = await self._hls_request(request, token, camera_id)
        except Denied as exc:
            return _deny(exc)
        self._audio_packager(camera_id, channel)  # the sound gathers while the player reads on
        if not await packager.wait_for_complete_segment(
            max(self._block_timeout(packager), FIRST_SEGMENT_WAIT)
        ):
            return PlainTextResponse("not available yet", status_code=503, headers={"Retry-After": "1"})
        video = packager.inits[max(packager.inits)].track.codec
        audio = channel.init.codec if channel.init is not None else _AAC_LC
        channels = channel.init.config.channels if channel.init is not None else 1
        segments = packager.segments
        seconds = sum(s.duration for s in segments) / 90000
        size = sum(len(p.data) for s in segments for p in s.parts)
        bandwidth = int(size * 8 / seconds) + 64_000 if seconds > 0 else 2_000_000
        text = render_master(video, audio, channels, bandwidth, f"?token={token}")
        return self._media(request, text.encode(), "application/vnd.apple.mpegurl", "no-cache")

    async def hls_audio_playlist(self, request: Request, camera_id: int, token: str = Query("")) -> Response:
        """The audio rendition's playlist; held until it lists one whole segment."""
        try:
            packager, _ = await self._audio_request(request, token, camera_id)
        except Denied as exc:
            return _deny(exc)
        if not await packager.wait_for_segment(max(3.0 * packager.target_duration, FIRST_SEGMENT_WAIT)):
            return PlainTextResponse("not available yet", status_code=503, headers={"Retry-After": "1"})
        text = packager.render(f"?token={token}")
        return self._media(request, text.encode(), "application/vnd.apple.mpegurl", "no-cache")

    async def hls_audio_init(
        self, request: Request, camera_id: int, epoch: int, token: str = Query("")
    ) -> Response:
        try:
            packager, _ = await self._audio_request(request, token, camera_id)
        except Denied as exc:
            return _deny(exc)
        init = packager.inits.get(epoch)
        if init is None:
            return PlainTextResponse("no such init segment", status_code=404)
        return self._media(request, init.data, "audio/mp4", "private, max-age=300")

    async def hls_audio_segment(
        self, request: Request, camera_id: int, msn: int, token: str = Query("")
    ) -> Response:
        try:
            packager, _ = await self._audio_request(request, token, camera_id)
        except Denied as exc:
            return _deny(exc)
        data = packager.segment_data(msn)
        if data is None:
            return PlainTextResponse("no such segment", status_code=404)
        return self._media(request, data, "audio/mp4", "private, max-age=60")

    async def aclose(self) -> None:
        """Detach every audio rendition (stops G.711 transcoding), then end the HLS sessions."""
        if self._audio_sweeper is not None:
            self._audio_sweeper.cancel()
            await asyncio.gather(self._audio_sweeper, return_exceptions=True)
            self._audio_sweeper = None
        held, self._audio_hls = list(self._audio_hls.values()), {}
        for _, packager in held:
            packager.detach()
        await super().aclose()
