"""Alarm benchmark: press → commit → console push, under load. Prints one JSON object.

A real `python -m xueliang serve` (fresh seeded database) with N console WebSockets connected (the two
township operators), then for each rate R: alarms raised at R per second for D seconds, half over HTTP
(village duty officers at a PC, so every press is its own alarm) and half from MQTT buttons on the
local Mosquitto (one registered button per press). Reported per rate: press→ack and press→console
latency (p50/p99/max), presses lost (acknowledged but missing from the database or from a console in
scope), duplicated (stored or pushed twice), unacknowledged (a real device would retry), CPU.

    .venv/bin/python bench/alarms.py --rates 10,100,1000 --duration 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
from sqlalchemy import func, select
from websockets.asyncio.client import ClientConnection, connect

from xueliang.accounts.models import Role, User
from xueliang.alarms.models import Alarm, AlarmDevice
from xueliang.core import migrate
from xueliang.core.clock import SystemClock
from xueliang.core.db import Database
from xueliang.regions.models import Region, RegionLevel
from xueliang.seed.demo import DEMO_PASSWORD
from xueliang.seed.load import seed_demo

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
BROKER_CONF = Path(__file__).resolve().parent.parent / "deploy" / "mosquitto" / "xueliang.conf"


def start_private_broker(work: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Mosquitto on a free loopback port with the project's broker settings (deploy/mosquitto), so the
    figures do not depend on how the machine's own broker is configured."""
    port = free_port()
    lines = []
    for line in BROKER_CONF.read_text().splitlines():
        key = line.split("#", 1)[0].split()
        if not key or key[0] in {"listener", "persistence", "persistence_location"}:
            continue
        lines.append(" ".join(key))
    conf = work / "mosquitto.conf"
    conf.write_text("\n".join([f"listener {port} 127.0.0.1", "persistence false", *lines]) + "\n")
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.STDOUT}
    proc = subprocess.Popen(["mosquitto", "-c", str(conf)], **quiet)  # type: ignore[call-overload]
    for _ in range(100):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.05)
    proc.kill()
    raise SystemExit("the private mosquitto did not start; try --broker system")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))], 2)


def summary(values: list[float]) -> dict[str, float | None]:
    return {"p50": pct(values, 50), "p99": pct(values, 99), "max": round(max(values), 2) if values else None}


async def make_database(backend: str, data_dir: Path) -> tuple[str, str | None]:
    if backend == "sqlite":
        return f"sqlite+aiosqlite:///{data_dir / 'xueliang.db'}", None
    import asyncpg  # type: ignore[import-untyped]

    name = f"xl_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(PG_ADMIN)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    return f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}", name


async def drop_database(name: str | None) -> None:
    if name is None:
        return
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN)
    await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await conn.close()


async def prepare(url: str, buttons: int) -> tuple[dict[str, str], dict[str, str]]:
    """Seed the county and register one MQTT button per planned MQTT press; returns the village path
    of each duty officer and of each button."""
    await migrate.upgrade_async(url)
    db = Database(url)
    try:
        async with db.session() as s:
            await seed_demo(s, now=SystemClock().now(), rtsp_base="rtsp://127.0.0.1:8554")
            villages = (await s.scalars(select(Region).where(Region.level == RegionLevel.village))).all()
            rng = random.Random(7)
            ids: dict[str, str] = {}
            for n in range(buttons):
                v = villages[n % len(villages)]
                assert v.lat is not None and v.lon is not None
                ids[f"bench-{n:06d}"] = v.path
                s.add(
                    AlarmDevice(
                        device_id=f"bench-{n:06d}",
                        region_id=v.id,
                        lat=v.lat + rng.uniform(-0.004, 0.004),
                        lon=v.lon + rng.uniform(-0.004, 0.004),
                    )
                )
            duty = (
                await s.execute(
                    select(User.username, Region.path)
                    .join(Region, Region.id == User.region_id)
                    .where(User.role == Role.duty_officer)
                )
            ).all()
            await s.commit()
        return {u: path for u, path in duty}, ids
    finally:
        await db.dispose()


