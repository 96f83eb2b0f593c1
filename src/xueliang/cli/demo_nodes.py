"""`xueliang demo`: the seed county as its five nodes (issue 18), each a `xueliang serve` process.

The county (port P), the townships 清溪镇 (P+1) and 石门乡 (P+2), the villages 上坪村 (P+3) and 石门村
(P+4), each with its own data dir (`<data-dir>/nodes/<name>/`: settings file, SQLite database, node
key, nats-server store), its own nats-server (client port 14222+i, leaf port 17422+i) and RTSP
re-serve (18555+i), and one simulator for all. On the first start each node is seeded, told which
cameras it hosts (a node hosts its region's cameras except those of a child region with its own node;
those it has as `node://<child>/<id>`, as the catalog sync leaves them), then joined top-down with
`xueliang node invite` at the parent and `xueliang node join` at the child. A later start finds them
joined and only starts them. `xueliang demo --single` is the one node of before.

Ctrl-C or SIGTERM stops the five nodes and the simulator."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from rich.table import Table
from sqlalchemy import select, update

from xueliang.cameras.models import Camera
from xueliang.config import Settings, load_settings
from xueliang.core.db import Database
from xueliang.nodes.models import Node
from xueliang.regions.models import Region
from xueliang.seed.demo import DEMO_PASSWORD
from xueliang.seed.gb_demo import start_gb_demo
from xueliang.server import console, prepare_demo, start_simulator, wait_for_simulator


@dataclass(frozen=True)
class DemoNode:
    name: str
    region_code: str
    index: int  # port offset
    parent: str | None

    def root(self, data_dir: Path) -> Path:
        return data_dir / "nodes" / self.name

    def config(self, data_dir: Path) -> Path:
        return self.root(data_dir) / "xueliang.toml"


NODES = (
    DemoNode("county", "513223", 0, None),
    DemoNode("qingxi", "513223101", 1, "county"),
    DemoNode("shimen", "513223102", 2, "county"),
    DemoNode("shangping", "513223101201", 3, "qingxi"),
    DemoNode("shimencun", "513223102201", 4, "shimen"),
)
BY_NAME = {n.name: n for n in NODES}
# The GB/T 28181 dome that "turns 360°" (上坪村's entrance camera) registers to its village's node:
# GB/T 28181 is on there (SIP on loopback 5060), with one simulated device (seed/gb_demo.py).
GB_NODE = "shangping"
GB_DEVICES = 1


def write_config(node: DemoNode, data_dir: Path, port: int, sim_port: int) -> Path:
    """The node's settings file, written once (its secret key stays with it)."""
    path = node.config(data_dir)
    if path.exists():
        return path
    root = node.root(data_dir)
    root.mkdir(parents=True, exist_ok=True)
    i = node.index
    path.write_text(
        "\n".join(
            [
                "[xueliang]",
                f'data_dir = "{root.resolve()}"',
                f"port = {port + i}",
                f'secret_key = "{secrets.token_urlsafe(32)}"',
                f'sim_rtsp_base = "rtsp://127.0.0.1:{sim_port}"',
                "[xueliang.media]",
                f"rtsp_port = {18555 + i}",
                "[xueliang.alarms]",
                "mqtt_enabled = false",
                "[xueliang.federation]",
                "enabled = true",
                f"nats_port = {14222 + i}",
                f"leaf_port = {17422 + i}",
                'leaf_host = "127.0.0.1"',
                *(
                    [
                        "[xueliang.gb28181]",
                        "enabled = true",
                        'host = "127.0.0.1"',
                        'advertise_host = "127.0.0.1"',
                    ]
                    if node.name == GB_NODE
                    else []
                ),
                "",
            ]
        )
    )
    return path


async def _assign(settings: Settings, node: DemoNode) -> str:
    """Make the seeded copy this node's: its own row local, its cameras enabled, a child node's cameras
    as `node://`, cameras outside its subtree off; returns its GB/T 28181 ID."""
    db = Database(settings.resolved_database_url())
    try:
        async with db.session() as session:
            rows = (
                await session.execute(
                    select(Node, Region.code, Region.path).join(Region, Node.region_id == Region.id)
                )
            ).all()
            by_code = {code: (n, path) for n, code, path in rows}
            me, my_path = by_code[node.region_code]
            await session.execute(update(Node).values(is_local=Node.id == me.id))
            children = [(n, path) for n, _, path in rows if n.parent_id == me.id]
            cams = (
                await session.execute(select(Camera, Region.path).join(Region, Camera.region_id == Region.id))
            ).all()
            for cam, path in cams:
                if not path.startswith(my_path):
                    cam.enabled = False
                    continue
                host = next((child for child, child_path in children if path.startswith(child_path)), None)
                if host is not None and cam.host_node_id is None:
                    cam.host_node_id, cam.remote_id = host.id, cam.id
                    cam.stream_url = f"node://{host.gb_id}/{cam.id}"
                    cam.record = False  # the hosting node records it
            await session.commit()
            return me.gb_id
    finally:
        await db.dispose()


