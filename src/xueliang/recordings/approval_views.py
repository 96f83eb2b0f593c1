"""Four-eyes routes: ask to lift a mask (or to export from a sensitive camera), and decide as the
second person. Requests outside the caller's scope answer exactly as missing ones (404)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from xueliang.accounts.deps import Ctx, CurrentCaller, Session
from xueliang.core.bounds import DbId, PathId, StoredDatetime
from xueliang.recordings import approvals, service
from xueliang.recordings.approval_models import ApprovalAction, PrivacyApproval

router = APIRouter(tags=["recordings"])


class ApprovalIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    camera_id: DbId
    action: ApprovalAction
    lo: StoredDatetime = Field(alias="from")
    hi: StoredDatetime = Field(alias="to")
    reason: str = Field(min_length=1, max_length=500)


class DecisionIn(BaseModel):
    approve: bool
    reason: str = Field(min_length=1, max_length=500)


class ApprovalOut(BaseModel):
    id: int
    camera_id: int
    action: str
    start: datetime
    end: datetime
    reason: str
    requester: str
    created_at: datetime
    state: str  # pending, approved, denied, expired
    decided_by: str
    decided_at: datetime | None
    decision_reason: str
    expires_at: datetime
    mine: bool  # the caller asked (and so may not decide)


def approval_out(row: PrivacyApproval, now: datetime, user_id: int) -> ApprovalOut:
    return ApprovalOut(
        id=row.id,
        camera_id=row.camera_id,
        action=row.action.value,
        start=row.starts_at,
        end=row.ends_at,
        reason=row.reason,
        requester=row.requester_name,
        created_at=row.created_at,
        state=approvals.state_of(row, now),
        decided_by=row.decider_name,
        decided_at=row.decided_at,
        decision_reason=row.decision_reason,
        expires_at=row.expires_at,
        mine=row.requester_id == user_id,
    )


@router.post("/recordings/approvals", response_model=ApprovalOut, status_code=201)
async def request_approval(
    body: ApprovalIn, caller: CurrentCaller, ctx: Ctx, session: Session
) -> ApprovalOut:
    """Ask a second person to lift a camera's masks for playback or export of a range (or to export
    from a sensitive camera); audited as `privacy.request`."""
    service.may_record_anything(caller.principal)  # residents: 404, as on every recording route
    now = ctx.clock.now()
    row = await approvals.create_request(
        session,
        caller.principal,
        caller.actor,
        body.camera_id,
        body.action,
        body.lo,
        body.hi,
        body.reason,
        now,
    )
    await session.commit()
    return approval_out(row, now, caller.user.id)


@router.get("/recordings/approvals", response_model=list[ApprovalOut])
async def list_approvals(caller: CurrentCaller, ctx: Ctx, session: Session) -> list[ApprovalOut]:
    """The caller's own requests and, for admins and operators, those on cameras in their scope."""
    service.may_record_anything(caller.principal)  # residents: 404, as on every recording route
    now = ctx.clock.now()
    rows = await approvals.visible_requests(session, caller.principal)
    return [approval_out(r, now, caller.user.id) for r in rows]


@router.get("/recordings/approvals/{approval_id}", response_model=ApprovalOut)
async def get_approval(approval_id: PathId, caller: CurrentCaller, ctx: Ctx, session: Session) -> ApprovalOut:
    service.may_record_anything(caller.principal)  # residents: 404, as on every recording route
    row = await approvals.get_request(session, caller.principal, approval_id)
    return approval_out(row, ctx.clock.now(), caller.user.id)


@router.post("/recordings/approvals/{approval_id}/decision", response_model=ApprovalOut)
async def decide_approval(
    approval_id: PathId, body: DecisionIn, caller: CurrentCaller, ctx: Ctx, session: Session
) -> ApprovalOut:
    """Approve or deny as the second person (not the requester); audited as `privacy.approve` or
    `privacy.deny`. An approval lasts `GRANT_FOR` (4 h)."""
    service.may_record_anything(caller.principal)  # residents: 404, as on every recording route
    now = ctx.clock.now()
    row = await approvals.decide(
        session, caller.principal, caller.actor, approval_id, body.approve, body.reason, now
    )
    await session.commit()
    return approval_out(row, now, caller.user.id)
