"""Who a session token belongs to, remembered for a few seconds in this process.

Every request and WebSocket handshake resolves its token; under an alarm storm that lookup (token →
session → user → region) was two statements per request and a fifth of the server's CPU. The answer
rarely changes, so it is kept here, keyed by database and token hash:

- a change made in this process (logout, a user disabled, re-roled, moved or given a new password or
  locale) forgets the user's entries at once and again when its transaction commits, so no request
  that read the old rows before the commit can put them back;
- a change made by another process (the CLI, a second server on the same PostgreSQL) is seen within
  TTL_S, well inside the 30 s in which a revoked resident must lose the stream (issue 3);
- an expired session is refused by the caller's clock whether cached or not.

The entries hold detached ORM rows, read-only by convention, as the uncached path already returned."""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from xueliang.accounts.models import AuthSession, User
from xueliang.accounts.policy import Principal
from xueliang.core.db import database_key

TTL_S = 5.0
MAX_ENTRIES = 20_000  # tokens in use at once on a county's node, with room


@dataclass(frozen=True)
class Resolved:
    auth: AuthSession
    user: User
    principal: Principal


@dataclass(frozen=True)
class _Entry:
    stored_at: float
    resolved: Resolved


_entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
_generation = 0  # bumped by every forget: a lookup that began before one must not store its answer


def get(db: str, token_hash: str) -> Resolved | None:
    key = (db, token_hash)
    entry = _entries.get(key)
    if entry is None:
        return None
    if time.monotonic() - entry.stored_at >= TTL_S:
        del _entries[key]
        return None
    return entry.resolved


def generation() -> int:
    """Take before reading the rows to `put`."""
    return _generation


def put(db: str, token_hash: str, resolved: Resolved, read_at_generation: int) -> None:
    if read_at_generation != _generation:
        return  # something was forgotten while the rows were read: they may be the old ones
    _entries[(db, token_hash)] = _Entry(time.monotonic(), resolved)
    _entries.move_to_end((db, token_hash))
    while len(_entries) > MAX_ENTRIES:
        _entries.popitem(last=False)


def _forget(db: str, user_id: int | None, token_hash: str | None) -> None:
    global _generation
    _generation += 1
    for key in [
        k for k, e in _entries.items() if k[0] == db and (e.resolved.user.id == user_id or k[1] == token_hash)
    ]:
        del _entries[key]


def forget(session: AsyncSession, *, user_id: int | None = None, token_hash: str | None = None) -> None:
    """Forget a user's (or one token's) entries now and when `session` next commits."""
    db = database_key(session)
    _forget(db, user_id, token_hash)

    def after_commit(_sync: Session) -> None:
        _forget(db, user_id, token_hash)

    event.listen(session.sync_session, "after_commit", after_commit, once=True)


def clear() -> None:
    _entries.clear()
