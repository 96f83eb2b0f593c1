"""Coverage benchmark (盲区分析, issue 16): how long the blind-spot analysis takes. Prints one JSON object.

1. The demo county: a fresh SQLite database, migrated and seeded (`seed_demo`, households included;
   the household seed's own time is reported), then every village's inputs loaded from the database
   and computed (`coverage_service.village_coverage`), with one synthetic patrol route per village
   through its settlements and exits as the grid's demo routes are. Goal: <= 1 s for the county.
2. Synthetic counties of 10, 100 and 1,000 villages, each ~1.2 km across with 60 cameras, 5 routes of
   8 points, 3 settlements and 500 households (geometry only, `coverage.compute`; one core, no
   database), to show how the time grows. Goal: <= 60 s for 1,000 villages.

Every figure is the median of `--repeat` runs (3 by default).

    .venv/bin/python bench/grid_coverage.py [--sizes 10,100,1000] [--repeat 3] [--no-demo]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from xueliang.core import migrate
from xueliang.core.clock import SystemClock
from xueliang.core.db import Database
from xueliang.grid import coverage_seed
from xueliang.grid.coverage import CameraView, PointInput, RouteLine, VillageInput, compute
from xueliang.grid.coverage_service import village_coverage
from xueliang.regions.models import Place, Region, RegionLevel
from xueliang.seed import load


def _offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    return lat + north_m / 110_880, lon + east_m / (111_320 * math.cos(math.radians(lat)))


def synthetic_village(rng: random.Random, region_id: int, lat: float, lon: float) -> VillageInput:
    """A 13-corner village of radius ~1.1 km with the issue's load: 60 cameras, 5 routes."""
    ring = []
    for i in range(13):
        a = 2 * math.pi * i / 13
        r = 1100 * rng.uniform(0.8, 1.15)
        p_lat, p_lon = _offset(lat, lon, r * math.sin(a), r * math.cos(a))
        ring.append([p_lon, p_lat])
    ring.append(ring[0])
    settlements = [_offset(lat, lon, rng.uniform(-500, 500), rng.uniform(-500, 500)) for _ in range(3)]
    cameras = []
    for c in range(60):
        s_lat, s_lon = settlements[c % 3] if c % 2 else (lat, lon)
        spread = 150 if c % 2 else 700
        c_lat, c_lon = _offset(s_lat, s_lon, rng.uniform(-spread, spread), rng.uniform(-spread, spread))
        cameras.append(
            CameraView(
                c,
                c_lat,
                c_lon,
                float(rng.randrange(0, 360, 5)),
                float(rng.choice([60, 75, 90, 100])),
                float(rng.choice([40, 60, 80, 120])),
            )
        )
    routes = []
    for r in range(5):
        pts = []
        for _ in range(8):
            p_lat, p_lon = _offset(lat, lon, rng.uniform(-800, 800), rng.uniform(-800, 800))
            pts.append((p_lon, p_lat))
        routes.append(RouteLine(tuple(pts), id=r))
    households = []
    for h in range(500):
        s_lat, s_lon = settlements[h % 3]
        h_lat, h_lon = _offset(s_lat, s_lon, rng.gauss(0, 90), rng.gauss(0, 90))
        households.append(PointInput(h, h_lat, h_lon))
    return VillageInput(
        region_id,
        {"type": "Polygon", "coordinates": [ring]},
        cameras,
        routes,
        [PointInput(i, s_lat, s_lon) for i, (s_lat, s_lon) in enumerate(settlements)],
        households,
    )


def synthetic_county(villages: int) -> list[VillageInput]:
    rng = random.Random(16)
    side = math.ceil(math.sqrt(villages))
    return [
        synthetic_village(rng, i, *_offset(31.0, 103.0, 2500 * (i // side), 2500 * (i % side)))
        for i in range(villages)
    ]


def time_synthetic(villages: int, repeat: int) -> dict[str, Any]:
    county = synthetic_county(villages)
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        results = [compute(v) for v in county]
        runs.append(time.perf_counter() - t0)
    mean_area = statistics.fmean(r.either.area.ratio for r in results)
    return {
        "villages": villages,
        "cameras": 60 * villages,
        "routes": 5 * villages,
        "households": 500 * villages,
        "seconds_median": round(statistics.median(runs), 3),
        "ms_per_village": round(1000 * statistics.median(runs) / villages, 2),
        "mean_either_area_pct": round(100 * mean_area, 1),
    }


def demo_routes(places: list[Place]) -> tuple[RouteLine, ...]:
    """A route through the village's settlements and exits (the order the grid's demo routes take)."""
    pts = [(p.lon, p.lat) for p in sorted(places, key=lambda p: (p.kind, p.id))]
    return (RouteLine(tuple(pts)),) if len(pts) >= 2 else ()


async def time_demo(repeat: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await migrate.upgrade_async(url)
        db = Database(url)
        seed_times: list[float] = []
        original = coverage_seed.seed_demo

        async def timed_seed(session: Any, *, now: Any) -> None:
            t0 = time.perf_counter()
            await original(session, now=now)
            seed_times.append(time.perf_counter() - t0)

        try:
            load.coverage_seed.seed_demo = timed_seed  # type: ignore[attr-defined]
            async with db.session() as session:
                await load.seed_demo(session, now=SystemClock().now(), rtsp_base="rtsp://127.0.0.1:1")
            load.coverage_seed.seed_demo = original  # type: ignore[attr-defined]
            async with db.session() as session:
                villages = (
                    await session.scalars(select(Region).where(Region.level == RegionLevel.village))
                ).all()
                places = (await session.scalars(select(Place))).all()
                routes = {
                    v.id: demo_routes([p for p in places if p.region_id == v.id and p.kind != "key_place"])
                    for v in villages
                }
                runs = []
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    results = [await village_coverage(session, v.id, routes[v.id]) for v in villages]
                    runs.append(time.perf_counter() - t0)
        finally:
            load.coverage_seed.seed_demo = original  # type: ignore[attr-defined]
            await db.dispose()
    return {
        "villages": len(results),
        "households": sum(r.either.households.total for r in results),
        "household_seed_seconds": round(seed_times[0], 3) if seed_times else None,
        "seconds_median": round(statistics.median(runs), 3),
        "per_village_pct": {
            v.name_en: {
                "cameras_area": round(100 * r.cameras.area.ratio, 2),
                "either_area": round(100 * r.either.area.ratio, 2),
                "either_settlements": round(100 * r.either.settlements.ratio, 1),
                "either_households": round(100 * r.either.households.ratio, 1),
            }
            for v, r in zip(villages, results, strict=True)
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="10,100,1000", help="synthetic county sizes (villages)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-demo", action="store_true")
    args = parser.parse_args()
    out: dict[str, Any] = {
        "machine": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "load_1min": round(os.getloadavg()[0], 2),
        "repeat": args.repeat,
    }
    if not args.no_demo:
        out["demo_county"] = asyncio.run(time_demo(args.repeat))
    out["synthetic"] = [time_synthetic(int(n), args.repeat) for n in args.sizes.split(",") if n]
    print(json.dumps(out, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
