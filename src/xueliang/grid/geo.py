"""Distances, village boundaries and local days: the small geometry and calendar the grid rules need.

Our data is WGS 84 (lon, lat); distances are great-circle metres, plenty for radii of tens of metres.
Days are local days in the node's time zone (Asia/Shanghai by default): a task "for today" means
today where the village is, not in UTC."""

from __future__ import annotations

import math
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

EARTH_RADIUS_M = 6_371_008.8
BOUNDARY_TOLERANCE_M = 5.0  # a point drawn on the boundary line itself is inside


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def outside(boundary: dict[str, Any] | None, points: list[tuple[float, float]]) -> list[int]:
    """Indexes of the (lon, lat) points that lie outside a GeoJSON boundary; none when the region has
    no boundary (nothing to check against)."""
    if not boundary or not points:
        return []
    from shapely.geometry import Point, shape  # shapely only where geometry is checked

    area = shape(boundary)
    lat = points[0][1]
    tolerance = BOUNDARY_TOLERANCE_M / (111_320 * math.cos(math.radians(lat)))
    grown = area.buffer(tolerance)
    return [i for i, (lon, la) in enumerate(points) if not grown.covers(Point(lon, la))]


def parse_hhmm(value: str) -> time:
    """ "08:30" -> 08:30; anything else is a ValueError (the schemas turn it into a 422)."""
    hours, _, minutes = value.partition(":")
    if len(value) != 5 or not hours.isdigit() or not minutes.isdigit():
        raise ValueError("a time of day is written HH:MM")
    h, m = int(hours), int(minutes)
    if not (0 <= h <= 23 and 0 <= m <= 59):
        raise ValueError("a time of day is written HH:MM")
    return time(h, m)


def local_day(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


def at_local(day: date, hhmm: str, tz: ZoneInfo) -> datetime:
    """The UTC instant of a local time of day."""
    return datetime.combine(day, parse_hhmm(hhmm), tzinfo=tz).astimezone(ZoneInfo("UTC"))


def day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=tz).astimezone(ZoneInfo("UTC"))


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """[start, end) of a local day in UTC (23 or 25 hours where a zone has summer time)."""
    return day_start(day, tz), day_start(day + timedelta(days=1), tz)
