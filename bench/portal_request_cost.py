"""The server's own CPU per request for the TV portal (issue 17): the TV's pages, the banner poll (full
and 304), a trivial route, and a refused booking attempt (`409 session_full`, what 95 % of a booking
rush gets). Prints one JSON object.

The app is called as ASGI in this process with hand-made messages, no HTTP client, one request at a
time, so the figure is the server's CPU alone and holds on a busy machine, where latencies do not
(bench/portal_banner.py and bench/hospital_booking.py time the same routes under load). Rounds
alternate over the routes and the medians are printed. To compare two versions on the same machine,
run it alternately with `PYTHONPATH=<other checkout>/src`.

    .venv/bin/python bench/portal_request_cost.py --rounds 7
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
from pathlib import Path
from typing import Any

import hospital_booking  # the bench folder's own modules (it is sys.path[0] when run as a script)
import portal_banner
from asgi_client import AsgiClient

from xueliang.alarms.config import AlarmSettings
from xueliang.app import create_app
from xueliang.config import Settings
from xueliang.media.config import MediaSettings
from xueliang.seed.demo import DEMO_PASSWORD

ROUTES = [portal_banner.TRIVIAL, "/api/v1/portal/banner", *portal_banner.PAGES]
PER_ROUND = 100


def settings(url: str, work: Path) -> Settings:
    return Settings(
        database_url=url,
        data_dir=work,
        secret_key="bench-secret-" + "x" * 32,
        media=MediaSettings(enabled=False),
        alarms=AlarmSettings(mqtt_enabled=False),
    )  # type: ignore[call-arg]


async def measure(rounds: int, make: Any) -> dict[str, list[float]]:
    """CPU ms per request for each name `make` yields, `rounds` interleaved rounds of PER_ROUND."""
    cpu: dict[str, list[float]] = {}
    for _ in range(rounds):
        async for name, one in make():
            started = time.process_time()
            for _ in range(PER_ROUND):
                await one()
            cpu.setdefault(name, []).append((time.process_time() - started) * 1000 / PER_ROUND)
    return cpu


async def portal_costs(work: Path, rounds: int) -> dict[str, list[float]]:
    url = f"sqlite+aiosqlite:///{work / 'portal.db'}"
    tokens = await portal_banner.prepare(url, 100, 60)
    app = create_app(settings(url, work), migrate_on_start=False)
    async with app.router.lifespan_context(app):
        client = AsgiClient(app)
        auth = {"authorization": f"Bearer {tokens[0]}"}
        for path in ROUTES:
            answer = await client.get(path, headers=auth)
            assert answer.status_code == 200, (path, answer.status_code)
        tagged = {
            **auth,
            "if-none-match": (await client.get("/api/v1/portal/banner", headers=auth)).headers["etag"],
        }
        assert (await client.get("/api/v1/portal/banner", headers=tagged)).status_code == 304

        async def routes() -> Any:
            for path in ROUTES:
                yield path.split("?")[0], lambda path=path: client.get(path, headers=auth)
            yield "/api/v1/portal/banner (304)", lambda: client.get("/api/v1/portal/banner", headers=tagged)

        return await measure(rounds, routes)


async def booking_costs(work: Path, rounds: int) -> dict[str, list[float]]:
    url = f"sqlite+aiosqlite:///{work / 'hospital.db'}"
    ids = await hospital_booking.prepare(url, 1, 1)
    app = create_app(settings(url, work), migrate_on_start=False)
    async with app.router.lifespan_context(app):
        client = AsgiClient(app)
        login = await client.post(
            "/api/v1/auth/token", json={"username": "res-v01", "password": DEMO_PASSWORD}
        )
        auth = {"authorization": f"Bearer {login.json()['access_token']}"}
        n = 0

        def attempt() -> Any:
            nonlocal n
            n += 1
            body = {
                "session_id": ids[0],
                "patient_name": f"压测{n}",
                "id_number": hospital_booking.id_number(n),
                "phone": "13800000000",
            }
            return client.post("/api/v1/hospital/bookings", json=body, headers=auth)

        assert (await attempt()).status_code == 201  # the session's last place; every later one is refused
        refused = await attempt()
        assert refused.status_code == 409 and refused.json()["code"] == "session_full", refused.text

        async def one() -> Any:
            yield "POST /api/v1/hospital/bookings (409 session_full)", attempt

        return await measure(rounds, one)


async def run(rounds: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        cpu = await portal_costs(Path(tmp), rounds)
        cpu |= await booking_costs(Path(tmp), rounds)
    return {name: round(statistics.median(values), 3) for name, values in cpu.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    started_load = os.getloadavg()[0]
    cpu_ms = asyncio.run(run(args.rounds))
    print(
        json.dumps(
            {
                "server_cpu_ms_per_request": cpu_ms,
                "rounds": args.rounds,
                "requests_per_round": PER_ROUND,
                "load_average_1m": round(started_load, 2),
                "python": platform.python_version(),
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
