"""Federated test nodes: each a real app under uvicorn with its own data dir, SQLite file, settings
file and nats-server; the CLI (`xueliang node ...`) run in-process against the node's settings file."""

from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from tests.support.app import LiveServer
from tests.support.net import free_port, port_open
from tests.support.waits import wait_for
from typer.testing import CliRunner

from xueliang.app import create_app
from xueliang.cli import app as cli_app
from xueliang.config import load_settings
from xueliang.core.ids import TYPE_PLATFORM, gb_id
from xueliang.seed.demo import DEMO_PASSWORD

COUNTY, QINGXI, SHANGPING, HEBA = "513223", "513223101", "513223101201", "513223101202"
NODE_OF = {COUNTY: 1, QINGXI: 2, "513223102": 3, SHANGPING: 4, "513223102201": 5}


def node_gb(region_code: str) -> str:
    return gb_id("51322300", TYPE_PLATFORM, NODE_OF[region_code])


@dataclass
class Node:
    name: str
    region: str
    root: Path
    nats_port: int = field(default_factory=free_port)
    leaf_port: int = field(default_factory=free_port)
    server: LiveServer | None = None
    leaf_advertise: str = ""
    serial: int = 0  # a node the seed does not name: its own serial
    http_port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    app: Any = None

    @property
    def gb(self) -> str:
        return gb_id("51322300", TYPE_PLATFORM, self.serial) if self.serial else node_gb(self.region)

    @property
    def db_path(self) -> Path:
        return self.root / "xueliang.db"

    @property
    def config(self) -> Path:
        return self.root / "xueliang.toml"

    @property
    def url(self) -> str:
        if self.proc is not None:
            return f"http://127.0.0.1:{self.http_port}"
        assert self.server is not None
        return self.server.url

    def write_config(self, **federation: Any) -> None:
        fed = {
            "enabled": True,
            "node_gb_id": self.gb,
            "nats_port": self.nats_port,
            "leaf_port": self.leaf_port,
            "leaf_host": "127.0.0.1",  # tests listen on loopback only
            "leaf_advertise": self.leaf_advertise,
            "relay_interval_s": 0.2,
            "anchor_interval_s": 0.5,
            **federation,
        }

        def value(v: Any) -> str:
            if isinstance(v, bool):
                return "true" if v else "false"
            if isinstance(v, (int, float)):
                return str(v)
            return f'"{v}"'

        lines = [
            "[xueliang]",
            f'data_dir = "{self.root}"',
            f'database_url = "sqlite+aiosqlite:///{self.db_path}"',
            f'secret_key = "test-secret-{self.name}-{"x" * 32}"',
            "timer_loop = false",
            f"port = {self.http_port}",
            "[xueliang.media]",
            "enabled = false",
            "[xueliang.alarms]",
            "mqtt_enabled = false",
            "pg_bridge = false",
            "[xueliang.federation]",
            *(f"{k} = {value(v)}" for k, v in fed.items()),
        ]
        self.config.write_text("\n".join(lines) + "\n")

    def start(self) -> None:
        self.app = create_app(load_settings(self.config))
        self.server = LiveServer(self.app)
        self.server.start(timeout=60)

    def skew(self, seconds: float) -> None:
        """Move this (in-process) node's clock: the link's timestamps and its link-down watch read it."""
        assert self.app is not None
        self.app.state.ctx.clock = SkewedClock(timedelta(seconds=seconds))

    def spawn(self) -> None:
        """`xueliang serve` as a process of its own (it can be SIGKILLed)."""
        with (self.root / "serve.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "xueliang", "serve", "--config", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_for(lambda: port_open(self.http_port), 60, f"{self.name} to serve")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(20)
            self.proc = None
        if self.server is not None:
            self.server.stop()
            self.server = None

    def cli(self, *args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli_app, [*args, "--config", str(self.config)])
        return result.exit_code, result.output

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.db_path, timeout=10) as conn:
            return conn.execute(sql, params).fetchall()

    def client(self, username: str) -> httpx.Client:
        c = httpx.Client(base_url=self.url, timeout=15)
        r = c.post("/api/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD})
        assert r.status_code == 200, r.text
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return c


class SkewedClock:
    """The system clock moved by an offset: a controlled jump without freezing the node."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


def make_node(template: Path, root: Path, name: str, region: str, serial: int = 0) -> Node:
    root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template, root / "xueliang.db")
    node = Node(name, region, root, serial=serial)
    node.write_config()
    return node
