"""A village's coverage from the database (盲区分析, issue 16); results are cached by `CoverageCache`
(grid/coverage_cache.py).

`load_village` reads one village's inputs (its boundary, the enabled cameras, settlement places and
located households of its subtree); the routes come from the caller, who owns the route tables.
`CoverageCache.get` computes in a worker thread (shapely releases the GIL) and keeps the result until
something it depends on changes: a camera (the CameraChanged listener `install_coverage` subscribes
invalidates everything, since a deleted camera no longer says where it was), a boundary, the
households, settlements or cameras (the village's fingerprint, read on every lookup, is part of the
key: no caller has to invalidate), or the routes (part of the key as well).

Access: these functions do not check scope; the route that answers must (the village in the caller's
scope, out of scope answering 404 exactly like a missing village) and must audit the read with
`audit_read`, since the result lists households. Nothing here commits.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.audit import service as audit
from xueliang.audit.service import Actor
from xueliang.cameras.models import Camera
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
from xueliang.grid.errors import refused
from xueliang.regions.models import Household, Place, Region, RegionLevel

SETTLEMENT = "settlement"  # Place.kind of a settlement point (regions/geojson_import.py PLACE_KINDS)


class VillageNotFound(NotFound):
    """Anything but a village in scope (errors.py "village.not_found")."""


class NoBoundary(ValidationFailed):
    """The village has no usable boundary, so it has no area to cover: a 422, never a 500."""


async def load_village(
    session: AsyncSession, region_id: int, routes: Sequence[RouteLine] = ()
) -> VillageInput:
    """The inputs of `coverage.compute` for one village; VillageNotFound for anything but a village."""
    region = await session.get(Region, region_id)
    if region is None or region.level is not RegionLevel.village:
        raise refused(VillageNotFound, "village.not_found")
    try:
        parse_boundary(region.boundary)
    except ValueError as exc:
        raise refused(NoBoundary, "coverage.no_boundary", reason=str(exc)) from exc
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
