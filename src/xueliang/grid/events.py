"""What the grid domain tells others: a notice for a station was raised (a checkpoint missed when its
route's window closed, a day's visit missed, an "I'm OK" follow-up not done in time).

The grid's own board hears it on the grid socket (grid/push.py). Anything else that should show it
(the station's alarm console, a federation parent) subscribes to `GridNoticeRaised` on the app's
event bus (core/events.py) from a layer above the domains, so the grid imports none of them and they
import no grid internals. Emitted after the commit that stored the notice, once per notice (its
unique key: a re-fired timer stores and emits nothing)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from xueliang.core.events import DomainEvent
from xueliang.notify.hub import Event


@dataclass(frozen=True, slots=True)
class GridNoticeRaised(DomainEvent):
    """`kind`: missed_checkpoint, missed_visit, missed_followup; `region_path`: the village's path
    (who may see it is decided by the subscriber's own policy); `text`: the bilingual line the board
    shows; `detail`: ids only (route, checkpoint, person, task, user, day), never a person's record."""

    kind: str
    region_path: str
    text: str
    detail: dict[str, Any] = field(default_factory=dict)


def notice_of(event: Event) -> GridNoticeRaised | None:
    """The domain event for a grid hub event that carries a stored notice (tasks.notice_event), or
    None for every other grid event."""
    if event.topic != "grid":
        return None
    body = json.loads(event.texts.get("staff", "{}"))
    notice = body.get("notice") if body.get("event") == "notice" else None
    if not isinstance(notice, dict):
        return None
    return GridNoticeRaised(
        kind=str(notice.get("kind", "")),
        region_path=str(event.meta.get("region_path", "")),
        text=str(notice.get("text", "")),
        detail=dict(notice.get("detail") or {}),
    )
