"""Stream tokens of unmasked playback, and what they may open (four eyes, approvals.py).

A token for a camera without masks carries the plain `view_recording` action. A token opened with an
approved lift carries `view_recording:approval:<id>`, so every media request names the grant it relies
on: the routes serve only what overlaps the approved range, and only while the grant holds (approved,
for this user, camera and action, not past its 4 h). A plain token stops opening a camera once it has
masks (a mask drawn while someone plays the original ends that at the next re-check), so unmasked
pixels of a masked camera always come through a grant. Grants and masks are read again on the same
30 s bound as the policy (access.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

from xueliang.accounts import service as accounts
from xueliang.accounts.models import User
from xueliang.accounts.policy import Permission
from xueliang.cameras import service as cameras
from xueliang.core.clock import as_utc
from xueliang.core.context import AppContext
from xueliang.core.errors import NotFound, Unauthorized
from xueliang.media import tokens
from xueliang.media.playback import SegmentView
from xueliang.recordings import approvals
from xueliang.recordings.access import RECHECK_EVERY, node_of
from xueliang.recordings.approval_models import ApprovalAction, PrivacyApproval

PLAIN = Permission.view_recording.value
_LIFTED = f"{PLAIN}:approval:"


def lifted_action(approval_id: int) -> str:
    return f"{_LIFTED}{approval_id}"


def issue(ctx: AppContext, user_id: int, camera_id: int, approval_id: int | None) -> str:
    """A playback token: plain, or bound to the approved lift it was opened with."""
    action = PLAIN if approval_id is None else lifted_action(approval_id)
    ttl = ctx.settings.stream_token_seconds
    return tokens.issue(ctx.secret.encode(), user_id, camera_id, action, ttl, ctx.clock.now())


@dataclass(frozen=True, slots=True)
class Lift:
    """The bounds of the grant a token relies on (Unix seconds), and when the grant ends."""

    approval_id: int
    lo: float
    hi: float
    until: datetime

    def covers(self, lo: float, hi: float) -> bool:
        return self.lo <= lo and hi <= self.hi

    def overlaps(self, lo: float, hi: float) -> bool:
        return lo < self.hi and hi > self.lo

    def check(self, lo: float, hi: float, *, whole: bool) -> None:
        ok = self.covers(lo, hi) if whole else self.overlaps(lo, hi)
        if not ok:
            raise approvals.ApprovalInvalid("the approval does not cover this range")


def _approval_of(action: str) -> int | None:
    """None for a plain token; the approval's id for a lifted one; NotFound for any other action."""
    if action == PLAIN:
        return None
    if action.startswith(_LIFTED) and action[len(_LIFTED) :].isdigit():
        return int(action[len(_LIFTED) :])
    raise NotFound("not found")


async def claims(ctx: AppContext, token: str, camera_id: int) -> tuple[tokens.StreamClaims, Lift | None]:
    """The token's claims if it is genuine, unexpired and for this camera, its user may still play the
    camera back, and (re-read at most every 30 s) the camera has no masks or the token's grant holds;
    with the grant's bounds, which the caller checks against what it serves."""
    try:
        found = tokens.decode(ctx.secret.encode(), token, ctx.clock.now())
    except tokens.TokenExpired as exc:
        raise Unauthorized("token expired: ask for a fresh one", code="token_expired") from exc
    except tokens.TokenError as exc:
        raise NotFound("not found") from exc
    if found.camera_id != camera_id:
        raise NotFound("not found")
    approval_id = _approval_of(found.action)
    node = node_of(ctx)
    key = (found.user_id, found.camera_id, found.nonce)
    lift = node.lifts.get(key) if approval_id is not None else None
    moment = time.monotonic()
    if moment - node.rechecked.get(key, -RECHECK_EVERY) >= RECHECK_EVERY or (
        approval_id is not None and lift is None
    ):
        lift = await _recheck(ctx, found, approval_id)
        if len(node.rechecked) > 10_000:
            node.rechecked.clear()
            node.lifts.clear()
        node.rechecked[key] = moment
        if lift is not None:
            node.lifts[key] = lift
    if lift is not None and lift.until <= ctx.clock.now():
        raise NotFound("the approval has expired; ask again")
    return found, lift


async def _recheck(ctx: AppContext, found: tokens.StreamClaims, approval_id: int | None) -> Lift | None:
    async with ctx.db.read_session() as session:
        user = await session.get(User, found.user_id)
        if user is None or user.disabled:
            raise NotFound("not found")
        principal = await accounts.principal_for(session, user)
        await cameras.get_camera(session, principal, found.camera_id, Permission.view_recording)
        if approval_id is None:
            if await approvals.masked_by_default(session, found.camera_id):
                raise NotFound("not found")  # masked now: the masked routes, or a grant
            return None
        row = await session.get(PrivacyApproval, approval_id)
    if (
        row is None
        or row.requester_id != found.user_id
        or row.camera_id != found.camera_id
        or row.action is not ApprovalAction.playback
        or approvals.state_of(row, ctx.clock.now()) != "approved"
    ):
        raise NotFound("not found")
    lo, hi = as_utc(row.starts_at).timestamp(), as_utc(row.ends_at).timestamp()
    return Lift(row.id, lo, hi, as_utc(row.expires_at))


def chunk_times(view: SegmentView, first: int, last: int) -> tuple[float, float]:
    """When the chunk [first, last) of a segment starts and ends (it starts at a keyframe)."""
    at = {off: view.start + ms / 1000 for ms, off in view.keyframes}
    return at.get(first, view.start), at.get(last, view.end)
