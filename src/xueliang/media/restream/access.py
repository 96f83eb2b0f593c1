"""What the re-serve asks of the platform: who is calling, and may they watch this camera.

The RTSP server handles the protocol side (token in the URL, Digest challenge and response, nonces);
the platform side (`media/plane/rtsp.py` `PlaneRtspAccess`) owns users, the access policy and the audit trail,
so the server below knows camera ids and user ids only, like the rest of the media plane."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from xueliang.media.live import LiveSession


class Denied(Exception):
    """A request the caller may not make: RTSP `status` (401 asks for credentials, 403, 404)."""

    def __init__(self, status: int, reason: str, *, stale: bool = False) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.stale = stale


@dataclass(frozen=True, slots=True)
class Grant:
    """A caller the policy let watch `camera_id`; `via` says how they proved who they are."""

    user_id: int
    camera_id: int
    via: str  # "token" or "digest"


class RestreamAccess(Protocol):
    def check_token(self, token: str, camera_id: int) -> int:
        """The user id of a stream token valid for viewing `camera_id` live; raises `Denied` (401 for a
        malformed, tampered or expired token, 403 for one issued for another camera or action)."""
        ...

    async def digest_user(self, username: str) -> tuple[int, str] | None:
        """(user id, Digest password) of an enabled user who may use RTSP Digest, else None."""
        ...

    async def may_view(self, user_id: int, camera_id: int) -> bool:
        """The access policy, asked now: at the start of a session and again every `recheck_every`."""
        ...

    async def session_started(self, session: LiveSession) -> None: ...

    async def session_ended(self, session: LiveSession) -> None: ...
