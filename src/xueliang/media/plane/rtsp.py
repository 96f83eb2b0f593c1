"""The RTSP re-serve's side of the media plane: platform users, the access policy and the audit trail.

Two ways in, both decided by the same policy as the browser's streams:
- a stream token (`?token=`, from POST /api/v1/cameras/{id}/open, field `streams.rtsp`), like the
  WebSocket and HLS URLs;
- RTSP Digest for machine users (parent nodes, recorders, VLC on a workstation). Digest needs a
  secret the server can recompute, and platform passwords are stored only as argon2 hashes, so the
  Digest password is derived: HMAC(server secret, user id, username, password hash). It changes when
  the account's password does, dies with the account, and is handed to the logged-in user by
  GET /api/v1/live/rtsp/credentials (audited). The policy is asked for every camera, as for tokens.

Every played RTSP session is audited as `live.start`/`live.end` with kind "rtsp" and its bytes."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import TYPE_CHECKING

from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy import select

from xueliang.accounts import service as accounts
from xueliang.accounts.deps import Ctx, CurrentCaller, Session, require
from xueliang.accounts.models import User
from xueliang.accounts.policy import Permission, allows
from xueliang.audit import service as audit
from xueliang.core.errors import NotFound
from xueliang.media.live import LiveSession
from xueliang.media.restream.access import Denied
from xueliang.media.tokens import TokenError, TokenScopeError

if TYPE_CHECKING:
    from xueliang.media.plane.plane import MediaPlane


def digest_password(secret: bytes, user: User) -> str:
    """The user's RTSP Digest password (see the module docstring): 24 URL-safe characters."""
    message = f"xueliang-rtsp-digest\0{user.id}\0{user.username}\0{user.password_hash}".encode()
    return base64.urlsafe_b64encode(hmac.new(secret, message, hashlib.sha256).digest()[:18]).decode()


class PlaneRtspAccess:
    """`RestreamAccess` for the platform: tokens, Digest users, the policy and the audit trail."""

    def __init__(self, plane: MediaPlane) -> None:
        self.plane = plane

    def check_token(self, token: str, camera_id: int) -> int:
        try:
            return self.plane.verify(token, camera_id).user_id
        except TokenScopeError as exc:
            raise Denied(403, exc.message) from exc
        except TokenError as exc:
            raise Denied(401, exc.message) from exc

    async def digest_user(self, username: str) -> tuple[int, str] | None:
        if not username or len(username) > 64:
            return None
        # Anyone may ask, before any credential is checked: only read, never queue for the writer turn.
        async with self.plane.ctx.db.read_session() as session:
            user = (await session.scalars(select(User).where(User.username == username))).first()
            if user is None or user.disabled:
                return None
            principal = await accounts.principal_for(session, user)
            if not allows(principal, Permission.view_live):
                return None
            return user.id, digest_password(self.plane.secret, user)

    async def may_view(self, user_id: int, camera_id: int) -> bool:
        return await self.plane.may_view(user_id, camera_id)

    async def session_started(self, session: LiveSession) -> None:
        await self.plane.session_started(session)

    async def session_ended(self, session: LiveSession) -> None:
        await self.plane.session_ended(session)


class RtspCredentialsOut(BaseModel):
    username: str
    password: str
    realm: str
    url_template: str  # replace {camera_id}


router = APIRouter(tags=["live"])


@router.get("/api/v1/live/rtsp/credentials", response_model=RtspCredentialsOut)
async def rtsp_credentials(caller: CurrentCaller, ctx: Ctx, session: Session) -> RtspCredentialsOut:
    """The caller's RTSP Digest credentials for pulling cameras with a machine (a parent node, VLC).
    Which cameras they open is still the access policy's answer, camera by camera."""
    require(caller, Permission.view_live)
    from xueliang.media.plane.plane import MediaPlane  # the plane imports this module

    plane = ctx.services.get(MediaPlane)
    if plane is None or plane.rtsp is None or not plane.rtsp.running:
        raise NotFound("the RTSP re-serve is not running on this node")
    await audit.append(
        session,
        caller.actor,
        "rtsp.credentials",
        at=ctx.clock.now(),
        target_type="user",
        target_id=caller.user.id,
    )
    await session.commit()
    return RtspCredentialsOut(
        username=caller.user.username,
        password=digest_password(plane.secret, caller.user),
        realm=plane.rtsp.digest.realm,
        url_template=plane.rtsp.url_base + "/live/{camera_id}",
    )
