"""Helpers of the simulated-GB-camera tests: the simulator's small loops (cached in the test cache
beside the RTSP simulator's) and the marker a camera's live fMP4 shows."""

from __future__ import annotations

import asyncio
import io

from tests.support.sim import SIM_CACHE
from xueliang.gb28181.sim.simulator import GbSimulator, SimOptions
from xueliang.media.channel import Fragment, InitSegment
from xueliang.media.sim.marker import decode_marker

CIVIL = "51322399"  # the sim's IDs: no other test's devices or cameras use this centre code
SIZE = {"width": 320, "height": 180, "seconds": 2}


def sim_options(password: str, **extra: object) -> SimOptions:
    values: dict[str, object] = {"civil_code": CIVIL, "stagger": 0.0, "keepalive": 0.25, **SIZE}
    values.update(extra)
    return SimOptions(password=password, **values)  # type: ignore[arg-type]


def make_sim(devices: int, platform_uri: str, password: str, **extra: object) -> GbSimulator:
    return GbSimulator(devices, platform_uri, SIM_CACHE, sim_options(password, **extra))


def fmp4_marker(items: list[InitSegment | Fragment]) -> int | None:
    """The marker of the newest picture in a channel's output: the last init segment and the
    fragments from the last keyframe after it, decoded by FFmpeg (PyAV)."""
    import av

    init_at = max((i for i, item in enumerate(items) if isinstance(item, InitSegment)), default=-1)
    if init_at < 0:
        return None
    init = items[init_at]
    assert isinstance(init, InitSegment)
    frags = [f for f in items[init_at + 1 :] if isinstance(f, Fragment)]
    keys = [i for i, f in enumerate(frags) if f.keyframe]
    if not keys:
        return None
    data = init.data + b"".join(f.data for f in frags[keys[-1] :])
    last = None
    with av.open(io.BytesIO(data), mode="r", format="mp4") as container:
        for frame in container.decode(video=0):
            last = decode_marker(frame.to_ndarray(format="gray"))
    return last


async def marker_now(items: list[InitSegment | Fragment]) -> int | None:
    return await asyncio.to_thread(fmp4_marker, list(items))
