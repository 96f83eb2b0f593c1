"""Reading the region tree and its map layers within a caller's scope."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.policy import Principal, may_see_region
from xueliang.core.errors import NotFound
from xueliang.regions.models import Household, Place, Region


def _visible(p: Principal) -> Any:
    """Subtree of the caller, plus its ancestors so the tree can be drawn down to it."""
    ancestors = [p.region_path[: i + 1] for i, ch in enumerate(p.region_path) if ch == "/"]
    return or_(Region.path.startswith(p.region_path, autoescape=True), Region.path.in_(ancestors))


async def visible_regions(session: AsyncSession, p: Principal) -> list[Region]:
    rows = await session.scalars(select(Region).where(_visible(p)).order_by(Region.path))
    return [r for r in rows if may_see_region(p, r.path)]


async def get_region(session: AsyncSession, p: Principal, region_id: int) -> Region:
    region = await session.get(Region, region_id)
    if region is None or not may_see_region(p, region.path):
        raise NotFound("region not found")
    return region


async def scoped_region(session: AsyncSession, p: Principal, region_id: int) -> Region:
    """A region inside the caller's own subtree (not just an ancestor)."""
    region = await session.get(Region, region_id)
    if region is None or not region.path.startswith(p.region_path):
        raise NotFound("region not found")
    return region


async def map_layers(session: AsyncSession, p: Principal) -> dict[str, Any]:
    """GeoJSON FeatureCollection of the visible boundaries and places, for the SVG map."""
    features: list[dict[str, Any]] = []
    for region in await visible_regions(session, p):
        if region.boundary and region.path.startswith(p.region_path):
            features.append(
                {
                    "type": "Feature",
                    "geometry": region.boundary,
                    "properties": {
                        "kind": "region",
                        "id": region.id,
                        "code": region.code,
                        "level": region.level.value,
                        "name": region.name,
                        "name_en": region.name_en,
                    },
                }
            )
    places = await session.scalars(
        select(Place)
        .join(Region, Region.id == Place.region_id)
        .where(Region.path.startswith(p.region_path, autoescape=True))
    )
    for place in places:
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [place.lon, place.lat]},
                "properties": {
                    "kind": place.kind,
                    "id": place.id,
                    "name": place.name,
                    "name_en": place.name_en,
                    "region_id": place.region_id,
                    "households": place.households,
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


async def household(session: AsyncSession, household_id: int) -> Household | None:
    return await session.get(Household, household_id)
