"""A village's coverage from the database, and a small cache of results (盲区分析, issue 16).

`load_village` reads one village's inputs (its boundary, the enabled cameras, settlement places and
located households of its subtree); the routes come from the caller, who owns the route tables.
`CoverageCache.get` computes in a worker thread (shapely releases the GIL) and keeps the result until
something it depends on changes: a camera (the CameraChanged listener `install_coverage` subscribes
invalidates everything, since a deleted camera no longer says where it was), a boundary or the
households (the caller calls `invalidate(region_id)`), or the routes (part of the key, so new routes
are a new entry even if the caller forgets to invalidate).

Access: these functions do not check scope; the route that answers must (the village in the caller's
scope, out of scope answering 404 exactly like a missing village) and must audit the read with
`audit_read`, since the result lists households. Nothing here commits.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.audit import service as audit
from xueliang.audit.service import Actor
from xueliang.cameras.events import CameraChanged
from xueliang.cameras.models import Camera
from xueliang.core.context import AppContext
from xueliang.core.errors import NotFound, ValidationFailed
from xueliang.grid.coverage import (
    CameraView,
    Coverage,
    PointInput,
    RouteLine,
    VillageInput,
    compute,
    parse_boundary,
)
from xueliang.regions.models import Household, Place, Region, RegionLevel

SETTLEMENT = "settlement"  # Place.kind of a settlement point (regions/geojson_import.py PLACE_KINDS)


class VillageNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("village not found")


class NoBoundary(ValidationFailed):
    """The village has no usable boundary, so it has no area to cover: a 422, never a 500."""


async def load_village(
    session: AsyncSession, region_id: int, routes: Sequence[RouteLine] = ()
) -> VillageInput:
    """The inputs of `coverage.compute` for one village; VillageNotFound for anything but a village."""
    region = await session.get(Region, region_id)
    if region is None or region.level is not RegionLevel.village:
        raise VillageNotFound()
    try:
        parse_boundary(region.boundary)
    except ValueError as exc:
        raise NoBoundary(str(exc)) from exc
    subtree = Region.path.startswith(region.path, autoescape=True)
    cams = (
        await session.execute(
            select(Camera.id, Camera.lat, Camera.lon, Camera.heading, Camera.fov_angle, Camera.fov_range)
            .join(Region, Region.id == Camera.region_id)
            .where(subtree, Camera.enabled.is_(True))
            .order_by(Camera.id)
        )
    ).all()
    places = (
        await session.execute(
            select(Place.id, Place.lat, Place.lon)
            .join(Region, Region.id == Place.region_id)
            .where(subtree, Place.kind == SETTLEMENT)
            .order_by(Place.id)
        )
    ).all()
    houses = (
        await session.execute(
            select(Household.id, Household.lat, Household.lon)
            .join(Region, Region.id == Household.region_id)
            .where(subtree, Household.lat.is_not(None), Household.lon.is_not(None))
            .order_by(Household.id)
        )
    ).all()
    return VillageInput(
        region_id=region.id,
        boundary=region.boundary or {},
        cameras=tuple(CameraView(*row) for row in cams),
        routes=tuple(routes),
        settlements=tuple(PointInput(*row) for row in places),
        households=tuple(
            PointInput(i, lat, lon) for i, lat, lon in houses if lat is not None and lon is not None
        ),
    )


async def village_coverage(
    session: AsyncSession, region_id: int, routes: Sequence[RouteLine] = ()
) -> Coverage:
    """Load and compute, uncached (the geometry runs in a worker thread)."""
    village = await load_village(session, region_id, routes)
    return await asyncio.to_thread(compute, village)


class CoverageCache:
    """Results per village, valid while the versions they were computed under are current.

    Versions: one for all villages (bumped by any camera change) and one per village (bumped by its
    boundary, households or routes changing); the routes themselves are also part of the key."""

    def __init__(self, max_villages: int = 2048) -> None:
        self._all = 0
        self._per_region: dict[int, int] = {}
        self._entries: OrderedDict[int, tuple[tuple[int, int, tuple[RouteLine, ...]], Coverage]] = (
            OrderedDict()
        )
        self._max = max_villages

    def invalidate(self, region_id: int | None = None) -> None:
        """Forget one village's result (None: every village's)."""
        if region_id is None:
            self._all += 1
            self._entries.clear()
        else:
            self._per_region[region_id] = self._per_region.get(region_id, 0) + 1
            self._entries.pop(region_id, None)

    def version(self, region_id: int) -> tuple[int, int]:
        return self._all, self._per_region.get(region_id, 0)

    async def get(self, session: AsyncSession, region_id: int, routes: Sequence[RouteLine] = ()) -> Coverage:
        """The cached result, or a fresh one stored under the versions read *before* loading (so an
        invalidation during the computation is never lost)."""
        key = (*self.version(region_id), tuple(routes))
        hit = self._entries.get(region_id)
        if hit is not None and hit[0] == key:
            self._entries.move_to_end(region_id)
            return hit[1]
        result = await village_coverage(session, region_id, key[2])
        if self.version(region_id) == key[:2]:
            self._entries[region_id] = (key, result)
            self._entries.move_to_end(region_id)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)
        return result


def install_coverage(ctx: AppContext) -> None:
    """Registers the CoverageCache and invalidates it on every camera change; the grid runtime's
    `install` calls this (`ctx.services.require(CoverageCache)` then finds it)."""
    cache = ctx.services.add(CoverageCache())

    async def camera_changed(_event: CameraChanged) -> None:
        cache.invalidate()

    ctx.events.subscribe(CameraChanged, camera_changed)


async def audit_read(session: AsyncSession, actor: Actor, result: Coverage, *, now: datetime) -> None:
    """The audit row of a coverage read (it names households that no one sees), in the caller's
    transaction."""
    await audit.append(
        session,
        actor,
        "grid.coverage.view",
        at=now,
        target_type="region",
        target_id=result.region_id,
        detail={
            "households": result.either.households.total,
            "uncovered_households": len(result.uncovered_households),
        },
    )