@dataclass
class Run:
    rate: int
    intended: int = 0  # presses the schedule called for; those never started count as unacknowledged
    http: set[str] = field(default_factory=set)  # uuids pressed over HTTP (the rest over MQTT)
    sent: dict[str, float] = field(default_factory=dict)  # uuid -> press time
    scope: dict[str, str] = field(default_factory=dict)  # uuid -> township path prefix
    acked: dict[str, float] = field(default_factory=dict)  # uuid -> ack time
    ack_ids: dict[str, int] = field(default_factory=dict)


class Consoles:
    """N operator WebSockets recording arrival times of `raised` messages (parsed after the run)."""

    def __init__(self) -> None:
        self.raised = 0  # `raised` messages received by all consoles together
        self.raw: list[list[tuple[float, str]]] = []
        self.paths: list[str] = []
        self.tasks: list[asyncio.Task[None]] = []
        self.sockets: list[ClientConnection] = []

    async def open(self, url: str, tokens: dict[str, tuple[str, str]], count: int) -> None:
        names = sorted(tokens)
        for n in range(count):
            token, path = tokens[names[n % len(names)]]
            ws = await connect(url, additional_headers={"Authorization": f"Bearer {token}"}, max_size=None)
            await ws.recv()  # hello
            inbox: list[tuple[float, str]] = []
            self.raw.append(inbox)
            self.paths.append(path)
            self.sockets.append(ws)
            self.tasks.append(asyncio.create_task(self._read(ws, inbox)))

    async def _read(self, ws: ClientConnection, inbox: list[tuple[float, str]]) -> None:
        async for message in ws:
            text = str(message)
            inbox.append((time.perf_counter(), text))
            if '"event":"raised"' in text:
                self.raised += 1

    def take(self) -> list[list[tuple[float, str]]]:
        taken = [list(box) for box in self.raw]
        for box in self.raw:
            box.clear()
        self.raised = 0
        return taken

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        for ws in self.sockets:
            await ws.close()


