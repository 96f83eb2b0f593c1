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
           "--data-dir", str(data), "--cameras", str(SIM_CAMERAS)]  # fmt: skip
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
