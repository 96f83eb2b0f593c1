"""Grid changes as hub events, and who receives them on the grid socket (grid/ws.py).

One rendering for everyone who receives an event: it carries ids, states and counts, never a care
person's name or record, so the board refetches what it shows through the audited routes. Staff who
manage the grid get the events of their subtree; a grid worker the events that name them (their
incident moved, their own check-ins)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from xueliang.accounts.policy import Principal
from xueliang.core.context import AppContext
from xueliang.grid.policy import may_manage
from xueliang.notify.hub import Audience, Event, Hub

TOPIC = "grid"


def grid_event(
    event: str, region_path: str, body: dict[str, Any], user_ids: Iterable[int | None] = ()
) -> Event:
    text = json.dumps({"type": "grid", "event": event, **body}, ensure_ascii=False, default=str)
    users = sorted({u for u in user_ids if u is not None})
    return Event(TOPIC, {"region_path": region_path, "user_ids": users}, {"staff": text})


async def publish(ctx: AppContext, events: Iterable[Event]) -> None:
    """After the commit only: a push must never announce what was rolled back."""
    hub = ctx.services.require(Hub)
    for event in events:
        await hub.publish(event)


def audience_for(p: Principal) -> Audience:
    def choose(event: Event) -> str | None:
        if event.topic != TOPIC:
            return None
        if may_manage(p, event.meta["region_path"]) or p.user_id in event.meta.get("user_ids", ()):
            return "staff"
        return None

    return choose
