"""Routes for auditors: browse the trail and check the chain."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel
from sqlalchemy import select

from xueliang.accounts.deps import CurrentCaller, Session, require
from xueliang.accounts.policy import Permission
from xueliang.audit import service
from xueliang.audit.models import AuditEvent
from xueliang.core.bounds import MAX_INT64

router = APIRouter(tags=["audit"])


class AuditOut(BaseModel):
    seq: int
    at: datetime
    actor: str
    actor_id: int | None
    action: str
    target_type: str
    target_id: str
    address: str
    detail: dict[str, Any]
    hash: str


class VerifyOut(BaseModel):
    ok: bool
    checked: int
    broken_seq: int | None
    reason: str


@router.get("/audit", response_model=list[AuditOut])
async def list_audit(
    caller: CurrentCaller,
    session: Session,
    action: str = Query(default="", max_length=64),
    actor: str = Query(default="", max_length=64),
    target_type: str = Query(default="", max_length=32),
    before_seq: int | None = Query(default=None, ge=1, le=MAX_INT64),
    limit: int = Query(default=100, ge=1, le=1000),
) -> list[AuditOut]:
    """Newest first; page with `before_seq`."""
    require(caller, Permission.read_audit)
    stmt = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
    if action:
        stmt = stmt.where(AuditEvent.action.startswith(action, autoescape=True))
    if actor:
        stmt = stmt.where(AuditEvent.actor == actor)
    if target_type:
        stmt = stmt.where(AuditEvent.target_type == target_type)
    if before_seq is not None:
        stmt = stmt.where(AuditEvent.seq < before_seq)
    rows = (await session.scalars(stmt)).all()
    return [AuditOut.model_validate(r, from_attributes=True) for r in rows]


@router.get("/audit/verify", response_model=VerifyOut)
async def verify(caller: CurrentCaller, session: Session) -> VerifyOut:
    require(caller, Permission.read_audit)
    result = await service.verify(session)
    return VerifyOut(ok=result.ok, checked=result.checked, broken_seq=result.broken_seq, reason=result.reason)
