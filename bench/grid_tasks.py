"""Daily grid task generation (issue 16): 1,000 villages, a 7-checkpoint route each, 10,000 people in the
care registry (half with an "I'm OK" check). Times `grid.tasks.generate` for today and tomorrow on a
fresh database, then again when every key exists (a restart's catch-up, which must write nothing new).
Goal: <= 10 s. Prints one JSON object; each figure is the median of `--repeat` fresh databases.

    .venv/bin/python bench/grid_tasks.py [--villages 1000] [--people 10000] [--repeat 3] [--pg ADMIN_URL]

`--pg postgresql+asyncpg://postgres@127.0.0.1:5432/postgres` runs it on a new PostgreSQL database each
round (dropped afterwards) instead of SQLite in a temporary folder.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
from sqlalchemy import func, insert, select

from xueliang.accounts.models import Role, User
from xueliang.core import migrate
from xueliang.core.db import Database
from xueliang.grid import tasks
from xueliang.grid.models import CarePerson, Checkpoint, GridTask, PatrolRoute
from xueliang.regions.models import Region, RegionLevel

NOW = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # 09:00 in Asia/Shanghai
TZ = ZoneInfo("Asia/Shanghai")


async def fill(db: Database, villages: int, people: int) -> None:
    """Bulk rows shaped as the grid's own: a county, its villages, a worker and a route per village."""
    async with db.session() as s:
        s.add(Region(id=1, code="C", name="c", level=RegionLevel.county, path="C/"))
        await s.flush()
        await s.execute(
            insert(Region),
            [
                {"id": 1 + v, "code": f"V{v}", "name": f"v{v}", "name_en": "", "level": RegionLevel.village,
                 "parent_id": 1, "path": f"C/V{v}/", "households": 0, "population": 0}
                for v in range(1, villages + 1)
            ],
        )  # fmt: skip
        await s.execute(
            insert(User),
            [
                {"id": v, "username": f"gw{v}", "display_name": "g", "password_hash": "x",
                 "role": Role.grid_worker, "region_id": 1 + v, "phone": "", "locale": "",
                 "disabled": False, "created_at": NOW, "password_changed_at": NOW}
                for v in range(1, villages + 1)
            ],
        )  # fmt: skip
        await s.execute(
            insert(PatrolRoute),
            [
                {"id": v, "region_id": 1 + v, "region_path": f"C/V{v}/", "name": "r",
                 "line": [[0, 0], [0.001, 0.001]], "days": [1, 2, 3, 4, 5, 6, 7], "window_start": "08:00",
                 "window_end": "18:00", "worker_id": v, "active": True, "created_at": NOW, "updated_at": NOW}
                for v in range(1, villages + 1)
            ],
        )  # fmt: skip
        await s.execute(
            insert(Checkpoint),
            [
                {"route_id": v, "seq": k, "name": "cp", "lat": 0.0, "lon": 0.0, "radius_m": 50.0,
                 "active": True}
                for v in range(1, villages + 1)
                for k in range(7)
            ],
        )  # fmt: skip
        await s.execute(
            insert(CarePerson),
            [
                {"kind": "elderly" if n % 2 else "child", "name": "p", "birth_year": 1950,
                 "region_id": 2 + n % villages, "region_path": f"C/V{1 + n % villages}/", "address": "",
                 "contacts": [], "worker_id": 1 + n % villages, "visit_every_days": 1, "ok_check": n % 2 == 1,
                 "ok_deadline": "10:00", "notes": "", "active": True, "created_at": NOW}
                for n in range(people)
            ],
        )  # fmt: skip
        await s.commit()


async def one_round(url: str, villages: int, people: int) -> dict[str, Any]:
    await migrate.upgrade_async(url)
    db = Database(url)
    try:
        await fill(db, villages, people)
        figures: dict[str, Any] = {}
        for name in ("first_s", "again_s"):
            started = time.perf_counter()
            async with db.session() as s:
                await tasks.generate(s, NOW, TZ)
                await s.commit()
            figures[name] = time.perf_counter() - started
            async with db.read_session() as s:
                figures[name.replace("_s", "_tasks")] = (
                    await s.execute(select(func.count()).select_from(GridTask))
                ).scalar_one()
        return figures
    finally:
        await db.dispose()


async def run(villages: int, people: int, repeat: int, pg_admin: str | None) -> dict[str, Any]:
    rounds = []
    for _ in range(repeat):
        if pg_admin is None:
            with tempfile.TemporaryDirectory() as work:
                rounds.append(await one_round(f"sqlite+aiosqlite:///{Path(work) / 'b.db'}", villages, people))
            continue
        name = f"xl_bench_{uuid.uuid4().hex[:10]}"
        admin_dsn = pg_admin.replace("+asyncpg", "")
        conn = await asyncpg.connect(admin_dsn)
        await conn.execute(f'CREATE DATABASE "{name}"')
        try:
            rounds.append(await one_round(pg_admin.rsplit("/", 1)[0] + f"/{name}", villages, people))
        finally:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            await conn.close()
    assert len({r["first_tasks"] for r in rounds} | {r["again_tasks"] for r in rounds}) == 1, rounds
    return {
        "backend": "postgresql" if pg_admin else "sqlite",
        "villages": villages,
        "people": people,
        "tasks": rounds[0]["first_tasks"],
        "generate_first_s_median": round(statistics.median(r["first_s"] for r in rounds), 3),
        "generate_again_s_median": round(statistics.median(r["again_s"] for r in rounds), 3),
        "goal_s": 10.0,
        "rounds": repeat,
        "machine": f"{platform.machine()}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--villages", type=int, default=1000)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pg", default=None, help="PostgreSQL admin URL (default: SQLite)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.villages, args.people, args.repeat, args.pg)), indent=2))


if __name__ == "__main__":
    main()
