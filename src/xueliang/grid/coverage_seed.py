"""Household points for the demo county, so that coverage of households (盲区分析 (c)) means something.

The demo county lists 5,443 households on its villages but seeds only the residents' few Household
rows. This fills each village up to its `Region.households` count: most households cluster around
the village's settlement places (in proportion to each place's `households`), the rest are scattered
farmsteads anywhere in the boundary, all inside it. Names are fictional, like the rest of the demo;
the positions are drawn from a fixed seed, so every run and every test sees the same county."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

import numpy as np
import shapely
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.grid.coverage import LocalProjection, parse_boundary
from xueliang.regions.models import Household, Place, Region, RegionLevel

CLUSTER_SIGMA_M = 90.0  # spread of a settlement's houses around its place (metres, each axis)
SCATTERED = 0.12  # share of a village's households that are isolated farmsteads
# fictional heads of household (the seed package sits above the domains, so its lists are not imported)
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何罗高林"
GIVEN = ("建国", "秀英", "桂兰", "德明", "春花", "志强", "玉梅", "永福", "海燕", "文华", "国平", "红梅")


async def seed_demo(session: AsyncSession, *, now: datetime) -> None:
    """Called by seed/load.py inside its transaction (it commits), before the grid's own seed."""
    del now
    villages = (
        await session.scalars(select(Region).where(Region.level == RegionLevel.village).order_by(Region.id))
    ).all()
    existing = dict(
        (await session.execute(select(Household.region_id, func.count()).group_by(Household.region_id))).all()
    )
    settlements: dict[int, list[Place]] = {}
    for place in (
        await session.scalars(select(Place).where(Place.kind == "settlement").order_by(Place.id))
    ).all():
        settlements.setdefault(place.region_id, []).append(place)
    rows: list[dict[str, Any]] = []
    for village in villages:
        missing = village.households - existing.get(village.id, 0)
        if missing > 0 and village.boundary:
            rows.extend(_village_rows(village, settlements.get(village.id, []), missing))
    if rows:
        await session.execute(insert(Household), rows)


def _village_rows(village: Region, places: list[Place], count: int) -> list[dict[str, Any]]:
    rng = random.Random(f"households-{village.code}")
    boundary_ll = parse_boundary(village.boundary)
    centre = boundary_ll.centroid
    proj = LocalProjection(centre.y, centre.x)
    boundary = shapely.transform(boundary_ll, proj.forward)
    shapely.prepare(boundary)
    weights = [max(p.households, 0) for p in places]
    clustered = 0 if not places or sum(weights) == 0 else count - round(count * SCATTERED)
    groups: list[tuple[str, tuple[float, float] | None, int]] = []
    if clustered:
        left = clustered
        for i, (place, weight) in enumerate(zip(places, weights, strict=True)):
            n = left if i == len(places) - 1 else min(left, round(clustered * weight / sum(weights)))
            left -= n
            xy = proj.forward(np.array([[place.lon, place.lat]], dtype=np.float64))[0]
            groups.append((place.name, (float(xy[0]), float(xy[1])), n))
    groups.append((f"{village.name}散居", None, count - clustered))

    xmin, ymin, xmax, ymax = boundary.bounds
    rows: list[dict[str, Any]] = []
    for name, centre_xy, n in groups:
        points: list[tuple[float, float]] = []
        rounds = 0
        while len(points) < n:  # draw in batches, keep those inside the boundary
            want = n - len(points)
            rounds += 1
            if centre_xy is None or rounds > 50:  # a place far outside its boundary: scatter instead
                xs = np.array([rng.uniform(xmin, xmax) for _ in range(2 * want)])
                ys = np.array([rng.uniform(ymin, ymax) for _ in range(2 * want)])
            else:
                xs = np.array([rng.gauss(centre_xy[0], CLUSTER_SIGMA_M) for _ in range(want + 8)])
                ys = np.array([rng.gauss(centre_xy[1], CLUSTER_SIGMA_M) for _ in range(want + 8)])
            inside = shapely.contains_xy(boundary, xs, ys)
            points.extend(zip(xs[inside].tolist(), ys[inside].tolist(), strict=True))
        lonlat = proj.inverse(np.asarray(points[:n], dtype=np.float64).reshape(-1, 2))
        for lon, lat in lonlat.tolist():
            k = len(rows) + 1
            rows.append(
                {
                    "region_id": village.id,
                    "code": f"{village.code}H{k:05d}",
                    "head_name": rng.choice(SURNAMES) + rng.choice(GIVEN),
                    "members": rng.choice((1, 2, 2, 3, 3, 3, 4, 4, 5, 6)),
                    "address": f"{name}{k}号",
                    "phone": "",
                    "lat": round(lat, 6),
                    "lon": round(lon, 6),
                }
            )
    return rows
