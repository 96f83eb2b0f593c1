"""Alarms upward through the GB/T 28181 cascade (issue 19): a village duty officer presses (POST
/api/v1/alarms, each press its own alarm) on the real app (ASGI, in process, seeded demo county, SQLite)
whose cascade is registered (Digest) to an upper platform on loopback: a small Python UAS on the
project's SIP endpoint that answers 200 and notes when each Alarm `<Notify>` MESSAGE arrives. Reported:
press -> NOTIFY at the upper (p50/p95/p99/max, ms; goal p99 <= 100 ms), press -> HTTP answer, and how
many alarms arrived zero times or more than once (goal: exactly once each).

    .venv/bin/python bench/gb28181_cascade.py [--presses 200] [--every-ms 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

from xueliang.alarms.config import AlarmSettings
from xueliang.app import create_app
from xueliang.config import Settings
from xueliang.core import migrate
from xueliang.core.clock import SystemClock
from xueliang.core.db import Database
from xueliang.gb28181 import manscdp
from xueliang.gb28181.config import Gb28181Settings
from xueliang.gb28181.sip import digest
from xueliang.gb28181.sip.message import SipMessage, response_to
from xueliang.gb28181.sip.transport import SipEndpoint, Source, new_tag
from xueliang.media.config import MediaSettings
from xueliang.seed.demo import DEMO_PASSWORD
from xueliang.seed.load import seed_demo

UPPER_ID = "51000000002000000001"
PASSWORD = "bench-upper-pass"  # noqa: S105 - a loopback test peer's
ALARM_REF = re.compile(r"#(\d+)")


class Upper:
    """The provincial platform: Digest on REGISTER, 200 to everything, arrival times of alarms."""

    def __init__(self) -> None:
        self.endpoint = SipEndpoint(self.handle, "127.0.0.1", 0, ("UDP",))
        self.arrived: dict[int, list[float]] = defaultdict(list)
        self.registered = asyncio.Event()
        self.changed = asyncio.Event()

    async def handle(self, msg: SipMessage, src: Source) -> SipMessage:
        now = time.perf_counter()
        if msg.method == "REGISTER":
            auth = digest.parse_params(msg.get("Authorization"))
            if not auth:
                resp = response_to(msg, 401, to_tag=new_tag())
                resp.add("WWW-Authenticate", digest.challenge(UPPER_ID[:10], uuid.uuid4().hex))
                return resp
            if not digest.verify(auth, "REGISTER", digest.ha1(auth["username"], UPPER_ID[:10], PASSWORD)):
                return response_to(msg, 403, to_tag=new_tag())
            self.registered.set()
            resp = response_to(msg, 200, to_tag=new_tag())
            resp.add("Expires", msg.get("Expires"))
            return resp
        if msg.body and b"<CmdType>Alarm</CmdType>" in msg.body:
            found = ALARM_REF.search(manscdp.parse(msg.body).text("AlarmDescription"))
            if found:
                self.arrived[int(found.group(1))].append(now)
                self.changed.set()
        return response_to(msg, 200, to_tag=new_tag())


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def run(presses: int, every_ms: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        url = f"sqlite+aiosqlite:///{work / 'b.db'}"
        await migrate.upgrade_async(url)
        db = Database(url)
        try:
            async with db.session() as session:
                await seed_demo(session, now=SystemClock().now(), rtsp_base="rtsp://127.0.0.1:9")
        finally:
            await db.dispose()
        upper = Upper()
        await upper.endpoint.start()
        settings = Settings(
            database_url=url,
            data_dir=work,
            secret_key="bench-secret-" + "x" * 32,
            timer_loop=False,
            media=MediaSettings(enabled=False),
            alarms=AlarmSettings(mqtt_enabled=False, pg_bridge=False),
            gb28181=Gb28181Settings(enabled=True, host="127.0.0.1", port=0),
        )
        app = create_app(settings, migrate_on_start=False)
        sent: dict[int, float] = {}
        answered_at: dict[int, float] = {}
        answered: list[float] = []
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with (
                httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=60) as admin,
                httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=60) as duty,
            ):
                for client, user in ((admin, "admin"), (duty, "duty-v01")):
                    r = await client.post(
                        "/api/v1/auth/login", json={"username": user, "password": DEMO_PASSWORD}
                    )
                    client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
                body: dict[str, object] = {
                    "name": "bench",
                    "sip_id": UPPER_ID,
                    "domain": UPPER_ID[:10],
                    "host": "127.0.0.1",
                }
                body |= {"port": upper.endpoint.port, "password": PASSWORD}
                upper_id = (await admin.post("/api/v1/gb28181/uppers", json=body)).json()["id"]
                cams = (await admin.get("/api/v1/cameras")).json()
                for cam in cams[:8]:
                    await admin.put(
                        f"/api/v1/gb28181/uppers/{upper_id}/channels/{cam['id']}", json={"shared": True}
                    )
                await asyncio.wait_for(upper.registered.wait(), 15)
                await asyncio.sleep(0.5)
                for _ in range(presses):
                    started = time.perf_counter()
                    r = await duty.post("/api/v1/alarms", json={"uuid": str(uuid.uuid4()), "source": "pc"})
                    done = time.perf_counter()
                    answered.append(done - started)
                    r.raise_for_status()
                    sent[r.json()["alarm"]["id"]] = started
                    answered_at[r.json()["alarm"]["id"]] = done
                    await asyncio.sleep(every_ms / 1000)
                while any(a not in upper.arrived for a in sent):
                    upper.changed.clear()
                    try:
                        await asyncio.wait_for(upper.changed.wait(), 10)
                    except TimeoutError:
                        break  # what has not come by now counts as not arrived
        await upper.endpoint.stop()
    latency = [(upper.arrived[a][0] - t) * 1000 for a, t in sent.items() if upper.arrived.get(a)]
    after = [(upper.arrived[a][0] - t) * 1000 for a, t in answered_at.items() if upper.arrived.get(a)]
    return {
        "presses": presses,
        "every_ms": every_ms,
        "press_to_notify_ms": {
            "p50": round(statistics.median(latency), 1),
            "p95": round(pct(latency, 0.95), 1),
            "p99": round(pct(latency, 0.99), 1),
            "max": round(max(latency), 1),
        },
        "press_to_http_answer_ms_p50": round(statistics.median(answered) * 1000, 1),
        "http_answer_to_notify_ms": {
            "p50": round(statistics.median(after), 1),
            "p99": round(pct(after, 0.99), 1),
        },
        "not_arrived": sum(1 for a in sent if not upper.arrived.get(a)),
        "arrived_more_than_once": sum(1 for a in sent if len(upper.arrived.get(a, [])) > 1),
        "goal_p99_ms": 100,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_1min": round(os.getloadavg()[0], 1),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presses", type=int, default=200)
    parser.add_argument("--every-ms", type=float, default=20.0)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.presses, args.every_ms)), indent=2))


if __name__ == "__main__":
    main()
