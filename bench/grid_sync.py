"""Offline sync (issue 16): 500 records queued on one grid worker's phone (6 in 10 check-ins, 3 visits, 1
incident, each with its phone-made UUID and original time) sent in one `POST /api/v1/grid/sync`, through
the real app (ASGI, in process) on the seeded demo county; then the same batch again, as a phone whose
answer was lost resends it (all must come back `duplicate`). Goal: <= 5 s end to end. Prints one JSON
object; each figure is the median of `--repeat` fresh databases.

    .venv/bin/python bench/grid_sync.py [--records 500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import platform
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from xueliang.alarms.config import AlarmSettings
from xueliang.app import create_app
from xueliang.config import Settings
from xueliang.core import migrate
from xueliang.core.clock import SystemClock
from xueliang.core.db import Database
from xueliang.media.config import MediaSettings
from xueliang.seed.demo import DEMO_PASSWORD
from xueliang.seed.load import seed_demo


def batch(today: dict[str, Any], records: int) -> list[dict[str, Any]]:
    checkpoints = today["routes"][0]["route"]["checkpoints"]
    people = [v["person"] for v in today["visits"]]
    start = SystemClock().now() - timedelta(hours=3)
    items: list[dict[str, Any]] = []
    for n in range(records):
        at = (start + timedelta(seconds=20 * n)).isoformat()
        if n % 10 < 6:
            cp = checkpoints[n % len(checkpoints)]
            items.append(
                {
                    "type": "checkin",
                    "uuid": str(uuid.uuid4()),
                    "checkpoint_id": cp["id"],
                    "at": at,
                    "lat": cp["lat"],
                    "lon": cp["lon"],
                    "accuracy_m": 10,
                }
            )
        elif n % 10 < 9:
            person = people[n % len(people)]
            items.append(
                {
                    "type": "visit",
                    "uuid": str(uuid.uuid4()),
                    "person_id": person["id"],
                    "at": at,
                    "outcome": "seen",
                    "wellbeing": "good",
                    "lat": person["lat"],
                    "lon": person["lon"],
                }
            )
        else:
            items.append(
                {
                    "type": "incident",
                    "uuid": str(uuid.uuid4()),
                    "category": "other",
                    "text": "bench",
                    "at": at,
                }
            )
    return items  # fmt: skip


async def one_round(work: Path, records: int) -> dict[str, Any]:
    url = f"sqlite+aiosqlite:///{work / 'b.db'}"
    await migrate.upgrade_async(url)
    db = Database(url)
    try:
        async with db.session() as session:
            await seed_demo(session, now=SystemClock().now(), rtsp_base="rtsp://127.0.0.1:9")
    finally:
        await db.dispose()
    settings = Settings(
        database_url=url,
        data_dir=work,
        secret_key="bench-secret-" + "x" * 32,
        timer_loop=False,
        media=MediaSettings(enabled=False),
        alarms=AlarmSettings(mqtt_enabled=False, pg_bridge=False),
    )
    app = create_app(settings, migrate_on_start=False)
    figures: dict[str, Any] = {}
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as c:
            r = await c.post("/api/v1/auth/login", json={"username": "gw-01", "password": DEMO_PASSWORD})
            c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            items = batch((await c.get("/api/v1/grid/today")).json(), records)
            for label in ("first", "resend"):
                started = time.perf_counter()
                r = await c.post("/api/v1/grid/sync", json={"items": items})
                figures[f"{label}_s"] = time.perf_counter() - started
                r.raise_for_status()
                figures[f"{label}_results"] = dict(
                    collections.Counter(x["status"] for x in r.json()["results"])
                )
    return figures


async def run(records: int, repeat: int) -> dict[str, Any]:
    rounds = []
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as work:
            rounds.append(await one_round(Path(work), records))
    return {
        "records": records,
        "sync_first_s_median": round(statistics.median(r["first_s"] for r in rounds), 3),
        "sync_resend_s_median": round(statistics.median(r["resend_s"] for r in rounds), 3),
        "results_first": rounds[-1]["first_results"],
        "results_resend": rounds[-1]["resend_results"],
        "goal_s": 5.0,
        "rounds": repeat,
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--records", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.records, args.repeat)), indent=2))


if __name__ == "__main__":
    main()
