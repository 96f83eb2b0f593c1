"""Where an alarm goes: the township police station above its village, and the cameras that can see it.

A camera "covers" a point when the point lies inside its view sector: within `fov_range` metres and
within half of `fov_angle` of its `heading` (degrees clockwise from north). Distances use a local
flat-earth projection, which is exact to well under a metre over the few hundred metres involved."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.alarms.cache import cached
from xueliang.cameras.models import Camera
from xueliang.regions.models import Region, RegionLevel

EARTH_M_PER_DEG_LAT = 110_540.0
EARTH_M_PER_DEG_LON = 111_320.0
NEARBY_M = 800.0  # cameras farther than this are no help to the operator


@dataclass(frozen=True)
class CameraHit:
    camera_id: int
    name: str
    distance_m: float
    covers: bool


def offset_m(from_lat: float, from_lon: float, to_lat: float, to_lon: float) -> tuple[float, float]:
    """(east, north) metres from one point to another."""
    north = (to_lat - from_lat) * EARTH_M_PER_DEG_LAT
    east = (to_lon - from_lon) * EARTH_M_PER_DEG_LON * math.cos(math.radians((from_lat + to_lat) / 2))
    return east, north


def covers(
    cam_lat: float, cam_lon: float, heading: float, fov_angle: float, fov_range: float, lat: float, lon: float
) -> bool:
    east, north = offset_m(cam_lat, cam_lon, lat, lon)
    distance = math.hypot(east, north)
    if distance > fov_range:
        return False
    if distance < 1.0 or fov_angle >= 360:
        return True
    bearing = math.degrees(math.atan2(east, north)) % 360
    off = abs((bearing - heading + 180) % 360 - 180)
    return off <= fov_angle / 2


def rank_cameras(cameras: Iterable[Sighted], lat: float, lon: float, limit: int = 4) -> list[CameraHit]:
    """Covering cameras first, nearest first; then the nearest others within NEARBY_M."""
    hits = []
    for cam in cameras:
        east, north = offset_m(lat, lon, cam.lat, cam.lon)
        distance = math.hypot(east, north)
        if distance > NEARBY_M and distance > cam.fov_range:
            continue
        sees = covers(cam.lat, cam.lon, cam.heading, cam.fov_angle, cam.fov_range, lat, lon)
        hits.append(CameraHit(cam.id, cam.name, round(distance, 1), sees))
    hits.sort(key=lambda h: (not h.covers, h.distance_m))
    return hits[:limit]


async def station_of(session: AsyncSession, region: Region) -> Region:
    """The township above (or at) `region`; an alarm outside any township goes to the top region."""

    async def load() -> int:
        codes_path = [c for c in region.path.split("/") if c]
        rows = (await session.scalars(select(Region).where(Region.code.in_(codes_path)))).all()
        by_level = {r.level: r for r in rows}
        return (by_level.get(RegionLevel.township) or by_level.get(RegionLevel.county) or region).id

    station = await session.get(Region, await cached(session, "station", region.id, load))
    assert station is not None
    return station


@dataclass(frozen=True)
class Sighted:
    """What ranking needs of a camera, kept in the routing cache instead of ORM objects."""

    id: int
    name: str
    lat: float
    lon: float
    heading: float
    fov_angle: float
    fov_range: float


async def station_cameras(session: AsyncSession, station: Region) -> list[Sighted]:
    async def load() -> list[Sighted]:
        rows = await session.execute(
            select(
                Camera.id,
                Camera.name,
                Camera.lat,
                Camera.lon,
                Camera.heading,
                Camera.fov_angle,
                Camera.fov_range,
            )
            .join(Region, Region.id == Camera.region_id)
            .where(Region.path.startswith(station.path, autoescape=True), Camera.enabled.is_(True))
        )
        return [Sighted(*row) for row in rows.all()]

    return await cached(session, "cameras", station.id, load)


async def nearest_cameras(session: AsyncSession, station: Region, lat: float, lon: float) -> list[CameraHit]:
    return rank_cameras(await station_cameras(session, station), lat, lon)


async def escalation_target(session: AsyncSession, station: Region, level: int) -> Region:
    """Level 1 is the region above the station (the county), level 2 the one above that..."""
    region = station
    for _ in range(level):
        if region.parent_id is None:
            break
        parent = await session.get(Region, region.parent_id)
        if parent is None:
            break
        region = parent
    return region