async def run_rate(
    rate: int,
    duration: float,
    base: str,
    http_tokens: list[tuple[str, str]],
    buttons: dict[str, str],
    prefix: str,
    mqtt: aiomqtt.Client,
    run: Run,
) -> None:
    total = int(rate * duration)
    run.intended = total
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
        pending: set[asyncio.Task[None]] = set()
        slots = asyncio.Semaphore(64)

        async def via_http(key: str, n: int) -> None:
            token, path = http_tokens[n % len(http_tokens)]
            run.scope[key] = path
            run.http.add(key)
            async with slots:  # httpcore's pool gets quadratic with thousands queued: queue here instead
                run.sent[key] = time.perf_counter()
                await post(key, token)

        async def post(key: str, token: str) -> None:
            try:
                r = await http.post(
                    "/api/v1/alarms",
                    json={"uuid": key, "source": "pc"},
                    headers={"Authorization": f"Bearer {token}"},
                )
            except httpx.HTTPError:
                return
            if r.status_code in (200, 201):
                run.acked[key] = time.perf_counter()
                run.ack_ids[key] = r.json()["alarm"]["id"]

        async def via_mqtt(key: str, device: str, path: str) -> None:
            run.scope[key] = path
            run.sent[key] = time.perf_counter()
            await mqtt.publish(f"{prefix}/alarm/{device}/raise", json.dumps({"uuid": key}), qos=1)

        start = time.perf_counter()
        for n in range(total):
            delay = start + n / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            key = str(uuid.uuid4())
            if n % 2 == 0:
                task = asyncio.create_task(via_http(key, n))
            else:
                device = next(iter(buttons))
                task = asyncio.create_task(via_mqtt(key, device, buttons.pop(device)))
            pending.add(task)
            task.add_done_callback(pending.discard)
        if pending:
            await asyncio.wait(pending, timeout=60)
        for task in list(pending):  # never answered: counted as unacknowledged (a device would retry)
            task.cancel()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    rates = [int(r) for r in args.rates.split(",")]
    buttons_needed = sum(int(r * args.duration) // 2 + 1 for r in rates)
    work = Path(tempfile.mkdtemp(prefix="xl-bench-"))
    url, pg_name = await make_database(args.db, work)
    duty_paths, buttons = await prepare(url, buttons_needed)
    port = free_port()
    broker: subprocess.Popen[bytes] | None = None
    broker_port = 1883
    if args.broker == "private":
        broker, broker_port = start_private_broker(work)
    run_id = uuid.uuid4().hex[:8]
    prefix = f"xlbench/{run_id}"
    env = {
        **os.environ,
        "XUELIANG_DATABASE_URL": url,
        "XUELIANG_DATA_DIR": str(work),
        "XUELIANG_PORT": str(port),
        "XUELIANG_SECRET_KEY": "bench-" + "b" * 40,
        "XUELIANG_ALARM_MQTT_PREFIX": prefix,
        "XUELIANG_ALARM_MQTT_PORT": str(broker_port),
        "XUELIANG_ALARM_MQTT_CLIENT_ID": f"xlbench-server-{run_id}",
        "XUELIANG_ALARM_MQTT_SESSION_EXPIRY_S": "5",
    }
    log = (work / "server.log").open("wb")
    command = args.server_cmd.split() if args.server_cmd else [sys.executable, "-m", "xueliang", "serve"]
    proc = await asyncio.create_subprocess_exec(*command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    result: dict[str, Any] = {
        "benchmark": "alarms",
        "db": args.db,
        "consoles": args.consoles,
        "duration_s": args.duration,
        "broker": args.broker,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_avg_at_start": os.getloadavg(),
        },
        "runs": [],
    }
    consoles = Consoles()
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as c:
            for _ in range(600):
                try:
                    if (await c.get("/api/v1/me")).status_code == 401:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)

            async def token(user: str) -> str:
                r = await c.post("/api/v1/auth/token", json={"username": user, "password": DEMO_PASSWORD})
                value: str = r.json()["access_token"]
                return value

            ops = {"op-qingxi": "513223/513223101/", "op-shimen": "513223/513223102/"}
            op_tokens = {u: (await token(u), p) for u, p in ops.items()}
            http_tokens = [(await token(u), duty_paths[u]) for u in sorted(duty_paths)]
        ws_url = base.replace("http://", "ws://") + "/api/v1/alarms/ws"
        await consoles.open(ws_url, op_tokens, args.consoles)
        async with aiomqtt.Client(
            "127.0.0.1",
            broker_port,
            identifier=f"xlbench-dev-{run_id}",
            max_inflight_messages=1000,
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],  # as docs/alarms-mqtt.md asks
        ) as mqtt:
            acks: dict[str, tuple[float, dict[str, Any]]] = {}
            await mqtt.subscribe(f"{prefix}/alarm/+/ack", qos=1)

            async def ack_pump() -> None:
                async for message in mqtt.messages:
                    assert isinstance(message.payload, bytes)
                    body = json.loads(message.payload)
                    acks[body.get("uuid") or ""] = (time.perf_counter(), body)

            pump = asyncio.create_task(ack_pump())
            for rate in rates:
                run = Run(rate)
                cpu0, wall0 = cpu_seconds(proc.pid), time.perf_counter()
                await run_rate(rate, args.duration, base, http_tokens, buttons, prefix, mqtt, run)
                send_wall = time.perf_counter() - wall0
                await _drain(run, acks, consoles, args.drain)
                cpu, wall = cpu_seconds(proc.pid) - cpu0, time.perf_counter() - wall0
                result["runs"].append(
                    await _report(run, consoles.take(), consoles.paths, url, cpu, wall, send_wall)
                )
            pump.cancel()
    finally:
        await consoles.close()
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 20)
        except TimeoutError:
            proc.kill()
        log.close()
        if broker is not None:
            broker.terminate()
            broker.wait(10)
        await drop_database(pg_name)
    return result


