"""Live video over LL-HLS, built in memory by the camera's `HlsPackager`.

HLS, `/api/v1/live/{camera_id}/hls/index.m3u8?token=T` (LL-HLS with blocking reload `_HLS_msn`,
`_HLS_part`), `init{epoch}.mp4`, `init.mp4` (current), `seg{msn}.m4s`, `part{msn}.{k}.m4s`: the
playlist repeats the caller's token on every URI. A player refreshes its token by rewriting `token=` in
the URLs it requests (hls.js `xhrSetup`) or by reloading the playlist URL with a new token."""

from __future__ import annotations

import asyncio
import time

from fastapi import Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from xueliang.media.engine import UnknownCamera
from xueliang.media.hls import HlsPackager, render_playlist
from xueliang.media.live.base import CLOSE_FORBIDDEN, CLOSE_UNKNOWN, Denied, GatewayBase, LiveSession
from xueliang.media.tokens import StreamClaims

# How long a plain playlist request may wait for the first whole segment: one GOP of the slowest
# cameras we expect (10 s keyframe interval), beyond the LL-HLS blocking bound.
FIRST_SEGMENT_WAIT = 10.0


class HlsRoutes(GatewayBase):
    """The gateway's HLS routes, their sessions (a user watching a camera from one address) and the
    re-check cache."""

    _rechecked: dict[tuple[int, int, str], float]
    _hls_sessions: dict[tuple[int, int, str], LiveSession]
    _sweeper: asyncio.Task[None] | None

    async def _recheck_cached(self, claims: StreamClaims) -> None:
        """HLS asks the policy at most every `recheck_every` seconds per token."""
        key = (claims.user_id, claims.camera_id, claims.nonce)
        now = time.monotonic()
        checked = self._rechecked.get(key)
        if checked is not None and now - checked < self.config.recheck_every:
            return
        if not await self._recheck(claims):
            raise Denied(403, CLOSE_FORBIDDEN, "access revoked")
        if len(self._rechecked) > 10_000:
            horizon = now - self.config.recheck_every
            self._rechecked = {k: v for k, v in self._rechecked.items() if v > horizon}
        self._rechecked[key] = now

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
            raise Denied(404, CLOSE_UNKNOWN, "no such live camera") from exc

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
        except Denied as exc:
            return _deny(exc)
        if hls_part is not None and hls_msn is None:
            return PlainTextResponse("_HLS_part needs _HLS_msn", status_code=400)
        if hls_msn is not None and hls_msn > packager.last_msn() + 2:
            return PlainTextResponse("_HLS_msn is too far ahead", status_code=400)
        if hls_msn is not None:
            ready = await packager.wait_for(hls_msn, hls_part, self._block_timeout(packager))
        else:
            # A plain request (no LL-HLS parameters): set-top box players and FFmpeg read only whole
            # segments and give up on a playlist of parts, so hold it until the first segment is whole.
            # It starts at the cached keyframe and closes at the next one, so this is at most one GOP.
            ready = await packager.wait_for_complete_segment(
                max(self._block_timeout(packager), FIRST_SEGMENT_WAIT)
            )
        if not ready:
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
        except Denied as exc:
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
        except Denied as exc:
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
        except Denied as exc:
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


def _deny(exc: Denied) -> Response:
    return JSONResponse({"code": "stream_denied", "message": exc.message}, status_code=exc.status)
