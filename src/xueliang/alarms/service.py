"""Alarm intake and workflow as plain functions over a session. The workflow changes (`transition`,
`add_note`) work in the caller's transaction, and the caller commits before it answers and pushes.
Intake owns its transaction instead, because it retries it on a unique-constraint race: it commits
itself, so an answer to the sender always follows a durable commit (alarms/intake.py batches many
presses into one such transaction under load).

Intake is idempotent by the sender's UUID (a unique row per press) and coalesces a flood from one
sender into its open alarm (a unique "open key" per sender), so concurrent presses are settled by the
database, not by luck. Transitions are conditional UPDATEs on the current state: of two operators
acknowledging at once exactly one changes a row; the other gets 409."""

from __future__ import annotations

import uuid as uuid_mod
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Select, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.models import User
from xueliang.accounts.policy import Principal
from xueliang.alarms import escalation
from xueliang.alarms.models import Alarm, AlarmDevice, AlarmEvent, AlarmKind, AlarmPress, AlarmState
from xueliang.alarms.policy import alarm_filter, may_handle_alarm, may_read_alarm
from xueliang.alarms.routing import nearest_cameras, station_of
from xueliang.alarms.workflow import CLOSED, TRANSITIONS, Action
from xueliang.audit import service as audit
from xueliang.audit.service import Actor
from xueliang.core import timers
from xueliang.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from xueliang.regions.models import Household, Region

INTAKE_ATTEMPTS = 5


@dataclass
class Press:
    """One press as received, whatever the channel."""

    uuid: str
    kind: AlarmKind
    source: str
    region_id: int
    household_id: int | None = None
    camera_id: int | None = None
    device_id: str | None = None
    raised_by: int | None = None
    lat: float | None = None
    lon: float | None = None
    pressed_at: datetime | None = None
    note: str = ""
    seq: int | None = None
    sender_key: str | None = None  # presses with the same key coalesce while the alarm is open
    detail: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class IntakeResult:
    alarm: Alarm
    created: bool  # a new alarm was opened
    duplicate: bool  # this UUID had been received before: nothing changed

    @property
    def event(self) -> str | None:
        """What consoles are told, if anything changed."""
        if self.duplicate:
            return None
        return "raised" if self.created else "pressed"


async def intake(session: AsyncSession, press: Press, actor: Actor, now: datetime) -> IntakeResult:
    """Record a press durably; retried on a unique-constraint race, where the winner's row then
    answers (same UUID → the same alarm, same sender → its open alarm)."""
    for attempt in range(INTAKE_ATTEMPTS):
        try:
            result = await _intake_once(session, press, actor, now)
            if press.device_id:
                await touch_devices(session, [press.device_id], now)
            await session.commit()
            return result
        except IntegrityError:
            await session.rollback()
            if attempt == INTAKE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


async def touch_devices(session: AsyncSession, device_ids: Iterable[str], now: datetime) -> None:
    """A button's last sign of life, set in the transaction of its press: one statement per batch."""
    ids = sorted(set(device_ids))
    if ids:
        seen = update(AlarmDevice).where(AlarmDevice.device_id.in_(ids)).values(last_seen_at=now)
        await session.execute(seen)


_OWN_KEYS = uuid_mod.UUID("6f1b7a52-3c2e-4f0e-9a57-0d6c1f3b8e21")


def same_sender(alarm: Alarm, press: Press) -> bool:
    """Whether `alarm` is the one this press's sender made or pressed (so the UUID is a retry of
    theirs): the same sender key, or for staff at a PC (no key) the same person."""
    if press.sender_key or alarm.sender_key:
        return alarm.sender_key == (press.sender_key or "")
    return (alarm.raised_by, alarm.device_id, alarm.camera_id) == (
        press.raised_by,
        press.device_id,
        press.camera_id,
    )


