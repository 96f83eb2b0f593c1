"""The federation link (issue 18): two real nodes (Qingxi township, Shangping village), each with its own
SQLite file, data dir and nats-server, the village's leaf link through a TCP proxy, enrolled with
`xueliang node invite/join`. Each node is a `xueliang serve` process of its own, as on its own machine
(`--in-process`: both under uvicorn in threads of this process, sharing one interpreter, as before).

1. Added latency of the hop: a duty officer raises alarms at the village, one at a time; each one's
   `raised` push is timed on a village console WebSocket and on the township station's console
   WebSocket; the difference is what the link adds (outbox sweep, signed publish, JetStream, leaf,
   consumer, the township's intake and push). Goal: p99 <= 50 ms.
2. Catch-up: the link is cut, `--queued` alarms are raised at the village (queued in its outbox),
   the link comes back; events/s until the township has applied them all. Goal: >= 1,000/s.

    .venv/bin/python bench/federation_link.py [--presses 200] [--queued 10000] [--in-process]

Prints one JSON object."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test suite's node harness

from tests.federation.faultproxy import FaultProxy
from tests.federation.linkkit import QINGXI, SHANGPING, Node, make_node
from tests.support.db import seed_database

from xueliang.seed.demo import DEMO_PASSWORD


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


async def token(base: str, user: str) -> str:
    async with httpx.AsyncClient(base_url=base) as c:
        r = await c.post("/api/v1/auth/token", json={"username": user, "password": DEMO_PASSWORD})
        r.raise_for_status()
        return str(r.json()["access_token"])


async def console(
    base: str, user: str, seen: dict[str, float]
) -> tuple[ClientConnection, asyncio.Task[None]]:
    url = base.replace("http://", "ws://") + "/api/v1/alarms/ws"
    ws = await connect(url, additional_headers={"Authorization": f"Bearer {await token(base, user)}"})
    await ws.recv()

    async def read() -> None:
        async for message in ws:
            doc = json.loads(message)
            if doc.get("event") == "raised" and "alarm" in doc:
                seen.setdefault(doc["alarm"]["uuid"], time.perf_counter())

    return ws, asyncio.create_task(read())


async def latency(town: Node, village: Node, presses: int) -> dict[str, Any]:
    at_village: dict[str, float] = {}
    at_town: dict[str, float] = {}
    ws1, t1 = await console(village.url, "duty-v01", at_village)
    ws2, t2 = await console(town.url, "op-qingxi", at_town)
    region = village.query("SELECT id FROM regions WHERE code = ?", SHANGPING)[0][0]
    added: list[float] = []
    async with httpx.AsyncClient(base_url=village.url, timeout=30) as c:
        c.headers["Authorization"] = f"Bearer {await token(village.url, 'duty-v01')}"
        for _ in range(presses):
            uid = str(uuid.uuid4())
            r = await c.post("/api/v1/alarms", json={"uuid": uid, "source": "pc", "region_id": region})
            r.raise_for_status()
            deadline = time.perf_counter() + 10
            while uid not in at_town or uid not in at_village:
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"alarm {uid} did not reach both consoles")
                await asyncio.sleep(0.001)
            added.append((at_town[uid] - at_village[uid]) * 1000)
            await asyncio.sleep(0.02)
    for ws, task in ((ws1, t1), (ws2, t2)):
        await ws.close()
        task.cancel()
    return {
        "presses": presses,
        "added_ms_p50": pct(added, 0.5),
        "added_ms_p95": pct(added, 0.95),
        "added_ms_p99": pct(added, 0.99),
        "added_ms_max": round(max(added), 2),
    }


async def catch_up(town: Node, village: Node, proxy: FaultProxy, queued: int) -> dict[str, Any]:
    region = village.query("SELECT id FROM regions WHERE code = ?", SHANGPING)[0][0]
    before = town.query("SELECT count(*) FROM federation_inbox")[0][0]
    proxy.set("cut")
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=village.url, timeout=60) as c:
        c.headers["Authorization"] = f"Bearer {await token(village.url, 'duty-v01')}"
        sem = asyncio.Semaphore(32)

        async def press() -> None:
            async with sem:
                r = await c.post(
                    "/api/v1/alarms", json={"uuid": str(uuid.uuid4()), "source": "pc", "region_id": region}
                )
                r.raise_for_status()

        await asyncio.gather(*(press() for _ in range(queued)))
    raise_s = time.perf_counter() - started
    await asyncio.sleep(2)  # the relay's sweep puts them all in the outbox while the link is down
    backlog = village.query("SELECT count(*) FROM federation_outbox WHERE sent_at IS NULL")[0][0]
    proxy.set("pass")
    t0 = time.perf_counter()
    while town.query("SELECT count(*) FROM federation_inbox")[0][0] - before < backlog:
        if time.perf_counter() - t0 > 600:
            raise RuntimeError("catch-up did not finish in 10 minutes")
        await asyncio.sleep(0.05)
    took = time.perf_counter() - t0
    return {
        "queued_alarms": queued,
        "outbox_backlog": backlog,
        "raise_s": round(raise_s, 2),
        "catch_up_s": round(took, 2),
        "events_per_s": round(backlog / took, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--presses", type=int, default=200)
    parser.add_argument("--queued", type=int, default=10000)
    parser.add_argument("--in-process", action="store_true", help="both nodes in this process (threads)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        template = root / "template.db"
        seed_database(f"sqlite+aiosqlite:///{template}")
        town = make_node(template, root / "town", "town", QINGXI)
        village = make_node(template, root / "village", "village", SHANGPING)
        proxy = FaultProxy(town.leaf_port).start()
        town.leaf_advertise = f"127.0.0.1:{proxy.port}"
        town.write_config()
        launch = Node.start if args.in_process else Node.spawn
        launch(town)
        try:
            _rc, code = town.cli("node", "invite")
            rc, out = village.cli("node", "join", town.url, code.strip())
            assert rc == 0, out
            launch(village)
            deadline = time.monotonic() + 30
            while not town.query("SELECT count(*) FROM cameras WHERE host_node_id IS NOT NULL")[0][0]:
                if time.monotonic() > deadline:
                    raise RuntimeError("the link did not come up")
                time.sleep(0.1)
            result = {
                "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
                "nodes": "threads of one process" if args.in_process else "a process each",
                "load_1min_at_start": os.getloadavg()[0],
                "latency": asyncio.run(latency(town, village, args.presses)),
                "catch_up": asyncio.run(catch_up(town, village, proxy, args.queued)),
            }
        finally:
            village.stop()
            town.stop()
            proxy.close()
        print(json.dumps(result, indent=2), flush=True)


if __name__ == "__main__":
    main()
