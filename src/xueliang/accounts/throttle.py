"""Login throttling by delay (issue 14, item 8): after a few failures an account, and an address,
must wait before the next try, twice as long after each further failure up to a cap, so guessing is
slow while the right password is never refused for longer than the cap (a hard lock was a denial of
service: five wrong tries locked any account, admin included, for 15 minutes).

The failures are the audit trail's `auth.login_failed` rows, so the delay holds across processes and
restarts, as the lock did. An account counts its failures since its last successful login (within the
window); an address counts all of its failures within the window, so logging into one's own account
does not reset the address. A refused try (429) is not a failure and does not lengthen the wait."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.audit.models import AuditEvent
from xueliang.core.clock import as_utc

FAILED = "auth.login_failed"


@dataclass(frozen=True, slots=True)
class Rule:
    """`free` failures cost nothing; the next waits `first_s`, doubling per failure up to `max_s`."""

    free: int
    first_s: float
    max_s: float

    def delay(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        return min(self.max_s, self.first_s * 2.0 ** min(failures - self.free, 62))


async def _failures(session: AsyncSession, since: datetime, **match: str) -> tuple[int, datetime | None]:
    """How many failed logins matching `match` since `since`, and the last one's time."""
    q = select(func.count(), func.max(AuditEvent.at))
    q = q.where(AuditEvent.action == FAILED, AuditEvent.at >= since)
    for column, value in match.items():
        q = q.where(getattr(AuditEvent, column) == value)
    count, last = (await session.execute(q)).one()
    return int(count), as_utc(last) if last is not None else None


async def _last_success(session: AsyncSession, username: str, since: datetime) -> datetime | None:
    q = select(func.max(AuditEvent.at)).where(
        AuditEvent.action == "auth.login", AuditEvent.actor == username, AuditEvent.at >= since
    )
    last = (await session.execute(q)).scalar_one()
    return as_utc(last) if last is not None else None


async def _known_address(session: AsyncSession, username: str, address: str, since: datetime) -> bool:
    q = select(AuditEvent.id).where(
        AuditEvent.action == "auth.login",
        AuditEvent.actor == username,
        AuditEvent.address == address,
        AuditEvent.at >= since,
    )
    return (await session.execute(q.limit(1))).first() is not None


async def wait_needed(
    session: AsyncSession,
    *,
    username: str,
    address: str,
    now: datetime,
    window_s: int,
    account: Rule,
    per_address: Rule,
    known_address_s: int = 0,
) -> tuple[float, str]:
    """Seconds the caller must still wait before this try is checked (0: go ahead), and whose delay it
    is ("account" or "address"). The account's delay does not hold at an address the account logged
    in from within `known_address_s` (0: never exempt): an attacker elsewhere, failing once per
    delay, would otherwise keep the owner out for as long as they like; that address's own delay
    still holds."""
    since = now - timedelta(seconds=window_s)
    username, address = username[:64], address[:64]
    checks: list[tuple[str, Rule, datetime, dict[str, str]]] = [
        ("address", per_address, since, {"address": address})
    ]
    known = known_address_s > 0 and await _known_address(
        session, username, address, now - timedelta(seconds=known_address_s)
    )
    if not known:
        account_since = max(since, await _last_success(session, username, since) or since)
        checks.append(("account", account, account_since, {"actor": username}))
    waits: list[tuple[float, str]] = []
    for scope, rule, start, match in checks:
        count, last = await _failures(session, start, **match)
        if last is None:
            continue
        delay = rule.delay(count)
        if delay <= 0:
            continue
        # another process's clock may run ahead: a failure "from the future" waits the delay, no more
        left = delay - max(0.0, (now - last).total_seconds())
        if left > 0:
            waits.append((left, scope))
    return max(waits, default=(0.0, ""))


def retry_after(seconds: float) -> int:
    """Whole seconds to tell the client (never 0 for a refused try)."""
    return max(1, math.ceil(seconds))
