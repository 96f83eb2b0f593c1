"""What the accounts domain tells others: a user's sessions or rights changed. Whoever holds something
open on a session (the alarm consoles' WebSockets) re-checks it at once instead of at its next beat.
Nothing here knows who listens (core/events.py)."""

from __future__ import annotations

from dataclasses import dataclass

from xueliang.core.events import DomainEvent


@dataclass(frozen=True, slots=True)
class UserAccessChanged(DomainEvent):
    """Published in the transaction that logs a session out (`token_hash` names it) or changes a user
    (disabled, new password, role or region: `token_hash` is None, every session of the user)."""

    user_id: int
    token_hash: str | None = None
