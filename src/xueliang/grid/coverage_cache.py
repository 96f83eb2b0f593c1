"""The coverage cache (grid/coverage_service.py computes): installed with the node, so this module
imports no shapely; the computation and its libraries load on the first coverage request."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.cameras.events import CameraChanged
from xueliang.core.context import AppContext

if TYPE_CHECKING:
    from xueliang.grid.coverage import Coverage, RouteLine


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
