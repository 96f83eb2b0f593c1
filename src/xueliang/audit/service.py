"""Appending to and verifying the hash chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.audit.models import AuditEvent

GENESIS = "0" * 64
_PG_LOCK_KEY = 0x58_4C_41_55  # "XLAU": serializes appenders across processes on PostgreSQL


@dataclass(frozen=True)
class Actor:
    """Who did it, from where; `id` is None for anonymous or system actions."""

    id: int | None
    name: str
    address: str = ""


SYSTEM = Actor(None, "system")


def row_digest(
    *,
    seq: int,
    at: datetime,
    actor_id: int | None,
    actor: str,
    action: str,
    target_type: str,
    target_id: str,
    address: str,
    detail: dict[str, Any],
    prev_hash: str,
) -> str:
    body = json.dumps(
        [
            seq,
            at.isoformat(timespec="microseconds"),
            actor_id,
            actor,
            action,
            target_type,
            target_id,
            address,
            detail,
            prev_hash,
        ],
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
    )
    return hashlib.sha256(body.encode()).hexdigest()


def _digest_of(ev: AuditEvent) -> str:
    return row_digest(
        seq=ev.seq,
        at=ev.at,
        actor_id=ev.actor_id,
        actor=ev.actor,
        action=ev.action,
        target_type=ev.target_type,
        target_id=ev.target_id,
        address=ev.address,
        detail=ev.detail,
        prev_hash=ev.prev_hash,
    )


async def append(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    at: datetime,
    target_type: str = "",
    target_id: str | int = "",
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add one link inside the caller's transaction, so the action and its record commit together."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    last = (
        await session.execute(
            select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
        )
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    ev = AuditEvent(
        seq=seq,
        at=at,
        actor_id=actor.id,
        actor=actor.name,
        action=action,
        target_type=target_type,
        target_id=str(target_id),
        address=actor.address,
        detail=detail or {},
        prev_hash=prev,
    )
    ev.hash = _digest_of(ev)
    session.add(ev)
    await session.flush()
    return ev


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    broken_seq: int | None = None
    reason: str = ""


async def _rows(session: AsyncSession, batch: int = 2000) -> AsyncIterator[AuditEvent]:
    after = 0
    while True:
        rows = (
            await session.scalars(
                select(AuditEvent).where(AuditEvent.seq > after).order_by(AuditEvent.seq).limit(batch)
            )
        ).all()
        if not rows:
            return
        for row in rows:
            yield row
        after = rows[-1].seq


async def verify(session: AsyncSession) -> VerifyResult:
    """Walk the chain; the first row whose link or content does not hold is reported."""
    prev_hash, expected_seq, checked = GENESIS, 1, 0
    async for ev in _rows(session):
        if ev.seq != expected_seq:
            return VerifyResult(False, checked, expected_seq, f"row {expected_seq} is missing")
        if ev.prev_hash != prev_hash:
            return VerifyResult(False, checked, ev.seq, "link to the previous row does not match")
        if _digest_of(ev) != ev.hash:
            return VerifyResult(False, checked, ev.seq, "row content was altered")
        prev_hash, expected_seq, checked = ev.hash, expected_seq + 1, checked + 1
    return VerifyResult(True, checked)


async def count_since(session: AsyncSession, action: str, since: datetime, **match: str) -> int:
    """Count recent events, e.g. failed logins per account or address for rate limiting."""
    q = (
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == action, AuditEvent.at >= since)
    )
    for column, value in match.items():
        q = q.where(getattr(AuditEvent, column) == value)
    return int((await session.execute(q)).scalar_one())
