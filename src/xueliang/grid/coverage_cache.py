"""The coverage cache (grid/coverage_service.py computes): installed with the node, so this module
imports no shapely; the computation and its libraries load on the first coverage request.

A result is kept only while what it was computed from is unchanged, and nobody has to remember to
say so: every lookup first reads the village's *fingerprint* (its boundary's hash and aggregates of
its located households, settlement places and enabled cameras: counts, id maxima and coordinate
sums, three indexed aggregate queries, milliseconds) and a changed fingerprint is a miss. So a
boundary re-imported, a household moved, a camera turned or disabled, by any code path (an admin
route, a GeoJSON import, a federation sync, SQL by hand), recomputes the next answer. The routes
are part of the key; the CameraChanged listener drops everything at once as before."""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.cameras.events import CameraChanged
from xueliang.cameras.models import Camera
from xueliang.core.context import AppContext
from xueliang.regions.models import Household, Place, Region

if TYPE_CHECKING:
    from xueliang.grid.coverage import Coverage, RouteLine


async def fingerprint(session: AsyncSession, region_id: int) -> tuple[Any, ...]:
    """What a village's coverage depends on, condensed (see the module's docstring); () for a region
    that does not exist (the computation then answers its 404)."""
    region = await session.get(Region, region_id)
    if region is None:
        return ()
    subtree = Region.path.startswith(region.path, autoescape=True)
    shape = hashlib.sha256(json.dumps(region.boundary, sort_keys=True).encode()).hexdigest()
    houses = (
        await session.execute(
            select(
                func.count(Household.id),
                func.max(Household.id),
                func.sum(Household.lat),
                func.sum(Household.lon),
            )
            .join(Region, Region.id == Household.region_id)
            .where(subtree, Household.lat.is_not(None), Household.lon.is_not(None))
        )
    ).one()
    places = (
        await session.execute(
            select(func.count(Place.id), func.max(Place.id), func.sum(Place.lat), func.sum(Place.lon))
            .join(Region, Region.id == Place.region_id)
            .where(subtree, Place.kind == "settlement")
        )
    ).one()
    cams = (
        await session.execute(
            select(
                func.count(Camera.id),
                func.max(Camera.id),
                func.sum(Camera.lat),
                func.sum(Camera.lon),
                func.sum(Camera.heading),
                func.sum(Camera.fov_angle),
                func.sum(Camera.fov_range),
            )
            .join(Region, Region.id == Camera.region_id)
            .where(subtree, Camera.enabled.is_(True))
        )
    ).one()
    return (region.path, str(region.level), shape, tuple(houses), tuple(places), tuple(cams))


class CoverageCache:
    """Results per village, valid while the versions they were computed under are current.

    Versions: one for all villages (bumped by any camera change) and one per village (bumped by its
    boundary, households or routes changing); the routes themselves are also part of the key."""

    def __init__(self, max_villages: int = 2048) -> None:
        self._all = 0
        self._per_region: dict[int, int] = {}
        self._entries: OrderedDict[
            int, tuple[tuple[int, int, tuple[RouteLine, ...], tuple[Any, ...]], Coverage]
        ] = OrderedDict()
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
        key = (*self.version(region_id), tuple(routes), await fingerprint(session, region_id))
        hit = self._entries.get(region_id)
        if hit is not None and hit[0] == key:
            self._entries.move_to_end(region_id)
            return hit[1]
        from xueliang.grid.coverage_service import village_coverage  # shapely, numpy: first use only

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
