"""What bench/roles_cpu.py and bench/roles_failover.py share: a fresh PostgreSQL database with the demo
county whose first N cameras point at a simulator, the simulator itself, and `xueliang serve --role
media` processes against them, observed through the lease table (not a test)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from xueliang.cameras.models import Camera
from xueliang.core import migrate
from xueliang.core.clock import SystemClock
from xueliang.core.db import Database
from xueliang.seed.load import seed_demo

PG_ADMIN = os.environ.get("XUELIANG_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres")
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def wait(predicate: Callable[[], bool], timeout: float, what: str, every: float = 0.1) -> float:
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise SystemExit(f"timed out after {timeout} s waiting for {what}")
        time.sleep(every)
    return time.monotonic() - start


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


async def _admin(sql: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(PG_ADMIN)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def fetch(url: str, sql: str, *args: Any) -> list[Any]:
    import asyncpg

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return list(await conn.fetch(sql, *args))
    finally:
        await conn.close()


def sql(url: str, statement: str, *args: Any) -> list[Any]:
    return asyncio.run(fetch(url, statement, *args))


async def _seed(url: str, rtsp_base: str, cameras: int) -> None:
    await migrate.upgrade_async(url)
    db = Database(url)
    try:
        async with db.session() as session:
            await seed_demo(session, now=SystemClock().now(), rtsp_base=rtsp_base)
            await session.commit()
        async with db.session() as session:
            ids = list((await session.scalars(select(Camera.id).order_by(Camera.id))).all())
            await session.execute(update(Camera).where(Camera.id.in_(ids[cameras:])).values(enabled=False))
            await session.execute(update(Camera).values(record=False))
            await session.commit()
    finally:
        await db.dispose()


@dataclass
class Bench:
    """A database, a simulator and the media processes of one benchmark run."""

    cameras: int
    work: Path
    sim_data: Path
    url: str = ""
    sim: subprocess.Popen[bytes] | None = None
    sim_port: int = 0
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)  # port -> process
    env: dict[str, str] = field(default_factory=dict)

    def setup(self) -> None:
        name = f"xl_bench_{uuid.uuid4().hex[:10]}"
        asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
        self.url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + f"/{name}"
        self.sim_port = free_port()
        cmd = [sys.executable, "-m", "xueliang", "sim", "--cameras", str(self.cameras), "--port",
               str(self.sim_port), "--data-dir", str(self.sim_data)]  # fmt: skip
        self.sim = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        asyncio.run(_seed(self.url, f"rtsp://127.0.0.1:{self.sim_port}", self.cameras))
        wait(lambda: port_open(self.sim_port), 900, "the simulator (first run encodes its loops)")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("XUELIANG_")}
        self.env.update(
            XUELIANG_DATABASE_URL=self.url,
            XUELIANG_DATA_DIR=str(self.work / "data"),
            XUELIANG_SECRET_KEY="bench-roles-" + "x" * 40,
            XUELIANG_ALARM_MQTT_ENABLED="false",
            XUELIANG_MEDIA_RTSP_ENABLED="false",
            XUELIANG_RECORDING_ENABLED="false",
            XUELIANG_GRID_ENABLED="false",
        )

    def start_media(self) -> int:
        port = free_port()
        cmd = [sys.executable, "-m", "xueliang", "serve", "--role", "media", "--port", str(port)]
        log = (self.work / f"media-{port}.log").open("ab")
        self.procs[port] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env)
        return port

    def stop_media(self, port: int, kill: bool = False) -> None:
        proc = self.procs.pop(port)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            proc.wait(timeout=30)

    def leases(self) -> list[Any]:
        return sql(
            self.url,
            "SELECT l.camera_id, l.owner, l.status, p.url FROM camera_leases l "
            "LEFT JOIN node_processes p ON p.name = l.owner WHERE l.expires_at > now()",
        )

    def online_by_port(self) -> dict[int, int]:
        """Media port -> cameras it holds that are online (receiving frames)."""
        counts: dict[int, int] = {}
        for row in self.leases():
            if row["status"] == "online" and row["url"]:
                port = int(str(row["url"]).rsplit(":", 1)[1])
                counts[port] = counts.get(port, 0) + 1
        return counts

    def close(self) -> None:
        for port in list(self.procs):
            self.stop_media(port)
        if self.sim is not None:
            self.sim.terminate()
            self.sim.wait(timeout=10)
        if self.url:
            name = self.url.rsplit("/", 1)[1]
            with contextlib.suppress(Exception):
                asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