def own_uuid(press: Press) -> str:
    """Where a press whose UUID names another sender's alarm is stored instead. The sender is answered
    as for a new press of their own, never with that alarm (issue 14: a UUID told a stranger the
    alarm's status); the key is derived from the sender and the UUID, so their retries find it."""
    sender = press.sender_key or f"user:{press.raised_by}/dev:{press.device_id}/cam:{press.camera_id}"
    return str(uuid_mod.uuid5(_OWN_KEYS, f"{sender}|{press.uuid}"))


async def alarms_by_uuid(session: AsyncSession, uuids: list[str]) -> dict[str, Alarm]:
    """The alarms that presses with these UUIDs were stored on (one or a batch of them)."""
    rows = await session.execute(
        select(AlarmPress.uuid, Alarm)
        .join(Alarm, Alarm.id == AlarmPress.alarm_id)
        .where(AlarmPress.uuid.in_(uuids))
    )
    return {uuid: alarm for uuid, alarm in rows.all()}


async def _intake_once(session: AsyncSession, press: Press, actor: Actor, now: datetime) -> IntakeResult:
    seen = (await alarms_by_uuid(session, [press.uuid])).get(press.uuid)
    if seen is not None and not same_sender(seen, press):
        press.uuid = own_uuid(press)
        seen = (await alarms_by_uuid(session, [press.uuid])).get(press.uuid)
    if seen is not None:
        return IntakeResult(seen, created=False, duplicate=True)
    if press.sender_key:
        open_alarm = (await session.scalars(select(Alarm).where(Alarm.open_key == press.sender_key))).first()
        if open_alarm is not None:
            return await _coalesce(session, open_alarm, press, now)
    return await _open(session, press, actor, now)


def press_row(alarm_id: int, press: Press, now: datetime) -> AlarmPress:
    return AlarmPress(
        uuid=press.uuid,
        alarm_id=alarm_id,
        source=press.source,
        pressed_at=press.pressed_at,
        received_at=now,
        seq=press.seq,
    )


async def _coalesce(session: AsyncSession, alarm: Alarm, press: Press, now: datetime) -> IntakeResult:
    session.add(press_row(alarm.id, press, now))
    await session.execute(
        update(Alarm)
        .where(Alarm.id == alarm.id)
        .values(press_count=Alarm.press_count + 1, last_press_at=now, version=Alarm.version + 1)
        .execution_options(synchronize_session=False)
    )
    await session.flush()
    await session.refresh(alarm)
    return IntakeResult(alarm, created=False, duplicate=False)


async def build_alarm(session: AsyncSession, press: Press, now: datetime) -> Alarm:
    """A new, unsaved alarm for `press`: routed to its station, with the nearest cameras and its
    first acknowledgement deadline."""
    region = await session.get(Region, press.region_id)
    if region is None:
        raise NotFound("region not found")
    household = await session.get(Household, press.household_id) if press.household_id else None
    station = await station_of(session, region)
    lat, lon = press.lat, press.lon
    if (lat is None or lon is None) and household is not None:
        lat, lon = household.lat, household.lon
    if lat is None or lon is None:
        lat, lon = region.lat, region.lon
    cameras = await nearest_cameras(session, station, lat, lon) if lat is not None and lon is not None else []
    delays = await escalation.delays_for(session, station.id)
    return Alarm(
        uuid=press.uuid,
        kind=press.kind,
        source=press.source,
        state=AlarmState.new,
        sender_key=press.sender_key or "",
        open_key=press.sender_key,
        region_id=region.id,
        region_path=region.path,
        station_region_id=station.id,
        household_id=press.household_id,
        camera_id=press.camera_id,
        device_id=press.device_id,
        raised_by=press.raised_by,
        lat=lat,
        lon=lon,
        cameras=[
            {"camera_id": c.camera_id, "name": c.name, "distance_m": c.distance_m, "covers": c.covers}
            for c in cameras
        ],
        note=press.note,
        pressed_at=press.pressed_at,
        received_at=now,
        last_press_at=now,
        press_count=1,
        ack_due_at=escalation.due_at(now, delays, 1),
        escalation_level=0,
        escalated_at=None,
        version=1,
    )


