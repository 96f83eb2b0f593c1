"""Station configuration: how long after receipt an alarm a police station has not acknowledged
escalates, level by level. Plain functions over the caller's session: a change is audited in the
caller's transaction, and the caller commits it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.policy import Principal
from xueliang.alarms import cache
from xueliang.alarms.escalation import delays_for
from xueliang.alarms.models import StationConfig
from xueliang.alarms.policy import may_configure_alarms
from xueliang.audit import service as audit
from xueliang.audit.service import Actor
from xueliang.core.errors import NotFound
from xueliang.regions.models import Region


async def configurable_station(session: AsyncSession, p: Principal, region_id: int) -> Region:
    """The station's region if the caller may configure it; otherwise NotFound, as if it were missing."""
    region = await session.get(Region, region_id)
    if region is None or not may_configure_alarms(p, region.path):
        raise NotFound("station not found")
    return region


async def escalation_delays(session: AsyncSession, p: Principal, region_id: int) -> list[int]:
    await configurable_station(session, p, region_id)
    return await delays_for(session, region_id)


async def set_escalation_delays(
    session: AsyncSession,
    p: Principal,
    actor: Actor,
    region_id: int,
    escalate_after_s: Sequence[int],
    now: datetime,
) -> list[int]:
    """Applies to alarms received from now on."""
    await configurable_station(session, p, region_id)
    found = (await session.scalars(select(StationConfig).where(StationConfig.region_id == region_id))).first()
    if found is None:
        found = StationConfig(region_id=region_id)
        session.add(found)
    found.escalate_after_s = list(escalate_after_s)
    cache.forget(session, "delays", region_id)
    await audit.append(
        session,
        actor,
        "alarm.station.config",
        at=now,
        target_type="region",
        target_id=region_id,
        detail={"escalate_after_s": list(escalate_after_s)},
    )
    return found.escalate_after_s
