"""Escalation: an alarm still `new` when its acknowledgement falls due goes up a level (the county,
then further levels if the station configures them). Driven by durable timers, so an escalation due
while the server was down fires when it starts; the acknowledge path also applies any escalation
already due, so "escalated iff not acknowledged in time" holds however late the runner is."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.alarms.cache import cached
from xueliang.alarms.models import Alarm, AlarmEvent, AlarmState, StationConfig
from xueliang.alarms.routing import escalation_target
from xueliang.audit import service as audit
from xueliang.audit.service import SYSTEM
from xueliang.core import timers
from xueliang.regions.models import Region

TIMER_KIND = "alarm.escalate"
DEFAULT_ESCALATE_AFTER_S = (60,)


def timer_key(alarm_id: int, level: int) -> str:
    return f"alarm-escalate:{alarm_id}:{level}"


async def delays_for(session: AsyncSession, station_region_id: int) -> list[int]:
    """Seconds after receipt at which each level falls due (cumulative, increasing)."""

    async def load() -> list[int]:
        q = select(StationConfig.escalate_after_s).where(StationConfig.region_id == station_region_id)
        found = (await session.execute(q)).scalar_one_or_none()
        return list(found) if found else list(DEFAULT_ESCALATE_AFTER_S)

    return list(await cached(session, "delays", station_region_id, load))


def due_at(received_at: datetime, delays: list[int], level: int) -> datetime | None:
    """When level `level` (1-based) falls due, or None if there is no such level."""
    if level > len(delays):
        return None
    return received_at + timedelta(seconds=delays[level - 1])


async def schedule_next(session: AsyncSession, alarm: Alarm) -> None:
    """Put the timer for the alarm's next escalation (at `ack_due_at`, if any) in the transaction."""
    if alarm.ack_due_at is not None:
        level = alarm.escalation_level + 1
        payload = {"alarm_id": alarm.id, "level": level}
        await timers.schedule(session, TIMER_KIND, alarm.ack_due_at, payload, key=timer_key(alarm.id, level))


async def escalate(session: AsyncSession, alarm_id: int, level: int, now: datetime) -> Alarm | None:
    """Raise the alarm to `level` if it is still new and below it; returns the alarm if it did."""
    result = await session.execute(
        update(Alarm)
        .where(Alarm.id == alarm_id, Alarm.state == AlarmState.new, Alarm.escalation_level < level)
        .values(escalation_level=level, escalated_at=now, version=Alarm.version + 1)
        .execution_options(synchronize_session=False)
    )
    if timers.rowcount(result) != 1:
        return None
    alarm = await session.get(Alarm, alarm_id, populate_existing=True)
    assert alarm is not None
    station = await session.get(Region, alarm.station_region_id)
    assert station is not None
    to = await escalation_target(session, station, level)
    delays = await delays_for(session, alarm.station_region_id)
    late_s = (now - alarm.received_at).total_seconds()
    detail = {"level": level, "to_region": to.code, "to_name": to.name, "unacknowledged_s": round(late_s, 1)}
    session.add(AlarmEvent(alarm_id=alarm.id, at=now, action="escalated", actor="system", detail=detail))
    await audit.append(
        session, SYSTEM, "alarm.escalate", at=now, target_type="alarm", target_id=alarm.id, detail=detail
    )
    await timers.cancel(session, timer_key(alarm.id, level))
    alarm.ack_due_at = due_at(alarm.received_at, delays, level + 1)
    await schedule_next(session, alarm)
    return alarm


async def apply_due(session: AsyncSession, alarm: Alarm, now: datetime) -> bool:
    """Apply every escalation already due for a still-new alarm (used right before acknowledging)."""
    escalated = False
    while alarm.state is AlarmState.new and alarm.ack_due_at is not None and now >= alarm.ack_due_at:
        done = await escalate(session, alarm.id, alarm.escalation_level + 1, now)
        if done is None:
            break
        alarm = done
        escalated = True
    return escalated
