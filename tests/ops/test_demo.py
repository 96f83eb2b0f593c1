"""A clean first start: `xueliang demo` starts the simulator first and waits for it, so no camera pull
meets a closed port ("Connection refused") before the logins table; SIGTERM (kill, systemd) stops the
demo and the simulator it started."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.db import BACKEND
from tests.support.net import free_port, port_open
from tests.support.node import seed_for_sim
from tests.support.sim import SIM_CACHE, SIM_CAMERAS
from tests.support.waits import wait_for


def children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as fh:
        return [int(p) for p in fh.read().split()]


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_demo_starts_clean_and_sigterm_stops_the_simulator(
    make_db_url: Callable[[], str], tmp_path: Path
) -> None:
    if BACKEND != "sqlite":
        pytest.skip("the demo runs on SQLite in its data dir")
    data = tmp_path / "var"
    data.mkdir()
    (SIM_CACHE / "sim").mkdir(parents=True, exist_ok=True)
    (data / "sim").symlink_to(SIM_CACHE / "sim")  # the loops the test passes encode once, shared
    port, sim_port = free_port(), free_port()
    # Seeded already (a copy of the session's template, cameras 1..4 on this simulator): the demo
    # migrates, finds the county in place and starts, as a second `make demo` does.
    seed_for_sim(f"sqlite+aiosqlite:///{data / 'xueliang.db'}", sim_port)
    env = {k: v for k, v in os.environ.items() if not k.startswith("XUELIANG_")}
    env |= {"XUELIANG_ALARM_MQTT_ENABLED": "false", "XUELIANG_SECRET_KEY": "demo-test-" + "z" * 32}
    log = tmp_path / "demo.log"
    cmd = [sys.executable, "-m", "xueliang", "demo", "--port", str(port), "--sim-port", str(sim_port),
           "--data-dir", str(data), "--cameras", str(SIM_CAMERAS), "--single"]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    sims: list[int] = []
    try:
        wait_for(lambda: "console:" in log.read_text() and port_open(port), 120, "the demo to serve")
        sims = children(proc.pid)
        assert sims and all(alive(pid) for pid in sims)
        text = log.read_text()
        assert "Connection refused" not in text, text
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
        wait_for(lambda: not any(alive(pid) for pid in sims), 5, "the simulator to stop")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for pid in sims:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_five_node_demo_gives_each_node_its_own_cameras_and_settings(
    make_db_url: Callable[[], str], tmp_path: Path
) -> None:
    """`xueliang demo` (five nodes): each node's copy of the seed is made its own (its row local, the
    cameras of a child node's region as `node://<child>/<id>`, not recorded twice, the rest of the
    county off), and the five settings files load with ports apart. The processes, the joins and video
    through two hops are the federation tests' (tests/federation)."""
    if BACKEND != "sqlite":
        pytest.skip("the demo runs on SQLite in its data dir")
    import asyncio

    from sqlalchemy import select

    from xueliang.cameras.models import Camera
    from xueliang.cli.demo_nodes import BY_NAME, GB_DEVICES, GB_NODE, NODES, _assign, write_config
    from xueliang.config import load_settings
    from xueliang.core.db import Database
    from xueliang.nodes.models import Node
    from xueliang.regions.models import Region
    from xueliang.seed.gb_demo import ENTRANCE_CAMERA
    from xueliang.server import prepare_demo

    configs = [load_settings(write_config(node, tmp_path, 8000, 8554)) for node in NODES]
    assert [c.port for c in configs] == [8000, 8001, 8002, 8003, 8004]
    for ports in (
        [c.media.rtsp_port for c in configs],
        [c.federation.nats_port for c in configs],
        [c.federation.leaf_port for c in configs],
    ):
        assert len(set(ports)) == 5 and not set(ports) & {8554, *range(8000, 8005)}
    assert [c.gb28181.enabled for c in configs] == [n.name == GB_NODE for n in NODES]  # the GB dome's node

    async def facts(url: str) -> tuple[str, dict[str, tuple[bool, str, bool, str]]]:
        db = Database(url)
        try:
            async with db.session() as s:
                local = await s.scalar(select(Node.gb_id).where(Node.is_local.is_(True)))
                rows = (await s.execute(select(Camera, Region.code).join(Region))).all()
                return str(local), {c.gb_id: (c.enabled, c.stream_url, c.record, code) for c, code in rows}
        finally:
            await db.dispose()

    for name in ("qingxi", "shangping"):
        url = make_db_url()
        seed_for_sim(url, 8554)
        settings = configs[NODES.index(BY_NAME[name])].model_copy(update={"database_url": url})
        gb = asyncio.run(_assign(settings, BY_NAME[name]))
        local, cams = asyncio.run(facts(url))
        assert local == gb
        shangping = {k: v for k, v in cams.items() if v[3] == "513223101201"}
        simulated = {f"51322300001320{n:06d}" for n in range(1, SIM_CAMERAS + 1)}  # 上坪村's, on
        assert {k for k, v in shangping.items() if v[0]} == simulated
        if name == "qingxi":  # 上坪村 has its own node: its cameras are relayed from it, not recorded here
            assert all(v[1].startswith("node://") and not v[2] for v in shangping.values())
        else:
            assert all(v[1].startswith("rtsp://") for v in shangping.values())
            # the village's entrance camera becomes the simulated GB dome's channel at its own node
            asyncio.run(prepare_demo(settings, gb_devices=GB_DEVICES))
            _, cams = asyncio.run(facts(url))
            assert cams[ENTRANCE_CAMERA][1].startswith("gb28181://")
        outside = [v for v in cams.values() if not v[3].startswith(BY_NAME[name].region_code)]
        assert outside and not any(v[0] for v in outside)
