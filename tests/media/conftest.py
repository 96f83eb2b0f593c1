"""Fixtures of the media tests: clips encoded once per session (real libx264/libx265 output, small enough
to stay fast), simulator loops encoded once per machine, and a running simulator."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.clips import encode_clip
from tests.support.sim import GB_IDS, SIM_CACHE
from xueliang.media.frames import AccessUnit, Codec
from xueliang.media.sim.encode import LoopSpec, ensure_loop
from xueliang.media.sim.server import RtspSimulator


@pytest.fixture(scope="session")
def h264_clip() -> list[AccessUnit]:
    """2 s at 25 fps, keyframe every second, camera marker 0."""
    return encode_clip(frames=50, gop=25)


@pytest.fixture(scope="session")
def clips() -> dict[int, list[AccessUnit]]:
    """One clip per camera id 1..3, each showing its own marker (index = id)."""
    return {i: encode_clip(frames=50, gop=25, camera_index=i) for i in (1, 2, 3)}


@pytest.fixture(scope="session")
def h265_clip() -> list[AccessUnit]:
    return encode_clip(codec=Codec.h265, frames=30, gop=15, fill_size=False)


@pytest.fixture(scope="session")
def sim_data() -> Path:
    """A data_dir whose sim/ cache holds cameras 1-3: the repository's test cache (var/test-cache), which
    the `xueliang sim` of the node tests reads too, so each loop is encoded once per machine."""
    for number in GB_IDS.values():
        ensure_loop(SIM_CACHE, number, LoopSpec())
    return SIM_CACHE


@pytest.fixture
async def sim(sim_data: Path) -> AsyncIterator[RtspSimulator]:
    simulator = RtspSimulator(GB_IDS, data_dir=sim_data, port=0)
    await simulator.start()
    yield simulator
    await simulator.stop()