async def record_opened(
    session: AsyncSession, alarm: Alarm, press: Press, actor: Actor, now: datetime
) -> dict[str, object]:
    """What goes with a new alarm once it has an id: its press, its escalation timer, its history."""
    session.add(press_row(alarm.id, press, now))
    await escalation.schedule_next(session, alarm)
    detail = {"kind": press.kind.value, "source": press.source, "region": alarm.region_path, **press.detail}
    session.add(
        AlarmEvent(
            alarm_id=alarm.id,
            at=now,
            action="raised",
            actor_id=actor.id,
            actor=actor.name,
            note=press.note,
            detail=detail,
        )
    )
    return detail


async def _open(session: AsyncSession, press: Press, actor: Actor, now: datetime) -> IntakeResult:
    alarm = await build_alarm(session, press, now)
    session.add(alarm)
    await session.flush()
    detail = await record_opened(session, alarm, press, actor, now)
    await audit.append(
        session, actor, "alarm.raise", at=now, target_type="alarm", target_id=alarm.id, detail=detail
    )  # its flush writes the press, timer and event too
    return IntakeResult(alarm, created=True, duplicate=False)


@dataclass(frozen=True)
class Change:
    alarm: Alarm
    events: list[str]  # e.g. ["escalated", "acknowledged"]


def _values(action: Action, p: Principal, now: datetime, to: str, user_id: int | None) -> dict[str, object]:
    if action is Action.acknowledge:
        return {"acknowledged_at": now, "acknowledged_by": p.user_id, "ack_due_at": None}
    if action is Action.dispatch:
        return {"dispatched_at": now, "dispatched_to": to, "dispatched_user_id": user_id}
    if action is Action.on_scene:
        return {"on_scene_at": now}
    return {"closed_at": now, "closed_by": p.user_id, "open_key": None, "ack_due_at": None}


async def load_for_action(session: AsyncSession, p: Principal, alarm_id: int) -> Alarm:
    """The alarm if the caller may act on it; 404 when they may not even read it."""
    alarm = await session.get(Alarm, alarm_id, populate_existing=True)
    if alarm is None or not may_read_alarm(p, alarm.region_path, alarm.household_id, alarm.raised_by):
        raise NotFound("alarm not found")
    if not may_handle_alarm(p, alarm.region_path):
        raise Forbidden("your role may not handle alarms", code="forbidden")
    return alarm


async def check_responder(session: AsyncSession, alarm: Alarm, user_id: int) -> None:
    """A responder is a user of the alarm's area (its station's township subtree). Any other id,
    unknown or of another township, gets the same answer, so dispatch cannot enumerate users."""
    row = (
        await session.execute(
            select(User.disabled, Region.path)
            .join(Region, Region.id == User.region_id)
            .where(User.id == user_id)
        )
    ).first()
    station = await session.get(Region, alarm.station_region_id)
    if row is None or row.disabled or station is None or not row.path.startswith(station.path):
        raise ValidationFailed("no such user in this alarm's area", code="unknown_user")


