"""The live gateway: the WebSocket and HLS routes of every live camera under one router."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from fastapi import APIRouter

from xueliang.media.engine import MediaEngine
from xueliang.media.live.audio import AudioRoutes
from xueliang.media.live.base import (
    LiveConfig,
    LiveSession,
    Recheck,
    SessionHook,
    TokenVerifier,
    allow_all,
    ignore_session,
)
from xueliang.media.live.ws import WebSocketRoute


class LiveGateway(WebSocketRoute, AudioRoutes):
    """Holds the live routes' state (HLS sessions, recheck cache); mount `router`, `await aclose()` at
    shutdown so open HLS sessions are reported as ended."""

    def __init__(
        self,
        engine: MediaEngine,
        verify_token: TokenVerifier,
        *,
        recheck: Recheck = allow_all,
        recheck_periodic: Recheck | None = None,
        on_session_start: SessionHook = ignore_session,
        on_session_end: SessionHook = ignore_session,
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
        self._audio_hls = {}
        self._audio_sweeper = None
        self.router = APIRouter(prefix=self.config.prefix, tags=["live"])
        self._routes()

    # -- routes --------------------------------------------------------------------------------------

    def _routes(self) -> None:
        router = self.router
        router.add_api_websocket_route("/{camera_id:int}/ws", self.websocket)
        router.add_api_websocket_route("/{camera_id:int}/audio/ws", self.audio_websocket)
        hls = "/{camera_id:int}/hls"
        router.add_api_route(f"{hls}/index.m3u8", self.hls_index, methods=["GET"])
        router.add_api_route(f"{hls}/video.m3u8", self.hls_playlist, methods=["GET"])
        router.add_api_route(f"{hls}/audio.m3u8", self.hls_audio_playlist, methods=["GET"])
        router.add_api_route(f"{hls}/audio-init{{epoch:int}}.mp4", self.hls_audio_init, methods=["GET"])
        router.add_api_route(f"{hls}/audio-seg{{msn:int}}.m4s", self.hls_audio_segment, methods=["GET"])
        router.add_api_route(f"{hls}/init.mp4", self.hls_init_current, methods=["GET"])
        router.add_api_route(f"{hls}/init{{epoch:int}}.mp4", self.hls_init, methods=["GET"])
        router.add_api_route(f"{hls}/seg{{msn:int}}.m4s", self.hls_segment, methods=["GET"])
        router.add_api_route(f"{hls}/part{{msn:int}}.{{part:int}}.m4s", self.hls_part, methods=["GET"])


def live_router(
    engine: MediaEngine,
    verify_token: TokenVerifier,
    on_session_end: SessionHook = ignore_session,
    *,
    recheck: Recheck = allow_all,
    on_session_start: SessionHook = ignore_session,
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
