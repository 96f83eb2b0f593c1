"""Alarm rows to API types: the staff view with household, village and cameras, and the sender's view."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.alarms.cache import cached
from xueliang.alarms.models import Alarm, AlarmEvent, AlarmState
from xueliang.alarms.schemas import AlarmDetailOut, AlarmEventOut, AlarmOut, AlarmStatusOut, CameraRef
from xueliang.regions.models import Household, Region


def status_word(state: AlarmState) -> str:
    """What the sender's screen says: received by the station, an operator is on it, closed."""
    if state is AlarmState.new:
        return "received"
    if state in (AlarmState.resolved, AlarmState.false_alarm):
        return "closed"
    return "in_progress"


def status_out(alarm: Alarm) -> AlarmStatusOut:
    return AlarmStatusOut(
        id=alarm.id,
        uuid=alarm.uuid,
        kind=alarm.kind,
        state=alarm.state,
        status=status_word(alarm.state),
        received_at=alarm.received_at,
        acknowledged_at=alarm.acknowledged_at,
        closed_at=alarm.closed_at,
        press_count=alarm.press_count,
        version=alarm.version,
    )


@dataclass(frozen=True)
class Place:
    name: str


@dataclass(frozen=True)
class Home:
    code: str
    address: str
    head: str
    phone: str


async def _region(session: AsyncSession, region_id: int) -> Place:
    async def load() -> Place:
        name = (await session.execute(select(Region.name).where(Region.id == region_id))).scalar_one()
        return Place(name)

    return await cached(session, "region-name", region_id, load)


async def _home(session: AsyncSession, household_id: int) -> Home:
    async def load() -> Home:
        hh = await session.get(Household, household_id)
        assert hh is not None
        return Home(hh.code, hh.address, hh.head_name, hh.phone)

    return await cached(session, "household", household_id, load)


async def alarm_out(session: AsyncSession, alarm: Alarm) -> AlarmOut:
    """Names come from the short-lived routing cache: pushing to consoles costs no queries."""
    region = await _region(session, alarm.region_id)
    station = await _region(session, alarm.station_region_id)
    household = await _home(session, alarm.household_id) if alarm.household_id else None
    return AlarmOut(
        **status_out(alarm).model_dump(),
        source=alarm.source,
        region_id=alarm.region_id,
        region_name=region.name,
        region_path=alarm.region_path,
        station_region_id=alarm.station_region_id,
        station_name=station.name,
        household_id=alarm.household_id,
        household_code=household.code if household else None,
        household_address=household.address if household else None,
        household_head=household.head if household else None,
        household_phone=household.phone if household else None,
        camera_id=alarm.camera_id,
        device_id=alarm.device_id,
        raised_by=alarm.raised_by,
        lat=alarm.lat,
        lon=alarm.lon,
        cameras=[CameraRef(**c) for c in alarm.cameras],
        note=alarm.note,
        pressed_at=alarm.pressed_at,
        last_press_at=alarm.last_press_at,
        ack_due_at=alarm.ack_due_at,
        escalation_level=alarm.escalation_level,
        escalated_at=alarm.escalated_at,
        acknowledged_by=alarm.acknowledged_by,
        dispatched_at=alarm.dispatched_at,
        dispatched_to=alarm.dispatched_to,
        dispatched_user_id=alarm.dispatched_user_id,
        on_scene_at=alarm.on_scene_at,
        closed_by=alarm.closed_by,
    )


async def alarm_detail(session: AsyncSession, alarm: Alarm) -> AlarmDetailOut:
    events = await session.scalars(
        select(AlarmEvent).where(AlarmEvent.alarm_id == alarm.id).order_by(AlarmEvent.at, AlarmEvent.id)
    )
    base = await alarm_out(session, alarm)
    return AlarmDetailOut(
        **base.model_dump(),
        events=[
            AlarmEventOut(at=e.at, action=e.action, actor=e.actor, note=e.note, detail=e.detail)
            for e in events
        ],
    )
