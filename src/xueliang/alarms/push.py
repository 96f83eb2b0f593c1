"""Alarm and task changes as hub events, and who receives which rendering.

Staff in scope get the full alarm ("staff"); the sender (resident household, or whoever raised it)
gets the status view ("owner"); a task goes to its assignee and to staff of the village."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.policy import Principal
from xueliang.alarms.events import AlarmChanged, AlarmRaised
from xueliang.alarms.models import Alarm
from xueliang.alarms.policy import may_handle_alarm, may_read_alarm
from xueliang.alarms.render import alarm_out, status_out
from xueliang.alarms.schemas import TaskOut
from xueliang.core.context import AppContext
from xueliang.notify.hub import Audience, Event, Hub


def _json(message: dict[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"), default=str)


def _dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


async def alarm_event(session: AsyncSession, alarm: Alarm, event: str) -> Event:
    full = await alarm_out(session, alarm)
    meta = {
        "alarm_id": alarm.id,
        "region_path": alarm.region_path,
        "household_id": alarm.household_id,
        "raised_by": alarm.raised_by,
        "device_id": alarm.device_id,
    }
    texts = {
        "staff": _json({"type": "alarm", "event": event, "alarm": _dump(full)}),
        "owner": _json({"type": "alarm", "event": event, "alarm": _dump(status_out(alarm))}),
    }
    if alarm.device_id:
        status = _dump(status_out(alarm))
        texts["device"] = _json({"device_id": alarm.device_id, "event": event, "alarm": status})
    return Event("alarm", meta, texts)


def task_event(task: TaskOut, region_path: str, event: str) -> Event:
    text = _json({"type": "task", "event": event, "task": _dump(task)})
    return Event(
        "task", {"region_path": region_path, "user_id": task.user_id}, {"staff": text, "owner": text}
    )


def station_notice_event(region_path: str, kind: str, text: str, detail: dict[str, Any]) -> Event:
    """A notice for the staff who handle alarms at `region_path` (a missed patrol checkpoint or care
    visit from the grid, ...): shown in the alarm console beside the alarms, not an alarm itself.
    Another domain's event is turned into this one above the domains (app.py), so they stay apart."""
    text_json = _json({"type": "notice", "notice": {"kind": kind, "text": text, "detail": detail}})
    return Event("station", {"region_path": region_path}, {"staff": text_json})


async def publish_alarm(ctx: AppContext, session: AsyncSession, alarm: Alarm, events: list[str]) -> None:
    """Call after the commit; one message per event, in order, to the consoles and then to the
    domain's listeners (`AlarmRaised`/`AlarmChanged`)."""
    hub = ctx.services.require(Hub)
    for name in events:
        await hub.publish(await alarm_event(session, alarm, name))
    for name in events:
        kind = AlarmRaised if name == "raised" else AlarmChanged
        await ctx.events.emit(kind(alarm.id, alarm.region_path, name))


def audience_for(p: Principal) -> Audience:
    def choose(event: Event) -> str | None:
        m = event.meta
        if event.topic == "alarm":
            if may_handle_alarm(p, m["region_path"]):
                return "staff"
            if may_read_alarm(p, m["region_path"], m.get("household_id"), m.get("raised_by")):
                return "owner"
            return None
        if event.topic == "station":  # a notice for the station's staff (station_notice_event)
            return "staff" if may_handle_alarm(p, m["region_path"]) else None
        if event.topic == "task":
            if m.get("user_id") == p.user_id:
                return "owner"
            return "staff" if may_handle_alarm(p, m["region_path"]) else None
        return None

    return choose