async def transition(
    session: AsyncSession,
    p: Principal,
    actor: Actor,
    alarm_id: int,
    action: Action,
    now: datetime,
    *,
    note: str = "",
    to: str = "",
    user_id: int | None = None,
) -> Change:
    alarm = await load_for_action(session, p, alarm_id)
    if action is Action.dispatch and user_id is not None:
        await check_responder(session, alarm, user_id)
    events: list[str] = []
    if action is Action.acknowledge and await escalation.apply_due(session, alarm, now):
        events.append("escalated")
    sources, target = TRANSITIONS[action]
    result = await session.execute(
        update(Alarm)
        .where(Alarm.id == alarm_id, Alarm.state.in_(sources))
        .values(state=target, version=Alarm.version + 1, **_values(action, p, now, to, user_id))
        .execution_options(synchronize_session=False)
    )
    if timers.rowcount(result) != 1:
        current = await session.get(Alarm, alarm_id, populate_existing=True)
        state = current.state.value if current else "gone"
        raise Conflict(f"alarm is {state}; cannot {action.value}", code="illegal_transition")
    if action is Action.acknowledge or target in CLOSED:
        await timers.cancel(session, escalation.timer_key(alarm_id, alarm.escalation_level + 1))
    detail: dict[str, object] = {"from": alarm.state.value, "to": target.value}
    if action is Action.dispatch:
        detail.update({"dispatched_to": to, "user_id": user_id})
    session.add(
        AlarmEvent(
            alarm_id=alarm_id,
            at=now,
            action=target.value,
            actor_id=actor.id,
            actor=actor.name,
            note=note,
            detail=detail,
        )
    )
    await audit.append(
        session,
        actor,
        f"alarm.{action.value}",
        at=now,
        target_type="alarm",
        target_id=alarm_id,
        detail=detail,
    )
    fresh = await session.get(Alarm, alarm_id, populate_existing=True)
    assert fresh is not None
    return Change(fresh, [*events, target.value])


async def add_note(
    session: AsyncSession, p: Principal, actor: Actor, alarm_id: int, note: str, now: datetime
) -> Change:
    alarm = await load_for_action(session, p, alarm_id)
    session.add(
        AlarmEvent(alarm_id=alarm.id, at=now, action="note", actor_id=actor.id, actor=actor.name, note=note)
    )
    await session.execute(
        update(Alarm)
        .where(Alarm.id == alarm_id)
        .values(version=Alarm.version + 1)
        .execution_options(synchronize_session=False)
    )
    fresh = await session.get(Alarm, alarm_id, populate_existing=True)
    assert fresh is not None
    return Change(fresh, ["note"])


async def get_alarm(session: AsyncSession, p: Principal, alarm_id: int) -> Alarm:
    alarm = await session.get(Alarm, alarm_id)
    if alarm is None or not may_read_alarm(p, alarm.region_path, alarm.household_id, alarm.raised_by):
        raise NotFound("alarm not found")
    return alarm


@dataclass(frozen=True)
class AlarmQuery:
    state: AlarmState | None = None
    kind: AlarmKind | None = None
    open_only: bool = False
    escalated: bool | None = None
    station_region_id: int | None = None
    region_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def scoped(p: Principal, q: AlarmQuery) -> Select[Alarm]:
    stmt = select(Alarm).where(alarm_filter(p, Alarm.region_path, Alarm.household_id, Alarm.raised_by))
    if q.state is not None:
        stmt = stmt.where(Alarm.state == q.state)
    if q.kind is not None:
        stmt = stmt.where(Alarm.kind == q.kind)
    if q.open_only:
        stmt = stmt.where(Alarm.state.not_in(CLOSED))
    if q.escalated is not None:
        stmt = stmt.where(Alarm.escalation_level > 0 if q.escalated else Alarm.escalation_level == 0)
    if q.station_region_id is not None:
        stmt = stmt.where(Alarm.station_region_id == q.station_region_id)
    if q.region_id is not None:
        stmt = stmt.where(Alarm.region_id == q.region_id)
    if q.since is not None:
        stmt = stmt.where(Alarm.received_at >= q.since)
    if q.until is not None:
        stmt = stmt.where(Alarm.received_at < q.until)
    return stmt


async def list_alarms(
    session: AsyncSession, p: Principal, q: AlarmQuery, limit: int = 100, offset: int = 0
) -> list[Alarm]:
    stmt = scoped(p, q).order_by(Alarm.received_at.desc(), Alarm.id.desc()).limit(limit).offset(offset)
    return list((await session.scalars(stmt)).all())
