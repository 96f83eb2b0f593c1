"""Alarm devices: hardware buttons bound to a household (or a place in a region), so that their
presses are routed. Plain functions over the caller's session: a change is audited in the caller's
transaction, and the caller commits it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.policy import Principal
from xueliang.alarms.models import AlarmDevice
from xueliang.alarms.policy import may_configure_alarms
from xueliang.alarms.schemas import DeviceIn
from xueliang.audit import service as audit
from xueliang.audit.service import Actor
from xueliang.core.errors import NotFound, ValidationFailed
from xueliang.regions.models import Household, Region


async def list_devices(session: AsyncSession, p: Principal) -> list[AlarmDevice]:
    """The devices of the regions the caller may configure."""
    rows = await session.execute(
        select(AlarmDevice, Region.path)
        .join(Region, Region.id == AlarmDevice.region_id)
        .order_by(AlarmDevice.id)
    )
    return [d for d, path in rows.all() if may_configure_alarms(p, path)]


async def register_device(
    session: AsyncSession, p: Principal, actor: Actor, body: DeviceIn, now: datetime
) -> AlarmDevice:
    """Bind a device to a household (its place by default) or to a place in a region."""
    household = await session.get(Household, body.household_id) if body.household_id else None
    region_id = household.region_id if household else body.region_id
    region = await session.get(Region, region_id) if region_id else None
    if region is None or not may_configure_alarms(p, region.path):
        raise NotFound("household or region not found")
    if (await session.scalars(select(AlarmDevice).where(AlarmDevice.device_id == body.device_id))).first():
        raise ValidationFailed(f"device {body.device_id!r} is already registered")
    device = AlarmDevice(
        device_id=body.device_id,
        name=body.name,
        region_id=region.id,
        household_id=household.id if household else None,
        lat=body.lat if body.lat is not None else (household.lat if household else region.lat),
        lon=body.lon if body.lon is not None else (household.lon if household else region.lon),
    )
    session.add(device)
    await session.flush()
    await audit.append(
        session, actor, "alarm.device.register", at=now, target_type="device", target_id=device.device_id
    )
    return device
