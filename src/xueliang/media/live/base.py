"""What the WebSocket and HLS routes share: the stream token's check, the close codes, the session
record and how sessions are reported, the gateway's settings."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from xueliang.media.audio.channel import AudioChannel
from xueliang.media.engine import MediaEngine, UnknownCamera
from xueliang.media.tokens import StreamClaims, TokenError, TokenScopeError

log = logging.getLogger(__name__)

TokenVerifier = Callable[[str, int], StreamClaims]
"""(token, camera_id) -> claims for the live action; raises TokenError (401) or TokenScopeError (403)."""
Recheck = Callable[[StreamClaims], Awaitable[bool]]
"""Asks the access policy again whether the token's user may still watch its camera."""

CLOSE_TOKEN, CLOSE_FORBIDDEN, CLOSE_UNKNOWN, CLOSE_SLOW, CLOSE_GOING_AWAY = 4401, 4403, 4404, 4408, 1001


@dataclass(slots=True)
class LiveSession:
    """One viewing session as the audit log records it."""

    session_id: str
    kind: str  # "ws" or "hls"; "ws-audio" / "hls-audio": the camera's sound (a live view with sound)
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


async def allow_all(claims: StreamClaims) -> bool:
    return True


async def ignore_session(session: LiveSession) -> None:
    return None


@dataclass(frozen=True, slots=True)
class LiveConfig:
    recheck_every: float = 30.0
    remind_before: float = 60.0  # "token_expiring" this long before expiry
    hls_block_timeout: float | None = None  # None: three target durations
    hls_session_idle: float = 30.0
    viewer_queue: int | None = None  # None: the channel's default
    prefix: str = "/api/v1/live"


class Denied(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class GatewayBase:
    """The state and the access checks both kinds of route use; `LiveGateway` sets it up."""

    engine: MediaEngine
    config: LiveConfig
    _verify: TokenVerifier
    _recheck: Recheck
    _recheck_periodic: Recheck
    _on_start: SessionHook
    _on_end: SessionHook
    _wall: Callable[[], float]

    # -- access --------------------------------------------------------------------------------------

    async def _authorize(self, token: str, camera_id: int) -> StreamClaims:
        try:
            claims = self._verify(token, camera_id)
        except TokenScopeError as exc:
            raise Denied(403, CLOSE_FORBIDDEN, exc.message) from exc
        except TokenError as exc:
            raise Denied(401, CLOSE_TOKEN, exc.message) from exc
        if not self.engine.has_camera(camera_id):
            raise Denied(404, CLOSE_UNKNOWN, "no such live camera")
        return claims

    async def _report(self, hook: SessionHook, session: LiveSession) -> None:
        try:
            await hook(session)
        except Exception:
            log.exception("live session hook failed for %s", session.session_id)

    def _sound(self, camera_id: int) -> AudioChannel | None:
        """The camera's sound, None when it is off (or the id is a masked variant, which has none)."""
        try:
            return self.engine.audio(camera_id)
        except UnknownCamera:
            return None

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
