"""Where alarms meet the other domains: who is pressing (accounts), for which household or place
(regions), from which device or camera (cameras), and the push after the commit (notify)."""

from __future__ import annotations

import uuid as uuid_mod
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.models import Role
from xueliang.accounts.policy import Permission, Principal, allows, in_scope
from xueliang.alarms import service
from xueliang.alarms.intake import IntakeBatcher, ready
from xueliang.alarms.models import AlarmDevice, AlarmKind
from xueliang.alarms.policy import may_raise_alarm_for
from xueliang.alarms.push import publish_alarm
from xueliang.alarms.schemas import AlarmIn
from xueliang.alarms.service import IntakeResult, Press
from xueliang.audit.service import SYSTEM, Actor
from xueliang.cameras.models import Camera
from xueliang.core.context import AppContext
from xueliang.core.errors import Forbidden, NotFound, ValidationFailed
from xueliang.regions.models import Household, Region

# Phone users press a big button and may press it again and again: coalesce per person. Staff at a
# PC report distinct incidents: every report is its own alarm.
COALESCE_PER_USER = frozenset({Role.volunteer, Role.grid_worker})


async def press_from_caller(session: AsyncSession, p: Principal, body: AlarmIn) -> Press:
    if not (allows(p, Permission.raise_alarm) or allows(p, Permission.handle_alarms)):
        raise Forbidden("your role may not raise alarms", code="forbidden")
    household_id = p.household_id if p.role is Role.resident else body.household_id
    if p.role is Role.resident and household_id is None:
        raise ValidationFailed("this account has no household to raise an alarm for")
    press = Press(
        uuid=body.uuid,
        kind=body.kind,
        source=body.source,
        region_id=p.region_id,
        raised_by=p.user_id,
        lat=body.lat,
        lon=body.lon,
        pressed_at=body.pressed_at,
        note=body.note,
    )
    if household_id is not None:
        household = await session.get(Household, household_id)
        region = await session.get(Region, household.region_id) if household else None
        if household is None or region is None or not may_raise_alarm_for(p, household_id, region.path):
            raise NotFound("household not found")
        press.household_id, press.region_id, press.sender_key = household.id, region.id, f"hh:{household.id}"
        return press
    if body.region_id is not None:
        region = await session.get(Region, body.region_id)
        if region is None or not in_scope(p, region.path):
            raise NotFound("region not found")
        press.region_id = region.id
    if p.role in COALESCE_PER_USER:
        press.sender_key = f"user:{p.user_id}"
    return press


async def raise_from_caller(
    ctx: AppContext, reader: AsyncSession, p: Principal, actor: Actor, body: AlarmIn
) -> IntakeResult:
    """`reader` only looks the press up; the write is the intake batch's (or, without one, a
    session of its own), so the request never holds a write turn while it waits for the commit."""
    press = await press_from_caller(reader, p, body)
    await reader.rollback()
    batcher = ctx.services.get(IntakeBatcher)
    if batcher is not None:
        return await batcher.submit(ready(press), actor)
    async with ctx.db.session() as session:
        result = await service.intake(session, press, actor, ctx.clock.now())
        if result.event:
            await publish_alarm(ctx, session, result.alarm, [result.event])
        return result


@dataclass(frozen=True)
class DevicePress:
    device_id: str
    uuid: str
    kind: AlarmKind
    household_code: str | None
    pressed_at: datetime | None
    seq: int | None


class UnknownDevice(Exception):
    """Neither a registered device nor a known household code: nowhere to route the alarm."""


_DEVICE_ROUTE = select(
    AlarmDevice.device_id, AlarmDevice.region_id, AlarmDevice.household_id, AlarmDevice.lat, AlarmDevice.lon
).where(AlarmDevice.device_id == bindparam("device_id"))


async def press_from_device(session: AsyncSession, dp: DevicePress, now: datetime) -> Press:
    """Where a button's press goes. The device's `last_seen_at` is the intake batch's to update, in
    one statement for all the batch's devices."""
    device = (await session.execute(_DEVICE_ROUTE, {"device_id": dp.device_id})).first()
    press = Press(
        uuid=dp.uuid,
        kind=dp.kind,
        source="mqtt",
        region_id=0,
        device_id=dp.device_id,
        pressed_at=dp.pressed_at,
        seq=dp.seq,
    )
    household: Household | None = None
    if device is not None:
        press.region_id, press.lat, press.lon = device.region_id, device.lat, device.lon
        if device.household_id is not None:
            household = await session.get(Household, device.household_id)
    if household is None and dp.household_code:
        household = (
            await session.scalars(select(Household).where(Household.code == dp.household_code))
        ).first()
        if household is not None and device is None:
            press.detail["unregistered_device"] = True
    if household is not None:
        press.household_id, press.region_id, press.sender_key = (
            household.id,
            household.region_id,
            f"hh:{household.id}",
        )
    elif device is not None:
        press.sender_key = f"dev:{device.device_id}"
    else:
        raise UnknownDevice(dp.device_id)
    return press


async def raise_from_device(ctx: AppContext, dp: DevicePress) -> IntakeResult:
    actor = Actor(None, f"device:{dp.device_id}"[:64], "mqtt")
    batcher = ctx.services.get(IntakeBatcher)
    if batcher is not None:

        async def resolve(session: AsyncSession, now: datetime) -> Press:
            return await press_from_device(session, dp, now)

        return await batcher.submit(resolve, actor)
    async with ctx.db.session() as session:
        now = ctx.clock.now()
        press = await press_from_device(session, dp, now)
        result = await service.intake(session, press, actor, now)
        if result.event:
            await publish_alarm(ctx, session, result.alarm, [result.event])
        return result


async def raise_technical_alarm(ctx: AppContext, camera_id: int, reason: str) -> IntakeResult:
    """For the media engine: a camera went offline. One open alarm per camera; repeated reports while
    it is open are counted on it. Closing it is an operator's decision, like any alarm."""
    async with ctx.db.session() as session:
        camera = await session.get(Camera, camera_id)
        if camera is None:
            raise NotFound("camera not found")
        press = Press(
            uuid=str(uuid_mod.uuid4()),
            kind=AlarmKind.camera_offline,
            source="system",
            region_id=camera.region_id,
            camera_id=camera.id,
            lat=camera.lat,
            lon=camera.lon,
            note=reason[:1000],
            sender_key=f"cam:{camera.id}:offline",
            detail={"camera": camera.gb_id, "reason": reason[:200]},
        )
        result = await service.intake(session, press, SYSTEM, ctx.clock.now())
        if result.event:
            await publish_alarm(ctx, session, result.alarm, [result.event])
        return result
