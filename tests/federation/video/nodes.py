"""Real nodes of the seed county on loopback for the video relay's tests and bench, each with its own
SQLite file, data dir, node key and nats-server: the county, the township 清溪镇 and the village 上坪村
(or a chain of some of them), joined as fed-link's enrollment leaves them (peers' public keys in
`nodes`, the parent's URL on the child's row for it). The lowest node pulls the chosen cameras from a
simulator; each node above has them as `node://<its child>/<id>` (the catalog sync's result, written
here directly)."""

from __future__ import annotations

import asyncio
import dataclasses
import shutil
import sqlite3
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update
from tests.support.app import LiveServer, make_settings
from tests.support.db import run_async, seed_database
from tests.support.net import free_port

from xueliang.app import create_app
from xueliang.cameras.models import Camera
from xueliang.core.context import AppContext
from xueliang.core.db import Database
from xueliang.federation.config import FederationSettings
from xueliang.federation.identity import NodeIdentity
from xueliang.federation.link import Link
from xueliang.federation.natsd import LeafRemote, leaf_password, save_leaf
from xueliang.federation.video.child import VideoUplink
from xueliang.federation.video.parent import VideoLinks
from xueliang.media.config import MediaSettings
from xueliang.media.plane import MediaPlane
from xueliang.nodes.models import Node
from xueliang.recordings.config import RecordingSettings
from xueliang.regions.models import Region
from xueliang.seed.demo import DEMO_PASSWORD

T = TypeVar("T")
REGIONS = {"county": "513223", "township": "513223101", "village": "513223101201"}
SIM_NUMBERS = (1, 2)  # the simulator's cameras 1 and 2 are in 上坪村; their pictures carry 1 and 2


def camera_gb(number: int) -> str:
    return f"51322300001320{number:06d}"


