"""What the alarms domain tells others once a change is committed: an alarm was raised, or it changed
(pressed again, acknowledged, dispatched, escalated, mobilized, resolved...). The coming federation
outbox forwards them upward; nothing in alarms knows who listens (core/events.py)."""

from __future__ import annotations

from dataclasses import dataclass

from xueliang.core.events import DomainEvent


@dataclass(frozen=True, slots=True)
class AlarmChanged(DomainEvent):
    """`change` is the word the consoles are pushed ("pressed", "acknowledged", "escalated", ...)."""

    alarm_id: int
    region_path: str
    change: str


@dataclass(frozen=True, slots=True)
class AlarmRaised(AlarmChanged):
    """A new alarm (`change` is "raised"); listeners of `AlarmChanged` see it too."""
