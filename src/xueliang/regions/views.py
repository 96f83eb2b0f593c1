"""Routes for the region tree and the map layers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from xueliang.accounts.deps import CurrentCaller, Session
from xueliang.core.bounds import PathId
from xueliang.regions import service
from xueliang.regions.models import Region
from xueliang.regions.schemas import RegionOut

router = APIRouter(tags=["regions"])


def region_out(region: Region, scope_path: str) -> RegionOut:
    return RegionOut(
        id=region.id,
        code=region.code,
        name=region.name,
        name_en=region.name_en,
        level=region.level,
        parent_id=region.parent_id,
        households=region.households,
        population=region.population,
        lat=region.lat,
        lon=region.lon,
        in_scope=region.path.startswith(scope_path),
    )


@router.get("/regions", response_model=list[RegionOut])
async def list_regions(caller: CurrentCaller, session: Session) -> list[RegionOut]:
    """The caller's subtree plus its ancestors (marked `in_scope: false`), in tree order."""
    regions = await service.visible_regions(session, caller.principal)
    return [region_out(r, caller.principal.region_path) for r in regions]


@router.get("/regions/map", response_model=None)
async def region_map(caller: CurrentCaller, session: Session) -> dict[str, Any]:
    return await service.map_layers(session, caller.principal)


@router.get("/regions/{region_id}", response_model=RegionOut)
async def get_region(region_id: PathId, caller: CurrentCaller, session: Session) -> RegionOut:
    return region_out(
        await service.get_region(session, caller.principal, region_id), caller.principal.region_path
    )
