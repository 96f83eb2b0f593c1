"""The pictures of simulated GB cameras: one pre-encoded loop per (camera, preset), whose marker
number says both, so a test (or a person) reading the picture knows where the camera points.

`marker_number(k, preset) = 20000 + 100 * k + preset` for camera k (1-based, 1..455) and preset
0..99 (0: no preset, where the camera starts and where a manual move leaves it). Camera 3 at preset
5 shows 20305. Presets from 100 up are accepted and shown as their last two digits. Loops are encoded
once with media/sim/encode.py and cached under `data_dir/sim/` beside the RTSP simulator's."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

from xueliang.media.frames import AccessUnit, CodecParams

MARKER_BASE = 20000
MAX_CAMERA = (0xFFFF - MARKER_BASE) // 100 - 1  # 454: the marker must fit in 16 bits


def marker_number(camera: int, preset: int) -> int:
    """The marker shown by camera `camera` (1-based) at `preset` (0 = none)."""
    return MARKER_BASE + 100 * ((camera - 1) % MAX_CAMERA + 1) + preset % 100


def marker_parts(number: int) -> tuple[int, int] | None:
    """(camera, preset) of a marker number made by `marker_number`, or None for another marker."""
    if not MARKER_BASE + 100 <= number < MARKER_BASE + 100 * (MAX_CAMERA + 1):
        return None
    return divmod(number - MARKER_BASE, 100)


@dataclass(frozen=True, slots=True)
class Loop:
    """A loop ready to stream: its frames as access units (timestamps are set when sent)."""

    number: int
    fps: int
    params: CodecParams
    frames: list[tuple[list[bytes], bool]]

    def unit(self, index: int, pts: int) -> AccessUnit:
        nalus, key = self.frames[index % len(self.frames)]
        return AccessUnit(nalus, pts, key, self.params)


class LoopCache:
    """Loops by marker number, loaded (or encoded, in a worker thread) once and kept."""

    def __init__(self, data_dir: Path, width: int = 640, height: int = 360, seconds: int = 4) -> None:
        from xueliang.media.sim.encode import LoopSpec

        self.data_dir = data_dir
        self.spec = LoopSpec(width=width, height=height, seconds=seconds, gop_seconds=min(2, seconds))
        self._loops: dict[int, Loop] = {}
        self._pending: dict[int, asyncio.Future[Loop]] = {}

    def ready(self, number: int) -> Loop | None:
        return self._loops.get(number)

    def get(self, number: int) -> asyncio.Future[Loop]:
        """The loop, loaded (or encoded) in a worker thread if needed; one load per loop."""
        known = self._loops.get(number)
        if known is not None:
            done: asyncio.Future[Loop] = asyncio.get_running_loop().create_future()
            done.set_result(known)
            return done
        return self._pending.get(number) or self._start(number)

    def _start(self, number: int) -> asyncio.Future[Loop]:
        future = asyncio.ensure_future(asyncio.to_thread(_load, self.data_dir, number, self.spec))
        self._pending[number] = future

        def store(f: asyncio.Future[Loop]) -> None:
            self._pending.pop(number, None)
            if not f.cancelled() and f.exception() is None:
                self._loops[number] = f.result()

        future.add_done_callback(store)
        return future


def _load(data_dir: Path, number: int, spec: object) -> Loop:
    from xueliang.media.sim.encode import LoopSpec, load_loop

    assert isinstance(spec, LoopSpec)
    encoded = load_loop(data_dir, number, spec)
    frames = list(zip(encoded.frames, encoded.keyframes, strict=True))
    return Loop(number, encoded.fps, encoded.params, frames)
