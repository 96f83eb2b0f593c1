"""What the recording API and its token-authenticated media routes share: the node, the stream tokens
(issued by the API, checked by the media routes, whose user is asked the policy again at least every
30 s) and the range parameters. What the token routes look up they only read (`read_session`): a
request that anyone may send never queues for the SQLite writer turn."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Annotated

from fastapi import Query, Request

from xueliang.accounts import service as accounts
from xueliang.accounts.deps import client_address
from xueliang.accounts.models import User
from xueliang.accounts.policy import Permission
from xueliang.audit.service import Actor
from xueliang.cameras import service as cameras
from xueliang.core.bounds import StoredDatetime
from xueliang.core.context import AppContext
from xueliang.core.errors import NotFound, Unauthorized
from xueliang.media import tokens
from xueliang.recordings.runtime import RecordingsNode

RECHECK_EVERY = 30.0
MAX_PLAYBACK = timedelta(days=1)
From = Annotated[StoredDatetime, Query(alias="from")]
To = Annotated[StoredDatetime, Query(alias="to")]


def node_of(ctx: AppContext) -> RecordingsNode:
    return ctx.services.require(RecordingsNode)


# -- tokens ------------------------------------------------------------------------------------------


def issue_token(ctx: AppContext, user_id: int, camera_id: int, permission: Permission) -> str:
    ttl = ctx.settings.stream_token_seconds
    return tokens.issue(ctx.secret.encode(), user_id, camera_id, permission.value, ttl, ctx.clock.now())


async def token_claims(
    ctx: AppContext, token: str, camera_id: int, permission: Permission
) -> tokens.StreamClaims:
    """The token's claims if it is genuine, unexpired, for this camera and permission, and its user
    still has the permission (asked again at most every 30 s per token)."""
    try:
        claims = tokens.verify(ctx.secret.encode(), token, camera_id, permission.value, ctx.clock.now())
    except tokens.TokenExpired as exc:
        raise Unauthorized("token expired: ask for a fresh one", code="token_expired") from exc
    except (tokens.TokenError, tokens.TokenScopeError) as exc:
        raise NotFound("not found") from exc
    node = node_of(ctx)
    key = (claims.user_id, claims.camera_id, claims.nonce)
    now = time.monotonic()
    if now - node.rechecked.get(key, -RECHECK_EVERY) >= RECHECK_EVERY:
        async with ctx.db.read_session() as session:
            user = await session.get(User, claims.user_id)
            if user is None or user.disabled:
                raise NotFound("not found")
            principal = await accounts.principal_for(session, user)
            await cameras.get_camera(session, principal, camera_id, permission)
        if len(node.rechecked) > 10_000:
            node.rechecked.clear()
        node.rechecked[key] = now
    return claims


async def token_actor(ctx: AppContext, request: Request, claims: tokens.StreamClaims) -> Actor:
    async with ctx.db.read_session() as session:
        user = await session.get(User, claims.user_id)
    return Actor(claims.user_id, user.username if user else "", client_address(request))
