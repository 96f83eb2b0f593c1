"""Fixtures of the ingest tests: simulator loops encoded once per run, and a running simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from xueliang.media.sim.encode import LoopSpec, ensure_loop
from xueliang.media.sim.server import RtspSimulator

GB_IDS = {f"3402000000132000000{n}": n for n in (1, 2, 3)}


@pytest.fixture(scope="session")
def sim_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data_dir whose sim/ cache holds cameras 1-3 (the only encoding the tests pay for)."""
    path = tmp_path_factory.mktemp("sim-data")
    for number in GB_IDS.values():
        ensure_loop(path, number, LoopSpec())
    return path


@pytest.fixture
async def sim(sim_data: Path) -> AsyncIterator[RtspSimulator]:
    simulator = RtspSimulator(GB_IDS, data_dir=sim_data, port=0)
    await simulator.start()
    yield simulator
    await simulator.stop()
