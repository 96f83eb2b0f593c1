"""A whole node end to end: the simulator as its own process, the platform under uvicorn with the media
engine on, pulling the simulator's cameras over real RTSP (the `node` fixture in tests/conftest.py)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import update

from tests.support.app import LiveServer
from tests.support.db import run_async, seed_database
from tests.support.net import port_open
from tests.support.sim import SIM_CACHE, SIM_CAMERAS
from tests.support.waits import wait_for
from xueliang.cameras.models import Camera
from xueliang.core.db import Database
from xueliang.seed.demo import DEMO_PASSWORD


class Simulator:
    """`xueliang sim` in its own process, stoppable and restartable on the same port; its output goes to
    `log` (a session's simulator would fill a pipe nobody reads)."""

    def __init__(self, port: int, log: Path) -> None:
        self.port = port
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> None:
        cmd = [
            sys.executable,
            "-m",
            "xueliang",
            "sim",
            "--cameras",
            str(SIM_CAMERAS),
            "--port",
            str(self.port),
            "--data-dir",
            str(SIM_CACHE),
        ]
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        wait_for(lambda: port_open(self.port), timeout, "the simulator to listen")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


@dataclass
class Node:
    server: LiveServer
    sim: Simulator
    loop_box: list[asyncio.AbstractEventLoop] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, username: str) -> httpx.Client:
        c = httpx.Client(base_url=self.url, timeout=10)
        r = c.post("/api/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD})
        assert r.status_code == 200, r.text
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return c

    def in_server_loop(self, fn: Callable[[], object]) -> object:
        async def call() -> object:
            return fn()

        return asyncio.run_coroutine_threadsafe(call(), self.loop_box[0]).result(timeout=10)


def seed_for_sim(url: str, sim_port: int) -> None:
    """The demo county with its cameras on the simulator; only cameras 1..SIM_CAMERAS enabled."""
    seed_database(url, rtsp_base=f"rtsp://127.0.0.1:{sim_port}")

    async def run() -> None:
        db = Database(url)
        try:
            async with db.session() as s:
                numbers_beyond = [f"{n:06d}" for n in range(SIM_CAMERAS + 1, 60)]
                await s.execute(
                    update(Camera)
                    .where(Camera.gb_id.in_([f"51322300001320{n}" for n in numbers_beyond]))
                    .values(enabled=False)
                )
                await s.commit()
        finally:
            await db.dispose()

    run_async(run())


def number_of(gb_id: str) -> int:
    return int(gb_id[-6:])


def online(node: Node) -> bool:
    health: list[dict[str, object]] = node.client("admin").get("/api/v1/cameras/health").json()
    return sum(h["status"] == "online" for h in health) == SIM_CAMERAS