async def _drain(
    run: Run, acks: dict[str, tuple[float, dict[str, Any]]], consoles: Consoles, wait_s: float
) -> None:
    """Wait until every press is answered and every console in scope has it, or `wait_s` passes."""
    deadline = time.perf_counter() + wait_s
    while time.perf_counter() < deadline:
        for key in run.sent:
            if key not in run.acked and key in acks and acks[key][1].get("ok"):
                run.acked[key] = acks[key][0]
                run.ack_ids[key] = acks[key][1]["alarm_id"]
        answered = sum(1 for k in run.sent if k in run.acked or k in acks)
        expected = sum(1 for k in run.acked for path in consoles.paths if run.scope[k].startswith(path))
        if answered == len(run.sent) and consoles.raised >= expected:
            return
        await asyncio.sleep(0.1)


async def _report(
    run: Run,
    boxes: list[list[tuple[float, str]]],
    paths: list[str],
    url: str,
    cpu: float,
    wall: float,
    send_wall: float,
) -> dict[str, Any]:
    db = Database(url)
    try:
        async with db.session() as s:
            keys = list(run.sent)
            stored: dict[str, int] = {}
            region_paths: dict[str, str] = {}
            for i in range(0, len(keys), 500):
                rows = await s.execute(
                    select(Alarm.uuid, func.count(), func.min(Alarm.region_path))
                    .where(Alarm.uuid.in_(keys[i : i + 500]))
                    .group_by(Alarm.uuid)
                )
                for key, count, path in rows.all():
                    stored[key] = count
                    region_paths[key] = path
    finally:
        await db.dispose()
    push_ms: list[float] = []
    lost_push = dup_push = 0
    for box, path in zip(boxes, paths, strict=True):
        seen: dict[str, int] = defaultdict(int)
        for t, text in box:
            if '"event":"raised"' not in text:
                continue
            at = text.find('"uuid":"')
            key = text[at + 8 : at + 44]
            seen[key] += 1
            if key in run.sent:
                push_ms.append((t - run.sent[key]) * 1000)
        for key in run.acked:
            if region_paths.get(key, "").startswith(path) and seen.get(key, 0) == 0:
                lost_push += 1
        dup_push += sum(n - 1 for n in seen.values() if n > 1)
    lost_db = sum(1 for k in run.acked if stored.get(k, 0) == 0)
    dup_db = sum(n - 1 for n in stored.values() if n > 1)
    ack_ms = [(run.acked[k] - run.sent[k]) * 1000 for k in run.acked]
    by_channel = {
        name: summary([(run.acked[k] - run.sent[k]) * 1000 for k in run.acked if (k in run.http) == is_http])
        for name, is_http in (("http", True), ("mqtt", False))
    }
    return {
        "rate_per_s": run.rate,
        "intended": run.intended,
        "pressed": len(run.sent),
        "achieved_press_rate": round(len(run.sent) / send_wall, 1),
        "acknowledged": len(run.acked),
        "unacknowledged": run.intended - len(run.acked),  # never answered, or never sent by this client
        "lost": lost_db + lost_push,
        "lost_in_db": lost_db,
        "lost_pushes": lost_push,
        "duplicated": dup_db + dup_push,
        "press_to_ack_ms": summary(ack_ms),
        "press_to_ack_ms_by_channel": by_channel,
        "press_to_console_ms": summary(push_ms),
        "console_messages": len(push_ms),
        "server_cpu_pct_of_one_core": round(100 * cpu / wall, 1),
        "wall_s": round(wall, 1),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rates", default="10,100,1000", help="alarms per second, comma-separated")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per rate")
    parser.add_argument("--consoles", type=int, default=50)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--broker",
        choices=["private", "system"],
        default="private",
        help="private: a mosquitto of our own with deploy/mosquitto/xueliang.conf; system: 127.0.0.1:1883",
    )
    parser.add_argument("--server-cmd", default="", help="run this instead of `python -m xueliang serve`")
    parser.add_argument("--drain", type=float, default=60.0, help="seconds to wait for late answers")
    print(json.dumps(asyncio.run(main(parser.parse_args())), ensure_ascii=False))
