"""The two-person rule (four eyes) for recordings of masked or sensitive cameras.

Lifting a privacy mask on playback or export, and exporting from a camera marked sensitive, needs a
request (camera, range, action, reason) approved by a second authorised user: an admin or operator who
has the same right on the camera and is not the requester. The grant is bound to requester, camera,
action and range, and expires (`GRANT_FOR`); an undecided request lapses after `PENDING_FOR`. Every
step is audited: `privacy.request`, `privacy.approve` / `privacy.deny`, and `privacy.use` each time a
grant opens a playback or an export.

Playback and export of a masked camera without a lift are masked (recordings/masked_playback.py,
media/mask/recorded.py); an export from a sensitive camera needs an approved request in any case."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.models import Role
from xueliang.accounts.policy import Permission, Principal
from xueliang.audit import service as audit
from xueliang.audit.service import Actor
from xueliang.cameras import masks
from xueliang.cameras import service as cameras
from xueliang.cameras.models import Camera
from xueliang.cameras.policy import camera_filter
from xueliang.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from xueliang.recordings import service
from xueliang.recordings.approval_models import ApprovalAction, ApprovalState, PrivacyApproval
from xueliang.regions.models import Region

APPROVERS = frozenset({Role.admin, Role.operator})
PENDING_FOR = timedelta(hours=24)
GRANT_FOR = timedelta(hours=4)
MAX_RANGE = timedelta(hours=24)
PERMISSION = {
    ApprovalAction.playback: Permission.view_recording,
    ApprovalAction.export: Permission.export_video,
}


class ApprovalRequired(Forbidden):
    """The camera is masked (or sensitive, for exports): the action needs an approved request."""

    code = "approval_required"


class ApprovalInvalid(Forbidden):
    """The approval named does not cover this (pending, denied, expired, or another camera/range/action)."""

    code = "approval_invalid"


class FourEyes(Forbidden):
    """A requester may not approve their own request."""

    code = "four_eyes"


def _visible(p: Principal) -> object:
    """Own requests, and (for approvers) requests on cameras in scope."""
    own = PrivacyApproval.requester_id == p.user_id
    if p.role not in APPROVERS:
        return own
    return or_(own, camera_filter(p, Permission.view_recording))


def state_of(row: PrivacyApproval, now: datetime) -> str:
    """`pending`, `approved`, `denied`, or `expired` (a pending request or a grant past its time)."""
    if row.state is not ApprovalState.denied and row.expires_at <= now:
        return "expired"
    return row.state.value


async def create_request(
    session: AsyncSession,
    p: Principal,
    actor: Actor,
    camera_id: int,
    action: ApprovalAction,
    lo: datetime,
    hi: datetime,
    reason: str,
    now: datetime,
) -> PrivacyApproval:
    camera, _ = await cameras.get_camera(session, p, camera_id, PERMISSION[action])
    lo, hi = service.check_range(lo, hi, MAX_RANGE)
    if not reason.strip():
        raise ValidationFailed("a reason is required")
    row = PrivacyApproval(
        camera_id=camera.id, action=action, starts_at=lo, ends_at=hi, reason=reason.strip()[:500],
        requester_id=p.user_id, requester_name=actor.name, created_at=now, state=ApprovalState.pending,
        decider_name="", decision_reason="", expires_at=now + PENDING_FOR,
    )  # fmt: skip
    session.add(row)
    await session.flush()
    await audit.append(
        session, actor, "privacy.request", at=now, target_type="camera", target_id=camera.id,
        detail={"approval": row.id, "action": action.value, "from": lo.isoformat(), "to": hi.isoformat(),
                "reason": row.reason},
    )  # fmt: skip
    return row


async def visible_requests(session: AsyncSession, p: Principal, limit: int = 200) -> list[PrivacyApproval]:
    stmt = (
        select(PrivacyApproval)
        .join(Camera, Camera.id == PrivacyApproval.camera_id)
        .join(Region, Region.id == Camera.region_id)
        .where(_visible(p))  # type: ignore[arg-type]
        .order_by(PrivacyApproval.id.desc())
        .limit(limit)
    )
    return list(await session.scalars(stmt))


async def get_request(session: AsyncSession, p: Principal, approval_id: int) -> PrivacyApproval:
    """The request if the caller may see it; otherwise NotFound, exactly as if it were missing."""
    stmt = (
        select(PrivacyApproval)
        .join(Camera, Camera.id == PrivacyApproval.camera_id)
        .join(Region, Region.id == Camera.region_id)
        .where(PrivacyApproval.id == approval_id, _visible(p))  # type: ignore[arg-type]
    )
    row = await session.scalar(stmt)
    if row is None:
        raise NotFound("approval not found")
    return row


async def decide(
    session: AsyncSession,
    p: Principal,
    actor: Actor,
    approval_id: int,
    approve: bool,
    reason: str,
    now: datetime,
) -> PrivacyApproval:
    """Approve or deny as the second person; audited."""
    row = await get_request(session, p, approval_id)
    if p.role not in APPROVERS:
        raise Forbidden("only admins and operators approve")
    await cameras.get_camera(session, p, row.camera_id, PERMISSION[row.action])  # same right, in scope
    if row.requester_id == p.user_id:
        raise FourEyes("a second person must decide: you asked for this yourself")
    if row.state is not ApprovalState.pending:
        raise Conflict(f"already {row.state.value}")
    if row.expires_at <= now:
        raise ApprovalInvalid("the request has expired; ask again")
    if not reason.strip():
        raise ValidationFailed("a reason is required")
    row.state = ApprovalState.approved if approve else ApprovalState.denied
    row.decided_by, row.decider_name, row.decided_at = p.user_id, actor.name, now
    row.decision_reason = reason.strip()[:500]
    row.expires_at = now + GRANT_FOR if approve else now
    await session.flush()
    await audit.append(
        session, actor, "privacy.approve" if approve else "privacy.deny", at=now, target_type="camera",
        target_id=row.camera_id,
        detail={"approval": row.id, "action": row.action.value, "requester": row.requester_name,
                "reason": row.decision_reason},
    )  # fmt: skip
    return row


async def masked_by_default(session: AsyncSession, camera_id: int) -> bool:
    """Playback of this camera is masked unless an approved lift is named."""
    return await masks.has_masks(session, camera_id)


async def masked_export(session: AsyncSession, camera_id: int) -> bool:
    """An export of this camera is masked unless an approved lift is named; a sensitive camera's
    exports always need one (False here: the grant is checked)."""
    return await masks.has_masks(session, camera_id) and not await masks.is_sensitive(session, camera_id)


async def needs_approval(session: AsyncSession, camera_id: int, action: ApprovalAction) -> bool:
    if await masks.has_masks(session, camera_id):
        return True
    return action is ApprovalAction.export and await masks.is_sensitive(session, camera_id)


async def require_grant(
    session: AsyncSession,
    p: Principal,
    actor: Actor,
    camera_id: int,
    action: ApprovalAction,
    lo: datetime,
    hi: datetime,
    approval_id: int | None,
    now: datetime,
    record: bool = True,
) -> int | None:
    """Checks the four-eyes grant where the camera needs one: returns the approval's id (its use is
    audited in the caller's transaction), None where none is needed; raises ApprovalRequired,
    ApprovalInvalid, or NotFound for an approval that is not the caller's."""
    if not await needs_approval(session, camera_id, action):
        return None
    if approval_id is None:
        what = "play back" if action is ApprovalAction.playback else "export"
        raise ApprovalRequired(
            f"to {what} this camera's video unmasked, ask for approval by a second person first"
        )
    row = await session.get(PrivacyApproval, approval_id)
    if row is None or row.requester_id != p.user_id:
        raise NotFound("approval not found")
    if row.camera_id != camera_id or row.action is not action:
        raise ApprovalInvalid("the approval is for another camera or action")
    if lo < row.starts_at or hi > row.ends_at:
        raise ApprovalInvalid("the approval does not cover this range")
    state = state_of(row, now)
    if state != "approved":
        raise ApprovalInvalid(f"the approval is {state}")
    if not record:  # a token refresh of a view whose use is already on the trail
        return row.id
    await audit.append(
        session, actor, "privacy.use", at=now, target_type="camera", target_id=camera_id,
        detail={"approval": row.id, "action": action.value, "from": lo.isoformat(), "to": hi.isoformat()},
    )  # fmt: skip
    return row.id
