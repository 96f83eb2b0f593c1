"""Recording benchmark: prints one JSON object (not a test).

- CPU per camera with recording off, then on, in the same run: N cameras fed at 25 fps in real time
  through real Channels (real libx264 frames, 640x360, about 2 Mbit/s, GOP 2 s); the Recorder writes
  real segment files and indexes them in a real SQLite database. Process CPU (all threads, the I/O
  thread included) over each phase, as % of one core per camera.
- Disk write MB/s: what recording N cameras needs, and the most the recorder sustains when frames
  come as fast as Python can push them.
- Seek to first frame over a synthetic index of D days x C cameras (default 30 x 59, 60 s segments:
  2.5 million rows) whose rows point at real recorded files: index probe for the segment holding a
  random time, then the init segment and the GOP holding it read from disk (what /playback/.../at.mp4
  serves), and the same plus FFmpeg decoding the first picture. p50/p95 over random seeks.

Run: .venv/bin/python bench/recording.py [--cameras 16] [--seconds 20] [--days 30] [--index-cameras 59]"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import io
import json
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import av
from sqlalchemy import insert, select

sys.path.insert(0, str(Path(__file__).resolve().parent))
from delivery import encode

from xueliang.cameras.models import Camera
from xueliang.core import migrate
from xueliang.core.db import Database
from xueliang.media import playback
from xueliang.media.channel import Channel
from xueliang.media.frames import AccessUnit
from xueliang.media.recording.recorder import Recorder, RecorderConfig
from xueliang.recordings import service
from xueliang.recordings.models import RecordingSegment, SegmentState
from xueliang.recordings.store import DbIndex

TICKS = 3600


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def frame_at(clip: list[AccessUnit], n: int) -> AccessUnit:
    au = clip[n % len(clip)]
    return dataclasses.replace(au, pts=n * TICKS, arrived_ns=time.monotonic_ns())


async def make_db(path: Path, cameras: int) -> Database:
    url = f"sqlite+aiosqlite:///{path}"
    await migrate.upgrade_async(url)
    db = Database(url)
    async with db.session() as session:
        from xueliang.regions.models import Region, RegionLevel

        region = Region(
            code="513223101201",
            name="bench",
            name_en="bench",
            level=RegionLevel.village,
            path="/513223101201/",
            parent_id=None,
        )
        session.add(region)
        await session.flush()
        for n in range(1, cameras + 1):
            session.add(
                Camera(
                    id=n,
                    gb_id=f"513223000013200{n:05d}",
                    name=f"bench {n}",
                    region_id=region.id,
                    kind="key_place",
                    lat=31.7,
                    lon=103.8,
                    stream_url=f"rtsp://127.0.0.1/cam/{n}",
                )
            )
        await session.commit()
    return db


async def feed(channels: list[Channel], clip: list[AccessUnit], seconds: float, start: int) -> int:
    """Push one frame per camera every 40 ms for `seconds`, on schedule (no drift)."""
    frames = round(seconds * 25)
    began = time.monotonic()
    for i in range(frames):
        for ch in channels:
            ch.push(frame_at(clip, start + i))
        await asyncio.sleep(max(0.0, began + (i + 1) * 0.04 - time.monotonic()))
    return start + frames


async def bench_cpu(clip: list[AccessUnit], cameras: int, seconds: float, work: Path) -> dict[str, Any]:
    db = await make_db(work / "cpu.db", cameras)
    root = work / "recordings"
    channels = [Channel(n) for n in range(1, cameras + 1)]
    n = await feed(channels, clip, 2.0, 0)  # warm up: caches, first keyframes
    cpu0, wall0 = time.process_time(), time.monotonic()
    n = await feed(channels, clip, seconds, n)
    off = (time.process_time() - cpu0) / (time.monotonic() - wall0)
    recorder = Recorder(DbIndex(db, root), root, RecorderConfig())
    await recorder.start()
    for ch in channels:
        recorder.attach(ch.camera_id, ch)
    n = await feed(channels, clip, 2.0, n)
    written0 = recorder.bytes_written
    cpu0, wall0 = time.process_time(), time.monotonic()
    n = await feed(channels, clip, seconds, n)
    elapsed = time.monotonic() - wall0
    on = (time.process_time() - cpu0) / elapsed
    rate = (recorder.bytes_written - written0) / elapsed
    await recorder.stop()
    async with db.session() as session:
        segments = len(list(await session.scalars(select(RecordingSegment.id))))
    await db.dispose()
    return {
        "cameras": cameras,
        "phase_seconds": seconds,
        "cpu_per_camera_pct_recording_off": round(100 * off / cameras, 3),
        "cpu_per_camera_pct_recording_on": round(100 * on / cameras, 3),
        "recording_cpu_per_camera_pct": round(100 * (on - off) / cameras, 3),
        "disk_write_mb_s_needed": round(rate / 1e6, 3),
        "disk_write_mb_s_per_camera": round(rate / 1e6 / cameras, 3),
        "segments_written": segments,
    }


async def bench_throughput(
    clip: list[AccessUnit], cameras: int, work: Path, seconds: float = 5.0
) -> dict[str, Any]:
    """Frames as fast as they can be pushed; the recorder flushes every 0.5 s as it does live."""
    db = await make_db(work / "tp.db", cameras)
    root = work / "throughput"
    recorder = Recorder(DbIndex(db, root), root, RecorderConfig())
    await recorder.start()
    channels = [Channel(n) for n in range(1, cameras + 1)]
    for ch in channels:
        recorder.attach(ch.camera_id, ch)
    began = time.monotonic()
    next_flush = began + 0.5
    n = 0
    while time.monotonic() - began < seconds:
        for ch in channels:
            ch.push(frame_at(clip, n))
        n += 1
        if time.monotonic() >= next_flush:
            await recorder.flush()
            next_flush += 0.5
    await recorder.flush()
    elapsed = time.monotonic() - began
    await recorder.stop()
    await db.dispose()
    return {
        "max_disk_write_mb_s": round(recorder.bytes_written / elapsed / 1e6, 1),
        "max_frames_per_s": round(n * cameras / elapsed),
    }


async def bench_seek(work: Path, days: int, cameras: int, seeks: int) -> dict[str, Any]:
    """A synthetic index of `days` x `cameras` 60 s segments pointing at real files, then seeks."""
    sample = max((work / "recordings").rglob("*.mp4"), key=lambda p: p.stat().st_size)
    from xueliang.media.recording.scan import scan_path

    scan = scan_path(sample)
    seconds = (scan.media_end - scan.media_start) / 90_000
    keyframes = scan.keyframes()
    db = await make_db(work / "index.db", cameras)
    root = sample.parent
    path = sample.name
    end = datetime(2026, 11, 28, tzinfo=UTC)
    start = end - timedelta(days=days)
    per_camera = days * 1440
    began = time.monotonic()
    async with db.session() as session:
        batch: list[dict[str, Any]] = []
        for camera in range(1, cameras + 1):
            for k in range(per_camera):
                at = start + timedelta(seconds=60 * k)
                batch.append(
                    {
                        "camera_id": camera,
                        "starts_at": at,
                        "ends_at": at + timedelta(seconds=seconds),
                        "bytes": scan.valid_size,
                        "path": path,
                        "state": SegmentState.closed,
                        "init_size": scan.init_size,
                        "media_start": scan.media_start,
                        "media_end": scan.media_end,
                        "frames": len(scan.fragments),
                        "keyframes": [list(x) for x in keyframes],
                        "codec": "avc1.64001e",
                        "repaired": False,
                    }
                )
                if len(batch) >= 20_000:
                    await session.execute(insert(RecordingSegment), batch)
                    batch.clear()
        if batch:
            await session.execute(insert(RecordingSegment), batch)
        await session.commit()
    build = time.monotonic() - began
    rng = random.Random(7)
    probe: list[float] = []
    first_bytes: list[float] = []
    first_picture: list[float] = []
    for _ in range(seeks):
        camera = rng.randint(1, cameras)
        minute = rng.randrange(per_camera)
        at = start + timedelta(seconds=60 * minute + rng.uniform(0, seconds * 0.999))  # inside a recording
        t0 = time.perf_counter()
        async with db.session() as session:
            row = await service.segment_at(session, camera, at)
        t1 = time.perf_counter()
        assert row is not None, at
        view = service.view_of(row)
        gop = playback.gop_at(view, at.timestamp())
        assert gop is not None
        data = await asyncio.to_thread(
            lambda v=view, g=gop: (
                playback.read_range(root / v.path, 0, v.init_size)
                + playback.read_range(root / v.path, g.first, g.last)
            )
        )
        t2 = time.perf_counter()
        with av.open(io.BytesIO(data), "r", format="mp4") as container:
            next(iter(container.decode(video=0)))
        t3 = time.perf_counter()
        probe.append(t1 - t0)
        first_bytes.append(t2 - t0)
        first_picture.append(t3 - t0)
    await db.dispose()
    ms = lambda xs, q: round(1000 * percentile(xs, q), 2)  # noqa: E731
    return {
        "index_rows": cameras * per_camera,
        "index_build_s": round(build, 1),
        "seeks": seeks,
        "index_probe_ms_p50": ms(probe, 0.5),
        "index_probe_ms_p95": ms(probe, 0.95),
        "seek_to_first_gop_bytes_ms_p50": ms(first_bytes, 0.5),
        "seek_to_first_gop_bytes_ms_p95": ms(first_bytes, 0.95),
        "seek_to_first_decoded_frame_ms_p50": ms(first_picture, 0.5),
        "seek_to_first_decoded_frame_ms_p95": ms(first_picture, 0.95),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--cameras", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--index-cameras", type=int, default=59)
    parser.add_argument("--seeks", type=int, default=300)
    args = parser.parse_args()
    clip = encode(frames=100)
    work = Path(tempfile.mkdtemp(prefix="xl-bench-rec-"))
    try:
        cpu = await bench_cpu(clip, args.cameras, args.seconds, work)
        throughput = await bench_throughput(clip, 8, work)
        seek = await bench_seek(work, args.days, args.index_cameras, args.seeks)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps({"recording": {**cpu, **throughput, **seek}}, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
