"""What the cameras domain tells others: an admin changed a camera, a camera's stream came or went.

The media plane re-reads a changed camera; alarms raise a technical alarm for a camera that went
offline. Neither is imported here: they subscribe on the app's event bus (core/events.py)."""

from __future__ import annotations

from dataclasses import dataclass

from xueliang.core.events import DomainEvent


@dataclass(frozen=True, slots=True)
class CameraChanged(DomainEvent):
    """A camera was created, edited or deleted (published in the admin's transaction)."""

    camera_id: int


@dataclass(frozen=True, slots=True)
class CameraStatusChanged(DomainEvent):
    """A camera's stream went `online` or `offline` (emitted by the media plane as it sees it, or by the
    federation as the child node that hosts the camera reported it: `reported`)."""

    camera_id: int
    status: str
    reason: str
    reported: bool = False
