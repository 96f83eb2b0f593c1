"""Offline base map benchmark (issue 16, "a real map"): how long drawing the demo county's MBTiles file
takes (grid/basemap.py: boundaries, settlements, exits and 5,433 household points, Pillow, zooms
10-15), and how fast the node reads tiles back from it (grid/mbtiles.py, XYZ lookups with the TMS
flip). Prints one JSON object. Goal: the first start draws it in < 10 s.

A fresh SQLite database is migrated and seeded as `make demo` does; every figure is the median of
`--repeat` runs (3 by default); CPU seconds of the process are reported beside the wall time.

    .venv/bin/python bench/grid_basemap.py [--repeat 3] [--zooms 10-15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

from xueliang.core import migrate
from xueliang.core.clock import SystemClock
from xueliang.core.db import Database
from xueliang.grid import basemap
from xueliang.grid.mbtiles import MBTiles
from xueliang.seed import load


async def demo_sketch(workdir: Path) -> basemap.Sketch:
    url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    await migrate.upgrade_async(url)
    db = Database(url)
    try:
        async with db.session() as session:
            await load.seed_demo(session, now=SystemClock().now(), rtsp_base="rtsp://127.0.0.1:1")
        async with db.read_session() as session:
            return await basemap.county_sketch(session)
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--zooms", default="10-15", help="first-last zoom level")
    args = parser.parse_args()
    first, last = (int(z) for z in args.zooms.split("-"))
    zooms = range(first, last + 1)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        sketch = asyncio.run(demo_sketch(work))
        walls, cpus, tiles, size = [], [], 0, 0
        for n in range(args.repeat):
            path = work / f"basemap-{n}.mbtiles"
            t0, c0 = time.perf_counter(), time.process_time()
            tiles = basemap.build(path, sketch, zooms)
            walls.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
            size = path.stat().st_size
        reader = MBTiles(work / "basemap-0.mbtiles")
        rng = random.Random(7)
        box = sketch.bounds()
        assert box is not None
        lookups = []
        for _ in range(2000):
            z = rng.choice(list(zooms))
            px, py = basemap.world_px(rng.uniform(box[0], box[2]), rng.uniform(box[1], box[3]), z)
            lookups.append((z, int(px // 256), int(py // 256)))
        t0 = time.perf_counter()
        found = sum(reader.tile(z, x, y) is not None for z, x, y in lookups)
        per_tile = (time.perf_counter() - t0) / len(lookups)
        reader.close()
    print(
        json.dumps(
            {
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "load": os.getloadavg(),
                },
                "areas": len(sketch.areas),
                "points": len(sketch.points),
                "zooms": f"{first}-{last}",
                "tiles": tiles,
                "file_bytes": size,
                "draw_s_median": round(statistics.median(walls), 3),
                "draw_cpu_s_median": round(statistics.median(cpus), 3),
                "goal_s": 10,
                "tile_read_us_mean_of_2000": round(per_tile * 1e6, 1),
                "tiles_found": found,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
