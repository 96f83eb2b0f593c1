"""Delivery-side benchmark: prints one JSON object (not a test).

- fragment build time per frame (FragmentWriter alone, and Channel.push with no viewer), median and p99;
- fan-out CPU per extra viewer: 200 in-process viewers draining one camera, process CPU over a fixed
  number of frames, minus the same run with no viewer, as % of one core at 25 fps;
- time to first fragment for 50 WebSocket viewers joining a live 25 fps camera at random times, over a
  real uvicorn server on 127.0.0.1 (connect start -> first fragment after the init segment).

Frames are real libx264 output (640x360, 25 fps, GOP 2 s, about 2 Mbit/s), encoded once at start.
Run: .venv/bin/python bench/delivery.py [--viewers 200] [--joiners 50]"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import random
import re
import statistics
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any

import av
import numpy as np
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import connect

from xueliang.media import tokens
from xueliang.media.channel import Channel, Fragment, Viewer, ViewerClosed
from xueliang.media.engine import CameraSpec, EngineConfig, MediaEngine
from xueliang.media.fmp4 import FragmentWriter, sample_nalus
from xueliang.media.frames import AccessUnit, Codec, CodecParams
from xueliang.media.live import LiveGateway
from xueliang.media.tokens import StreamClaims

TICKS = 3600
SECRET = b"bench-secret-bench-secret-bench!"


def encode(frames: int = 100, width: int = 640, height: int = 360) -> list[AccessUnit]:
    ctx = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.time_base, ctx.framerate = Fraction(1, 25), Fraction(25)
    ctx.bit_rate = 2_000_000
    ctx.options = {"preset": "ultrafast", "x264-params": "keyint=50:min-keyint=50:scenecut=0:bframes=0"}
    rng = np.random.default_rng(1)
    texture = rng.integers(0, 255, (height * 2, width * 2), np.uint8)
    packets: list[av.Packet[Any]] = []
    for i in range(frames):
        plane = np.full((height * 3 // 2, width), 128, np.uint8)
        plane[:height] = texture[i : i + height, 2 * i : 2 * i + width]
        frame = av.VideoFrame.from_ndarray(plane, format="yuv420p")
        frame.pts = i
        packets.extend(ctx.encode(frame))
    packets.extend(ctx.encode(None))
    units, params = [], None
    for packet in packets:
        nalus = [n.rstrip(b"\x00") for n in re.split(b"\x00\x00\x01", bytes(packet)) if n.rstrip(b"\x00")]
        if packet.is_keyframe:
            kinds = {n[0] & 0x1F: n for n in nalus}
            params = CodecParams(Codec.h264, sps=kinds[7], pps=kinds[8], width=width, height=height)
        assert params is not None and packet.pts is not None
        units.append(AccessUnit(nalus, packet.pts * TICKS, bool(packet.is_keyframe), params))
    return units


def frame_at(clip: list[AccessUnit], n: int) -> AccessUnit:
    au = clip[n % len(clip)]
    return dataclasses.replace(au, pts=n * TICKS, arrived_ns=time.monotonic_ns())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bench_build(clip: list[AccessUnit], count: int = 20_000) -> dict[str, float]:
    writer = FragmentWriter()
    prepared = [(sample_nalus(Codec.h264, au.nalus), au.keyframe) for au in clip]
    build: list[float] = []
    for n in range(count):
        nalus, key = prepared[n % len(prepared)]
        start = time.perf_counter_ns()
        writer.write(n * TICKS, TICKS, key, nalus)
        build.append((time.perf_counter_ns() - start) / 1000)
    channel = Channel(1)
    units = [frame_at(clip, n) for n in range(count)]
    push: list[float] = []
    for au in units:
        start = time.perf_counter_ns()
        channel.push(au)
        push.append((time.perf_counter_ns() - start) / 1000)
    return {
        "fragment_build_us_median": round(statistics.median(build), 2),
        "fragment_build_us_p99": round(percentile(build, 0.99), 2),
        "channel_push_us_median": round(statistics.median(push), 2),
        "channel_push_us_p99": round(percentile(push, 0.99), 2),
        "mean_frame_bytes": round(statistics.mean(sum(len(n) for n in au.nalus) for au in clip)),
    }


async def drain(viewer: Viewer, counts: list[int]) -> None:
    try:
        while True:
            item = await viewer.next()
            if type(item) is Fragment:
                counts[0] += 1
    except ViewerClosed:
        pass


async def fanout_cpu(clip: list[AccessUnit], viewers: int, frames: int) -> float:
    """Process CPU seconds to push `frames` frames to `viewers` draining viewers, all on this loop."""
    channel = Channel(1)
    units = [frame_at(clip, n) for n in range(frames + 50)]
    for au in units[:50]:
        channel.push(au)
    counts = [0]
    tasks = [asyncio.create_task(drain(channel.open_viewer(), counts)) for _ in range(viewers)]
    await asyncio.sleep(0.05)
    start = time.process_time()
    for au in units[50:]:
        channel.push(au)
        await asyncio.sleep(0)  # one loop turn: every viewer task takes its fragment
    used = time.process_time() - start
    channel.close("done")
    await asyncio.gather(*tasks)
    assert viewers == 0 or channel.drops == 0, "viewers fell behind: the measurement would undercount"
    return used


async def bench_fanout(clip: list[AccessUnit], viewers: int, frames: int = 1500) -> dict[str, float]:
    await fanout_cpu(clip, viewers, 200)  # warm-up
    base = min([await fanout_cpu(clip, 0, frames) for _ in range(3)])
    loaded = min([await fanout_cpu(clip, viewers, frames) for _ in range(3)])
    per_viewer_frame = (loaded - base) / (viewers * frames)
    return {
        "fanout_viewers": viewers,
        "fanout_us_per_viewer_frame": round(per_viewer_frame * 1e6, 3),
        "fanout_cpu_pct_per_viewer_at_25fps": round(per_viewer_frame * 25 * 100, 4),
    }


async def bench_ttff(clip: list[AccessUnit], joiners: int, spread: float = 6.0) -> dict[str, float]:
    async def camera(spec: CameraSpec) -> AsyncIterator[AccessUnit]:
        n, t0 = 0, time.monotonic()
        while True:
            yield frame_at(clip, n)
            n += 1
            await asyncio.sleep(max(0.0, t0 + n * 0.04 - time.monotonic()))

    def verify(token: str, camera_id: int) -> StreamClaims:
        return tokens.verify(SECRET, token, camera_id, "view_live", datetime.now(UTC))

    engine = MediaEngine(camera, EngineConfig())
    gateway = LiveGateway(engine, verify)
    app = FastAPI()
    app.include_router(gateway.router)
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", ws_per_message_deflate=False
        )
    )
    await engine.start([CameraSpec(1)])
    serving = asyncio.create_task(server.serve())
    for _ in range(1000):
        if server.started:
            break
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    await asyncio.sleep(2.5)  # a full GOP is cached before the first viewer joins

    async def viewer(delay: float) -> float:
        await asyncio.sleep(delay)
        token = tokens.issue(SECRET, 1, 1, "view_live", 300, datetime.now(UTC))
        start = time.perf_counter()
        async with connect(f"ws://127.0.0.1:{port}/api/v1/live/1/ws?token={token}", max_size=None) as ws:
            seen_init = False
            while True:
                message = await ws.recv()
                if isinstance(message, bytes):
                    if seen_init:
                        took = time.perf_counter() - start
                        break
                    seen_init = True
            await asyncio.sleep(spread + 1 - delay)  # stay watching, as viewers do
        return took

    rng = random.Random(7)
    times = await asyncio.gather(*(viewer(rng.uniform(0, spread)) for _ in range(joiners)))
    server.should_exit = True
    await serving
    await gateway.aclose()
    await engine.stop()
    ms = [t * 1000 for t in times]
    return {
        "ttff_viewers": joiners,
        "ttff_ms_p50": round(statistics.median(ms), 2),
        "ttff_ms_p95": round(percentile(ms, 0.95), 2),
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--viewers", type=int, default=200)
    parser.add_argument("--joiners", type=int, default=50)
    args = parser.parse_args()
    clip = encode()
    result: dict[str, object] = {"clip": "640x360 25 fps GOP 2 s libx264 ~2 Mbit/s"}
    result.update(bench_build(clip))
    result.update(await bench_fanout(clip, args.viewers))
    result.update(await bench_ttff(clip, args.joiners))
    print(json.dumps(result))


if __name__ == "__main__":
    asyncio.run(main())
