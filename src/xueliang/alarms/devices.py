"""Alarm devices: hardware buttons bound to a household (or a place in a region), so that their
presses are routed. Plain functions over the caller's session: a change is audited in the caller's
transaction, and the caller commits it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.models import Role
from xueliang.accounts.policy import Principal
from xueliang.alarms.models import Alarm, AlarmDevice
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


async def device_areas(session: AsyncSession, device_id: str) -> set[str]:
    """Where a button belongs: the region it is registered to, else the regions of the alarms it
    raised unregistered (routed by the household code it sent); empty for an id never seen."""
    registered = (
        await session.execute(
            select(Region.path)
            .join(AlarmDevice, AlarmDevice.region_id == Region.id)
            .where(AlarmDevice.device_id == device_id)
        )
    ).scalar_one_or_none()
    if registered is not None:
        return {registered}
    pressed = await session.scalars(select(Alarm.region_path).where(Alarm.device_id == device_id).distinct())
    return set(pressed.all())


def may_claim(p: Principal, areas: set[str]) -> bool:
    """A county admin registers any button; an operator only one whose area (`device_areas`) lies
    wholly in their township: a button nobody has seen yet has no area, so the county registers it,
    or it presses once with its household code and its township's operator may then claim it."""
    if not areas:
        return p.role is Role.admin
    return all(may_configure_alarms(p, path) for path in areas)


async def register_device(
    session: AsyncSession, p: Principal, actor: Actor, body: DeviceIn, now: datetime
) -> AlarmDevice:
    """Bind a device to a household (its place by default) or to a place in a region."""
    household = await session.get(Household, body.household_id) if body.household_id else None
    region_id = household.region_id if household else body.region_id
    region = await session.get(Region, region_id) if region_id else None
    if region is None or not may_configure_alarms(p, region.path):
        raise NotFound("household or region not found")
    areas = await device_areas(session, body.device_id)
    if not may_claim(p, areas):
        raise NotFound("device not found")  # another area's button answers like an unknown one
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
