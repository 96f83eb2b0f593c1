"""API types for the region tree."""

from __future__ import annotations

from pydantic import BaseModel

from xueliang.regions.models import RegionLevel


class RegionOut(BaseModel):
    id: int
    code: str
    name: str
    name_en: str
    level: RegionLevel
    parent_id: int | None
    households: int
    population: int
    lat: float | None
    lon: float | None
    in_scope: bool