async def _joined(settings: Settings) -> bool:
    """Whether this node's parent row holds the parent's key (a join happened)."""
    db = Database(settings.resolved_database_url())
    try:
        async with db.session() as session:
            me = await session.scalar(select(Node).where(Node.is_local.is_(True)))
            parent = await session.get(Node, me.parent_id) if me is not None and me.parent_id else None
            return parent is not None and parent.public_key is not None
    finally:
        await db.dispose()


def _cli(config: Path, *args: str) -> str:
    done = subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "xueliang", "node", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"xueliang node {args[0]} failed: {done.stdout}{done.stderr}")
    return done.stdout.strip()


def _serve(config: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "xueliang", "serve", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} stopped (exit code {proc.returncode}); see its log")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.1)
    raise SystemExit(f"{what} does not answer on port {port}")


def logins_table(port: int) -> Table:
    table = Table(title=f"Five nodes: who logs in where (password for all: {DEMO_PASSWORD})")
    table.add_column("node")
    table.add_column("console")
    table.add_column("logins")
    rows = {
        "county": "admin (县平台管理员), auditor",
        "qingxi": "op-qingxi (清溪派出所值班员); residents and duty officers of 清溪镇's other villages",
        "shimen": "op-shimen (石门派出所值班员); residents and duty officers of 石门乡's other villages",
        "shangping": "duty-v01, res-v01, gw-01, vol-v01-1 … (上坪村)",
        "shimencun": "the duty officer, residents, grid worker, volunteers of 石门村",
    }
    names = {
        "county": "县 (county)",
        "qingxi": "清溪镇",
        "shimen": "石门乡",
        "shangping": "上坪村",
        "shimencun": "石门村",
    }
    for node in NODES:
        table.add_row(names[node.name], f"http://127.0.0.1:{port + node.index}/", rows[node.name])
    return table


def run_federated_demo(base: Settings, port: int, sim_port: int, cameras: int) -> None:
    data_dir = base.data_dir
    data_dir.mkdir(parents=True, exist_ok=True)
    sim = start_simulator(base, cameras, sim_port)  # first: it encodes its loops while we seed
    procs: dict[str, subprocess.Popen[bytes]] = {}
    sims = [sim]  # the RTSP simulator, then the GB one once its node listens

    def _stop(signum: int, _frame: object) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _stop)
    try:
        settings: dict[str, Settings] = {}
        first: Path | None = None
        for node in NODES:
            config = write_config(node, data_dir, port, sim_port)
            settings[node.name] = load_settings(config)
            db_file = node.root(data_dir) / "xueliang.db"
            if db_file.exists():  # migrates; the county (and the GB dome's device) in place
                asyncio.run(prepare_demo(settings[node.name], gb_devices=GB_DEVICES))
                continue
            if first is None:  # seeded once; the others start from a copy of that seed
                asyncio.run(prepare_demo(settings[node.name]))
                with sqlite3.connect(db_file) as conn:
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                first = data_dir / "nodes" / "seed.db"
                shutil.copyfile(db_file, first)
            else:
                shutil.copyfile(first, db_file)
            asyncio.run(_assign(settings[node.name], node))
            if node.name == GB_NODE:  # its GB device provisioned and bound before it registers
                asyncio.run(prepare_demo(settings[node.name], gb_devices=GB_DEVICES))
        wait_for_simulator(sim, sim_port)
        for node in NODES:  # top-down: a parent listens before its children join it
            config = node.config(data_dir)
            if node.parent is not None and not asyncio.run(_joined(settings[node.name])):
                parent = BY_NAME[node.parent]
                code = _cli(parent.config(data_dir), "invite", "--region", node.region_code).splitlines()[-1]
                _cli(config, "join", f"http://127.0.0.1:{port + parent.index}", code)
            procs[node.name] = _serve(config, node.root(data_dir) / "serve.log")
            _wait_port(port + node.index, procs[node.name], f"the {node.name} node")
            console.print(f"{node.name} node up on port {port + node.index}")
            if node.name == GB_NODE:
                sims.append(start_gb_demo(settings[node.name], GB_DEVICES))
        console.print(logins_table(port))
        console.print(f"console: http://127.0.0.1:{port}/ (county); logs: {data_dir / 'nodes'}/*/serve.log")
        while all(p.poll() is None for p in procs.values()):
            time.sleep(0.5)
        dead = [name for name, p in procs.items() if p.poll() is not None]
        raise SystemExit(f"node(s) stopped: {', '.join(dead)}; see their serve.log")
    except KeyboardInterrupt:
        pass
    finally:
        for proc in [*reversed(procs.values()), *sims]:
            if proc.poll() is None:
                proc.terminate()
        for proc in [*procs.values(), *sims]:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
