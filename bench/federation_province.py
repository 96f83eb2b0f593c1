"""Province scale (issue 18): one parent node against 1,000 enrolled children.

Real: the parent is the county node as `xueliang serve` in a process of its own (its SQLite file, its
supervised nats-server whose configuration holds a leaf user per enrolled child, the link's relay and
consumer, the console WebSocket). Every message it applies is a real envelope: signed with the Ed25519
key of one of the 1,000 children, whose public key the parent's database holds (enrolled), carrying
JetStream's de-duplication id, in the body format the children's link sends.

Modelled: the children run no application of their own. Their enrollment rows (key, region, parent) are
written into the parent's database before it starts (their 1,000 village regions under 10 new
townships), and `--joins` more children then enroll for real (`xueliang node invite` at the parent,
`xueliang node join` from the child's own data dir and database) with the 1,000 in place. `--leafs` of
the children run a real nats-server of their own, dialling the parent's leaf port with the leaf
credentials the parent derives for them, and publish through it as a child's link does; the other
children's messages enter the parent's JetStream over a few client connections on the parent's server
(the same stream, subjects and consumer; not a leaf link each).

Phases, with the parent's CPU (its Python process and its nats-server, from /proc) and memory (RSS):
1. start and idle: the parent started with no child, then with the 1,000 (startup, RSS and idle CPU
   over `--idle` s; the difference per child is what each enrolled child costs at rest);
2. leaf links: the `--leafs` children's servers connect; RSS of the parent's nats-server per link;
3. catalog: each child sends its region and `--cameras` cameras (10,000 for 1,000 x 10); time until
   the parent holds them all (goal: <= 60 s), messages/s, CPU per message;
4. alarm storm: every child raises one alarm at the same moment; each one's `raised` push timed on a
   county console WebSocket from its publish, and the time until all are open at the parent;
5. enrollment: `--joins` real joins with the 1,000 enrolled; each join's time, and how long until the
   leaf-linked children publish again (an enrollment restarts the parent's nats-server).

    .venv/bin/python bench/federation_province.py [--children 1000] [--cameras 10] [--leafs 10] [--joins 3]

Prints one JSON object."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test suite's node harness

from tests.federation.linkkit import COUNTY, Node, make_node
from tests.support.db import seed_database
from tests.support.net import free_port, port_open

from xueliang.core.ids import TYPE_PLATFORM, gb_id
from xueliang.federation.envelope import Envelope, seal, subject
from xueliang.federation.identity import NodeIdentity
from xueliang.federation.natsd import LeafRemote, ServerConfig, leaf_password, nats_binary, secret_for
from xueliang.seed.demo import DEMO_PASSWORD

TOWNSHIPS = 10
FIRST_SERIAL = 1000
CLK_TCK = os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


@dataclass
class Child:
    gb: str
    code: str  # its village
    key: Ed25519PrivateKey
    identity: NodeIdentity = field(init=False)
    sent: int = 0

    def __post_init__(self) -> None:
        self.identity = NodeIdentity(self.gb, self.key)

    @property
    def public_hex(self) -> str:
        raw = self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return raw.hex()

    def envelope(self, to: str, kind: str, body: dict[str, Any]) -> tuple[str, bytes, dict[str, str]]:
        self.sent += 1
        env = Envelope(f"{self.gb}-{self.sent}", self.gb, to, kind, datetime.now(UTC), body)
        data, headers = seal(self.identity, env)
        return subject(to, self.gb, kind), data, headers


def province(db: Path, children: int, spare: int) -> list[Child]:
    """10 townships under the county with `children + spare` villages among them; the first `children`
    villages' nodes enrolled to the county node (the database's local node) with keys of their own."""
    now = datetime.now(UTC) - timedelta(hours=1)
    out: list[Child] = []
    with closing(sqlite3.connect(db)) as conn, conn:  # closed: checkpointed before the file is copied
        county_id, county_path, lat, lon = conn.execute(
            "SELECT id, path, lat, lon FROM regions WHERE code = ?", (COUNTY,)
        ).fetchone()
        (county_node,) = conn.execute("SELECT id FROM nodes WHERE is_local").fetchone()
        per = -(-(children + spare) // TOWNSHIPS)
        for t in range(TOWNSHIPS):
            code = f"{COUNTY}{201 + t}"
            cur = conn.execute(
                "INSERT INTO regions (code, name, name_en, level, parent_id, path, households, population,"
                " lat, lon) VALUES (?, ?, ?, 'township', ?, ?, 0, 0, ?, ?)",
                (code, f"测试镇{t}", f"Town {t}", county_id, f"{county_path}{code}/", lat, lon),
            )
            town_id, town_path = cur.lastrowid, f"{county_path}{code}/"
            for v in range(per):
                i = t * per + v
                if i >= children + spare:
                    break
                vcode = f"{code}{v + 1:03d}"
                cur = conn.execute(
                    "INSERT INTO regions (code, name, name_en, level, parent_id, path, households,"
                    " population, lat, lon) VALUES (?, ?, ?, 'village', ?, ?, 100, 300, ?, ?)",
                    (vcode, f"测试村{i}", f"Village {i}", town_id, f"{town_path}{vcode}/", lat, lon),
                )
                child = Child(
                    gb_id("51322300", TYPE_PLATFORM, FIRST_SERIAL + i), vcode, Ed25519PrivateKey.generate()
                )
                out.append(child)
                if i < children:
                    conn.execute(
                        "INSERT INTO nodes (gb_id, name, region_id, parent_id, is_local, public_key,"
                        " enrolled_at) VALUES (?, ?, ?, ?, 0, ?, ?)",
                        (
                            child.gb,
                            f"测试村{i}平台",
                            cur.lastrowid,
                            county_node,
                            child.public_hex,
                            now.strftime("%Y-%m-%d %H:%M:%S.%f"),
                        ),
                    )
    return out


def camera(child: Child, i: int, j: int) -> dict[str, Any]:
    return {
        "gb_id": gb_id("51322300", 131, 100000 + i * 100 + j),
        "name": f"测试村{i}摄像机{j}",
        "name_en": f"Village {i} camera {j}",
        "lat": 30.0 + i * 1e-4,
        "lon": 104.0 + j * 1e-4,
        "heading": 90.0,
        "fov_angle": 60.0,
        "fov_range": 80.0,
        "ptz": False,
        "public_view": False,
        "enabled": True,
        "record": True,
        "retention_days": 30,
        "kind": "settlement",
        "region_code": child.code,
        "remote_id": j + 1,
        "status": "online",
    }


def alarm(child: Child) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "uuid": str(uuid.uuid4()),
        "kind": "emergency",
        "source": "tv",
        "region_code": child.code,
        "state": "new",
        "note": "",
        "pressed_at": now,
        "lat": None,
        "lon": None,
        "press_count": 1,
        "origin": child.gb,
        "event": {"id": 1, "action": "raised", "at": now, "actor": "res", "note": "", "detail": {}},
    }


# ---- the parent's process ----------------------------------------------------------------------


def nats_pid(node: Node) -> int:
    return int((node.root / "nats" / "nats-server.pid").read_text().strip())


def cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass
class Meter:
    """CPU seconds of the parent's Python process and its nats-server over a phase."""

    node: Node
    t0: float = 0.0
    py0: float = 0.0
    ns0: float = 0.0

    def __enter__(self) -> Meter:
        assert self.node.proc is not None
        self.t0, self.py0, self.ns0 = (
            time.perf_counter(),
            cpu_s(self.node.proc.pid),
            cpu_s(nats_pid(self.node)),
        )
        return self

    def __exit__(self, *_exc: object) -> None:
        assert self.node.proc is not None
        self.wall = time.perf_counter() - self.t0
        self.py = cpu_s(self.node.proc.pid) - self.py0
        self.ns = cpu_s(nats_pid(self.node)) - self.ns0

    def figures(self, per: int = 0, what: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {
            "wall_s": round(self.wall, 2),
            "parent_cpu_s": round(self.py, 2),
            "nats_cpu_s": round(self.ns, 2),
        }
        if per:
            out[f"parent_cpu_ms_per_{what}"] = round(1000 * self.py / per, 3)
            out[f"nats_cpu_ms_per_{what}"] = round(1000 * self.ns / per, 3)
        return out


def wait(check: Callable[[], bool], limit_s: float, what: str) -> None:
    deadline = time.monotonic() + limit_s
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not happen in {limit_s} s")
        time.sleep(0.05)


def parent_node(db: Path, root: Path) -> Node:
    node = make_node(db, root, "county", COUNTY)
    node.write_config(relay_interval_s=1.0, anchor_interval_s=60.0, link_down_after_s=86400.0)
    return node


def start(node: Node) -> float:
    t0 = time.perf_counter()
    node.spawn()
    wait(lambda: port_open(node.nats_port), 120, "the parent's nats-server")
    wait(lambda: (node.root / "nats" / "nats-server.pid").exists(), 30, "the nats-server pid file")
    return time.perf_counter() - t0


def idle(node: Node, seconds: float) -> dict[str, Any]:
    assert node.proc is not None
    time.sleep(2)  # the first relay rounds (catalog, regions) settle
    with Meter(node) as m:
        time.sleep(seconds)
    return {
        "rss_mb": round(rss_mb(node.proc.pid), 1),
        "nats_rss_mb": round(rss_mb(nats_pid(node)), 1),
        "idle_cpu_pct": round(100 * m.py / m.wall, 2),
        "idle_nats_cpu_pct": round(100 * m.ns / m.wall, 2),
    }


# ---- children's publishing -----------------------------------------------------------------------


class Publishers:
    """The children's way into the parent's stream: their own leaf servers for the first `leafs`,
    client connections on the parent's server (round robin) for the others."""

    def __init__(self, parent: Node, secret: str, children: list[Child], leafs: int, root: Path) -> None:
        self.parent, self.secret, self.children, self.leafs, self.root = parent, secret, children, leafs, root
        self.servers: list[subprocess.Popen[bytes]] = []
        self.ports: dict[str, int] = {}
        self.conns: dict[str, Any] = {}
        self.shared: list[Any] = []

    def start_leafs(self) -> None:
        binary = nats_binary()
        for child in self.children[: self.leafs]:
            port = free_port()
            d = self.root / "leaf" / child.gb
            d.mkdir(parents=True)
            conf = ServerConfig(
                gb_id=child.gb,
                store_dir=d / "js",
                client_port=port,
                local_password="local",  # noqa: S106 - a throwaway loopback server
                parent=self.parent.gb,
                remote=LeafRemote(
                    "127.0.0.1",
                    self.parent.leaf_port,
                    child.gb,
                    leaf_password(self.secret, child.gb, child.public_hex),
                ),
            )
            (d / "nats.conf").write_text(conf.render())
            log = (d / "nats.log").open("ab")
            self.servers.append(
                subprocess.Popen([binary, "-c", str(d / "nats.conf")], stdout=log, stderr=subprocess.STDOUT)
            )
            self.ports[child.gb] = port

    async def connect(self, shared: int) -> None:
        import nats

        for gb, port in self.ports.items():
            for _ in range(200):
                if port_open(port):
                    break
                await asyncio.sleep(0.05)
            self.conns[gb] = await nats.connect(  # replies under the child's own inbox, as its link's
                f"nats://local:local@127.0.0.1:{port}",
                inbox_prefix=f"_X.{gb}".encode(),
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.2,
            )
        password = secret_for(self.secret, "nats-local")
        for _ in range(shared):
            self.shared.append(
                await nats.connect(
                    f"nats://local:{password}@127.0.0.1:{self.parent.nats_port}",
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.2,
                )
            )

    def conn(self, i: int, child: Child) -> Any:
        return self.conns.get(child.gb) or self.shared[i % len(self.shared)]

    async def leaf_ready(self) -> float:
        """Until every leaf-linked child has a message taken by the parent's stream (a ping)."""
        t0 = time.perf_counter()
        for i, child in enumerate(self.children[: self.leafs]):
            js = self.conns[child.gb].jetstream()
            while True:
                subj, data, headers = child.envelope(self.parent.gb, "ping", {})
                try:
                    await js.publish(subj, data, headers=headers, timeout=1.0)
                    break
                except Exception as exc:
                    if time.perf_counter() - t0 > 60:
                        log = (self.root / "leaf" / child.gb / "nats.log").read_text()[-1000:]
                        what = f"leaf child {i} did not reach the parent: {exc!r}"
                        raise RuntimeError(f"{what}\n{log}") from exc
                    await asyncio.sleep(0.1)
        return time.perf_counter() - t0

    async def send(self, messages: list[tuple[int, Child, str, dict[str, Any]]]) -> dict[str, float]:
        """Publish all, each child's in its order, with a window of acknowledgements in flight."""
        published: dict[str, float] = {}
        futures = []
        for i, child, kind, body in messages:
            subj, data, headers = child.envelope(self.parent.gb, kind, body)
            js = self.conn(i, child).jetstream()
            futures.append(await js.publish_async(subj, data, headers=headers, wait_stall=30.0))
            if kind == "alarm":
                published[str(body["uuid"])] = time.perf_counter()
        await asyncio.gather(*futures)
        return published

    async def close(self) -> None:
        for nc in [*self.conns.values(), *self.shared]:
            await nc.close()
        for proc in self.servers:
            proc.terminate()
        for proc in self.servers:
            proc.wait(10)


# ---- phases --------------------------------------------------------------------------------------


def progress(what: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {what}", file=sys.stderr, flush=True)


def count(node: Node, sql: str) -> int:
    return int(node.query(sql)[0][0])


async def catalog(parent: Node, pubs: Publishers, children: list[Child], cameras: int) -> dict[str, Any]:
    before = count(parent, "SELECT count(*) FROM cameras WHERE host_node_id IS NOT NULL")
    msgs: list[tuple[int, Child, str, dict[str, Any]]] = []
    for i, child in enumerate(children):
        region = {"code": child.code, "parent_code": child.code[:9], "level": "village", "households": 100}
        msgs.append((i, child, "regions", {"regions": [region]}))
        msgs += [(i, child, "camera", camera(child, i, j)) for j in range(cameras)]
    want = before + len(children) * cameras
    progress(f"catalog: {len(msgs)} messages")
    with Meter(parent) as m:
        t0 = time.perf_counter()
        await pubs.send(msgs)
        published_s = time.perf_counter() - t0
        while count(parent, "SELECT count(*) FROM cameras WHERE host_node_id IS NOT NULL") < want:
            if time.perf_counter() - t0 > 900:
                raise RuntimeError("the catalog did not arrive in 15 minutes")
            await asyncio.sleep(0.1)
    return {
        "messages": len(msgs),
        "cameras": len(children) * cameras,
        "published_s": round(published_s, 2),
        "synced_s": round(m.wall, 2),
        "messages_per_s": round(len(msgs) / m.wall, 1),
        **m.figures(len(msgs), "message"),
    }


async def token(base: str, user: str) -> str:
    async with httpx.AsyncClient(base_url=base) as c:
        r = await c.post("/api/v1/auth/token", json={"username": user, "password": DEMO_PASSWORD})
        r.raise_for_status()
        return str(r.json()["access_token"])


async def storm(parent: Node, pubs: Publishers, children: list[Child]) -> dict[str, Any]:
    seen: dict[str, float] = {}
    url = parent.url.replace("http://", "ws://") + "/api/v1/alarms/ws"
    ws = await connect(
        url, additional_headers={"Authorization": f"Bearer {await token(parent.url, 'admin')}"}
    )
    await ws.recv()

    async def read() -> None:
        async for message in ws:
            doc = json.loads(message)
            if doc.get("event") == "raised" and "alarm" in doc:
                seen.setdefault(doc["alarm"]["uuid"], time.perf_counter())

    reader = asyncio.create_task(read())
    msgs = [(i, child, "alarm", alarm(child)) for i, child in enumerate(children)]
    progress(f"storm: {len(msgs)} alarms")
    with Meter(parent) as m:
        published = await pubs.send(msgs)
        t0 = min(published.values())
        while len(seen.keys() & published.keys()) < len(published):
            if time.perf_counter() - t0 > 600:
                raise RuntimeError(f"{len(seen)} of {len(published)} alarms reached the console")
            await asyncio.sleep(0.02)
    await ws.close()
    reader.cancel()
    delays = [(seen[u] - t) * 1000 for u, t in published.items()]
    return {
        "alarms": len(published),
        "all_on_console_s": round(max(seen[u] for u in published) - t0, 2),
        "publish_to_console_ms_p50": pct(delays, 0.5),
        "publish_to_console_ms_p99": pct(delays, 0.99),
        "publish_to_console_ms_max": round(max(delays), 1),
        **m.figures(len(published), "alarm"),
    }


async def joins(
    parent: Node, template: Path, spare: list[Child], root: Path, pubs: Publishers
) -> dict[str, Any]:
    """Real enrollments with the others in place: `node invite` at the parent, `node join` from the
    child's own data dir (the CLI runs its own event loop: in a thread here)."""
    times: list[float] = []
    back: list[float] = []
    progress(f"enrollment: {len(spare)} joins")
    for k, child in enumerate(spare):
        rc, code = await asyncio.to_thread(parent.cli, "node", "invite", "--region", child.code)
        assert rc == 0, code
        node = make_node(template, root / f"join{k}", f"join{k}", child.code, serial=FIRST_SERIAL + 5000 + k)
        args = ("node", "join", parent.url, code.strip(), "--region", child.code, "--name", child.code)
        t0 = time.perf_counter()
        rc, out = await asyncio.to_thread(node.cli, *args)
        assert rc == 0, out
        times.append(time.perf_counter() - t0)
        await asyncio.sleep(0.3)  # the parent's nats-server restarts with the new leaf user
        back.append(await pubs.leaf_ready() + 0.3)
    return {
        "joins": len(spare),
        "join_s": [round(t, 2) for t in times],
        "leaf_children_publish_again_s": [round(t, 2) for t in back],
    }


# ---- main ----------------------------------------------------------------------------------------


async def traffic(
    parent: Node,
    pubs: Publishers,
    children: list[Child],
    spare: list[Child],
    args: argparse.Namespace,
    root: Path,
) -> dict[str, Any]:
    assert parent.proc is not None
    await pubs.connect(args.shared)
    try:
        out: dict[str, Any] = {"leaf_links_up_s": round(await pubs.leaf_ready(), 2)}
        out["nats_rss_mb_with_leafs"] = round(rss_mb(nats_pid(parent)), 1)
        out["catalog"] = await catalog(parent, pubs, children, args.cameras)
        out["storm"] = await storm(parent, pubs, children)
        out["after"] = {
            "rss_mb": round(rss_mb(parent.proc.pid), 1),
            "nats_rss_mb": round(rss_mb(nats_pid(parent)), 1),
        }
        out["enrollment"] = await joins(parent, root / "province.db", spare, root, pubs)
    finally:
        await pubs.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--children", type=int, default=1000)
    parser.add_argument("--cameras", type=int, default=10)
    parser.add_argument("--leafs", type=int, default=10)
    parser.add_argument("--joins", type=int, default=3)
    parser.add_argument("--shared", type=int, default=8, help="client connections for the other children")
    parser.add_argument("--idle", type=float, default=10.0)
    args = parser.parse_args()
    result: dict[str, Any] = {
        "machine": f"{platform.machine()} {os.cpu_count()} cpu, Python {platform.python_version()}",
        "load_1min_at_start": os.getloadavg()[0],
        "args": vars(args),
    }
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        root = Path(tmp)
        seeded = root / "seeded.db"
        seed_database(f"sqlite+aiosqlite:///{seeded}")
        alone = parent_node(seeded, root / "alone")
        result["no_child"] = {"start_s": round(start(alone), 2), **idle(alone, args.idle)}
        alone.stop()
        template = root / "province.db"
        template.write_bytes(seeded.read_bytes())
        everyone = province(template, args.children, args.joins)
        children, spare = everyone[: args.children], everyone[args.children :]
        parent = parent_node(template, root / "county")
        secret = f"test-secret-county-{'x' * 32}"  # linkkit's secret_key for a node named "county"
        try:
            result["with_children"] = {"start_s": round(start(parent), 2), **idle(parent, args.idle)}
            pubs = Publishers(parent, secret, children, args.leafs, root)
            pubs.start_leafs()
            result.update(asyncio.run(traffic(parent, pubs, children, spare, args, root)))
        finally:
            parent.stop()
        n = max(args.children, 1)
        a, b = result["no_child"], result["with_children"]
        result["per_child"] = {
            "rss_kb": round(1024 * (b["rss_mb"] - a["rss_mb"]) / n, 1),
            "nats_rss_kb": round(1024 * (b["nats_rss_mb"] - a["nats_rss_mb"]) / n, 1),
            "idle_cpu_pct_of_core": round((b["idle_cpu_pct"] - a["idle_cpu_pct"]) / n, 4),
        }
        print(json.dumps(result, indent=2), flush=True)


if __name__ == "__main__":
    main()
