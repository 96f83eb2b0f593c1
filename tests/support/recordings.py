"""Recording test helpers: a Recorder fed real libx264 clips through real Channels on a wall clock the
test moves (`Rig`), and FFmpeg's reading of what it wrote (`decode`)."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import itertools
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import av
from sqlalchemy import select

from tests.support.clips import FRAME_TICKS
from xueliang.core.db import Database
from xueliang.media.channel import Channel
from xueliang.media.frames import AccessUnit
from xueliang.media.recording.recorder import Recorder, RecorderConfig, StorageEvent
from xueliang.recordings.models import RecordingGap, RecordingSegment
from xueliang.recordings.store import DbIndex

T = TypeVar("T")
VILLAGE_1 = "513223101201"  # 上坪村, in op-qingxi's township; res-v01 lives here


def run_async(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to the end in a thread of its own: works whether or not this thread already has
    a running loop (Playwright's sync API keeps one in the browser tests)."""
    result: list[T] = []
    errors: list[BaseException] = []

    def main() -> None:
        try:
            result.append(asyncio.run(make()))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=main)
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return result[0]


class Wall:
    """The recorder's wall clock, moved by the test."""

    def __init__(self, start: float) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: float = 0.0) -> float:
    return datetime(year, month, day, hour, minute, tzinfo=UTC).timestamp() + second


@dataclass
class Camera_:
    camera_id: int
    channel: Channel
    sent: int = 0


class Rig:
    """Channels fed from the clip into a Recorder writing under `root`, indexed in the test database."""

    def __init__(
        self, url: str, root: Path, clip: list[AccessUnit], wall: Wall, config: RecorderConfig
    ) -> None:
        self.db = Database(url)
        self.root = root
        self.clip = clip
        self.wall = wall
        self.index = DbIndex(self.db, root)
        self.recorder = Recorder(self.index, root, config, wall=wall)
        self.events: list[StorageEvent] = []
        self.recorder.listeners.append(self.events.append)
        self.cameras: dict[int, Camera_] = {}

    async def start(self, *camera_ids: int) -> None:
        await self.recorder.start()
        for camera_id in camera_ids:
            self.add(camera_id)

    def add(self, camera_id: int) -> None:
        cam = self.cameras.get(camera_id) or Camera_(camera_id, Channel(camera_id))
        self.cameras[camera_id] = cam
        self.recorder.attach(camera_id, cam.channel)

    def frame(self, cam: Camera_) -> AccessUnit:
        n = cam.sent
        au = self.clip[n % len(self.clip)]
        shift = (n // len(self.clip)) * len(self.clip) * FRAME_TICKS
        cam.sent += 1
        return dataclasses.replace(au, pts=au.pts + shift, arrived_ns=0)

    async def record(
        self, seconds: float, *, flush_every: float = 0.5, only: list[int] | None = None
    ) -> None:
        """Push `seconds` of 25 fps video into every camera (or `only` these), flushing on time."""
        frames = round(seconds * 25)
        since_flush = 0.0
        for _ in range(frames):
            for camera_id, cam in self.cameras.items():
                if only is None or camera_id in only:
                    cam.channel.push(self.frame(cam))
            self.wall.advance(0.04)
            since_flush += 0.04
            if since_flush >= flush_every - 1e-9:
                await self.recorder.flush()
                since_flush = 0.0

    async def segments(self, camera_id: int | None = None) -> list[RecordingSegment]:
        async with self.db.session() as session:
            stmt = select(RecordingSegment).order_by(RecordingSegment.camera_id, RecordingSegment.starts_at)
            if camera_id is not None:
                stmt = stmt.where(RecordingSegment.camera_id == camera_id)
            return list(await session.scalars(stmt))

    async def gaps(self, camera_id: int) -> list[RecordingGap]:
        async with self.db.session() as session:
            return list(
                await session.scalars(
                    select(RecordingGap)
                    .where(RecordingGap.camera_id == camera_id)
                    .order_by(RecordingGap.starts_at)
                )
            )

    async def close(self) -> None:
        await self.recorder.stop()
        await self.db.dispose()


@dataclass
class Decoded:
    frames: int
    keyframes: int
    first: float  # seconds
    last: float
    step: float  # median frame step

    @property
    def duration(self) -> float:
        return self.last - self.first + self.step


def decode(source: Path | bytes) -> Decoded:
    """FFmpeg decodes every frame; times from the presentation timestamps."""
    target = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    with av.open(target, "r") as container:
        stream = container.streams.video[0]
        times: list[float] = []
        keys = 0
        for frame in container.decode(stream):
            assert frame.pts is not None
            times.append(float(frame.pts * stream.time_base))
            keys += int(frame.key_frame)
    assert times, "no frame decoded"
    steps = sorted(b - a for a, b in itertools.pairwise(times)) or [0.04]
    return Decoded(len(times), keys, times[0], times[-1], steps[len(steps) // 2])


def record_recent(database_url: str, recordings: Path, camera: int) -> float:
    """4 s of `camera` (the marker clip: a bright block that crosses the masks the tests draw) recorded
    into `recordings`, ending a second ago, for pages that play it back; returns the start (Unix time)."""
    from tests.support.clips import encode_clip  # PyAV encoding, only for the tests that record

    clip = encode_clip(frames=50, gop=25, width=160, height=96, camera_index=1)
    start = time.time() - 5

    async def go() -> None:
        rig = Rig(database_url, recordings, clip, Wall(start), RecorderConfig(segment_seconds=2.0))
        await rig.start(camera)
        await rig.record(4.0)
        await rig.close()

    run_async(go)
    return start