@dataclass
class FedNode:
    name: str
    gb_id: str
    db_url: str
    data_dir: Path
    app: FastAPI
    server: LiveServer
    loop: list[asyncio.AbstractEventLoop] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def ctx(self) -> AppContext:
        ctx: AppContext = self.app.state.ctx
        return ctx

    @property
    def links(self) -> VideoLinks:
        return self.ctx.services.require(VideoLinks)

    @property
    def uplink(self) -> VideoUplink:
        return self.ctx.services.require(VideoUplink)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine in the node's own event loop (its services live there)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop[0]).result(timeout=20)

    def client(self, username: str) -> httpx.Client:
        c = httpx.Client(base_url=self.url, timeout=10)
        r = c.post("/api/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD})
        assert r.status_code == 200, r.text
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return c

    def write(self, fn: Callable[[Any], Coroutine[Any, Any, None]]) -> None:
        """Change this node's database from outside the server (as the CLI would)."""

        async def go() -> None:
            db = Database(self.db_url)
            try:
                async with db.session() as session:
                    await fn(session)
                    await session.commit()
            finally:
                await db.dispose()

        run_async(go())


@dataclass
class Federation:
    nodes: dict[str, FedNode]
    gb: dict[str, str]  # every seeded node's name or region code -> gb_id
    camera_ids: dict[int, int]  # simulator number -> camera id (the same in every copy)

    def __getitem__(self, name: str) -> FedNode:
        return self.nodes[name]


async def _seed_facts(url: str, numbers: Sequence[int]) -> tuple[dict[str, str], dict[int, int]]:
    db = Database(url)
    try:
        async with db.session() as session:
            rows = (
                await session.execute(
                    select(Node.gb_id, Region.code).join(Region, Node.region_id == Region.id)
                )
            ).all()
            cams = (await session.execute(select(Camera.gb_id, Camera.id))).all()
    finally:
        await db.dispose()
    by_code = {code: gb for gb, code in rows}
    ids = {n: next(i for g, i in cams if g == camera_gb(n)) for n in numbers}
    return by_code, ids


def start(
    base: Path,
    sim_port: int,
    names: Sequence[str] = ("county", "township", "village"),
    numbers: Sequence[int] = SIM_NUMBERS,
    *,
    linger: float = 0.3,
    recheck: float = 0.2,
    recording: Sequence[str] = (),
    link: bool = False,
) -> Federation:
    """Seed once, copy per node, join them top-down in `names` order, enable the simulator cameras
    `numbers` (all others off) and start the servers; `linger` is each engine's `demand_linger`,
    `recheck` how often a parent re-reads its children's rows; the nodes named in `recording` record
    their cameras (flush every 0.2 s); `link` joins the message link as well (enrolled rows, the child's
    leaf credentials): the catalog, its masks and statuses then flow up as in a real federation."""
    base.mkdir(parents=True, exist_ok=True)
    seed = base / "seed.db"
    seed_database(f"sqlite+aiosqlite:///{seed}", rtsp_base=f"rtsp://127.0.0.1:{sim_port}")
    with sqlite3.connect(seed) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    by_code, camera_ids = run_async(_seed_facts(f"sqlite+aiosqlite:///{seed}", numbers))
    gb = {name: by_code[code] for name, code in REGIONS.items()} | by_code

    nodes: dict[str, FedNode] = {}
    keys: dict[str, str] = {}
    for name in names:
        shutil.copyfile(seed, base / f"{name}.db")
        url = f"sqlite+aiosqlite:///{base / f'{name}.db'}"
        data_dir = base / name
        data_dir.mkdir()
        keys[name] = NodeIdentity.load(gb[name], data_dir).public_key_hex
        settings = make_settings(
            url,
            data_dir,
            media=MediaSettings(rtsp_port=0),
            recording=RecordingSettings(enabled=name in recording, flush_interval=0.2),
            # Each node supervises its own nats-server (the link's, unused by video: no leaf is joined here).
            federation=FederationSettings(
                enabled=True,
                node_gb_id=gb[name],
                nats_port=free_port(),
                leaf_port=free_port(),
                leaf_host="127.0.0.1",  # tests listen on loopback only
                relay_interval_s=5.0,
            ),
        )
        loop_box: list[asyncio.AbstractEventLoop] = []

        async def remember(_ctx: AppContext, box: list[asyncio.AbstractEventLoop] = loop_box) -> None:
            box.append(asyncio.get_running_loop())

        if link:  # the catalog up at once, as a real node's relay sends it
            settings.federation.relay_interval_s = 0.2
        app = create_app(settings, migrate_on_start=False, extra_hooks=[remember])
        plane = app.state.ctx.services.require(MediaPlane)
        plane.engine.config = dataclasses.replace(plane.engine.config, demand_linger=linger)
        app.state.ctx.services.require(VideoLinks).recheck_s = recheck
        nodes[name] = FedNode(name, gb[name], url, data_dir, app, LiveServer(app), loop_box)

    for name, node in nodes.items():
        at = names.index(name)
        parent = names[at - 1] if at > 0 else None
        children = [names[at + 1]] if at + 1 < len(names) else []

        async def join(
            session: Any, name: str = name, parent: str | None = parent, children: list[str] = children
        ) -> None:
            await session.execute(update(Node).values(is_local=Node.gb_id == gb[name]))
            for peer in [*children, *([parent] if parent else [])]:
                values: dict[str, Any] = {"public_key": keys[peer]}
                if peer == parent:
                    values["base_url"] = nodes[peer].url
                if link:
                    values["enrolled_at"] = datetime.now(UTC)
                await session.execute(update(Node).where(Node.gb_id == gb[peer]).values(**values))
            await session.execute(update(Camera).values(enabled=False))
            for camera_id in camera_ids.values():
                values = {"enabled": True}
                if children:  # the camera is hosted below: the catalog sync's row
                    child = children[0]
                    host = await session.scalar(select(Node.id).where(Node.gb_id == gb[child]))
                    values |= {
                        "stream_url": f"node://{gb[child]}/{camera_id}",
                        "host_node_id": host,
                        "remote_id": camera_id,
                    }
                await session.execute(update(Camera).where(Camera.id == camera_id).values(**values))

        node.write(join)
        if link and parent is not None:  # what `xueliang node join` leaves: the leaf credentials
            above = nodes[parent]
            save_leaf(
                node.data_dir,
                LeafRemote(
                    "127.0.0.1",
                    above.ctx.services.require(Link).settings.leaf_port,
                    gb[name],
                    leaf_password(above.ctx.secret, gb[name], keys[name]),
                ),
            )
    for node in nodes.values():
        node.server.start()
    return Federation(nodes, gb, camera_ids)


def stop(fed: Federation) -> None:
    for node in reversed(list(fed.nodes.values())):
        node.server.stop()
