"""What a camera tile's still costs: the decode of one keyframe to a 320 px JPEG, and the CPU of a wall of
59 cameras whose stills are all requested every 10 s. Prints one JSON object (not a test).

- decode: `decode_still` on the keyframe (init segment + first fragment) of a channel fed with a clip
  encoded here by libx264/libx265 (a textured picture with moving blocks, CRF 23), per codec and size;
  wall time (median, p95) and CPU time of the calling thread per still.
- wall:   59 channels, each given a new GOP before every round (the worst case: every still is a new
  keyframe, as with cameras whose GOP is shorter than 10 s), then every camera's still asked by
  `viewers` clients at once through one `StillCache` (2 decode threads, as in the plane). A round stands
  for 10 s of a wall: CPU seconds per round / 10 s is the share of one core the stills take. A second
  ask within the cache's max-age is measured too (it must cost next to nothing).

    .venv/bin/python bench/still.py [--rounds 5] [--viewers 3] [--sizes 640x360,1280x720,1920x1080]"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import time
from fractions import Fraction
from typing import Any

import av
import numpy as np

from xueliang.media.channel import Channel
from xueliang.media.frames import AccessUnit, Codec, CodecParams
from xueliang.media.still import StillCache, decode_still, latest_keyframe

START = b"\x00\x00\x01"


def _params(codec: Codec, nalus: list[bytes], width: int, height: int) -> CodecParams:
    if codec is Codec.h264:
        by_type = {n[0] & 0x1F: n for n in nalus}
        return CodecParams(Codec.h264, sps=by_type[7], pps=by_type[8], width=width, height=height)
    by_type = {(n[0] >> 1) & 0x3F: n for n in nalus}
    return CodecParams(
        Codec.h265, sps=by_type[33], pps=by_type[34], vps=by_type[32], width=width, height=height
    )


def clip(codec: Codec, width: int, height: int, frames: int = 50, gop: int = 25) -> list[AccessUnit]:
    """`frames` access units at 25 fps with a keyframe every `gop` frames (90 kHz timestamps)."""
    name = "libx264" if codec is Codec.h264 else "libx265"
    enc = av.CodecContext.create(name, "w")
    enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
    enc.time_base, enc.framerate = Fraction(1, 25), Fraction(25)
    keyint = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:repeat-headers=1"
    key = "x264-params" if codec is Codec.h264 else "x265-params"
    enc.options = {
        "preset": "veryfast",
        "crf": "23",
        key: keyint + ("" if codec is Codec.h264 else ":log-level=error"),
    }
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:height, 0:width]
    texture = (96 + 60 * np.sin(xx / 23.0) * np.cos(yy / 17.0) + rng.normal(0, 6, (height, width))).clip(
        0, 255
    )
    units: list[AccessUnit] = []
    params: CodecParams | None = None
    packets = []
    for i in range(frames):
        plane = np.full((height * 3 // 2, width), 128, np.uint8)
        plane[:height] = texture.astype(np.uint8)
        x = (i * 7) % (width - width // 8)
        plane[height // 3 : height // 3 + height // 8, x : x + width // 8] = 230
        frame = av.VideoFrame.from_ndarray(plane, format="yuv420p")
        frame.pts = i
        packets.extend(enc.encode(frame))
    packets.extend(enc.encode(None))
    for packet in packets:
        nalus = [p.rstrip(b"\x00") for p in bytes(packet).split(START) if p.rstrip(b"\x00")]
        if packet.is_keyframe or params is None:
            params = _params(codec, nalus, width, height)
        assert packet.pts is not None
        units.append(AccessUnit(nalus, 900_000 + packet.pts * 3600, bool(packet.is_keyframe), params))
    return units


def bench_decode(codec: Codec, width: int, height: int, repeat: int) -> dict[str, Any]:
    channel = Channel(1)
    for au in clip(codec, width, height, frames=30, gop=25)[:26]:
        channel.push(au)
    found = latest_keyframe(channel)
    assert found is not None
    data = found[0].data + found[1].data
    decode_still(data)  # warm-up: codec tables, scaler
    walls, cpus, size = [], [], 0
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.thread_time()
        jpeg, _w, _h = decode_still(data)
        walls.append(time.perf_counter() - w0)
        cpus.append(time.thread_time() - c0)
        size = len(jpeg)
    walls.sort()
    return {
        "codec": codec.value,
        "size": f"{width}x{height}",
        "keyframe_kb": round(len(found[1].data) / 1024, 1),
        "jpeg_kb": round(size / 1024, 1),
        "ms_median": round(statistics.median(walls) * 1000, 2),
        "ms_p95": round(walls[int(0.95 * (len(walls) - 1))] * 1000, 2),
        "cpu_ms_median": round(statistics.median(cpus) * 1000, 2),
    }


async def bench_wall(
    codec: Codec, width: int, height: int, cameras: int, rounds: int, viewers: int
) -> dict[str, Any]:
    source = clip(codec, width, height, frames=25, gop=25)
    channels = {i: Channel(i) for i in range(1, cameras + 1)}
    ticks = [0.0]
    cache = StillCache(channels.__getitem__, max_age=5.0, clock=lambda: ticks[0])
    step = 0
    cpu_rounds, wall_rounds = [], []
    try:
        for _ in range(rounds + 1):  # the first round warms up
            for channel in channels.values():  # a new GOP everywhere: every still is a new keyframe
                for au in source:
                    channel.push(AccessUnit(au.nalus, au.pts + step, au.keyframe, au.params))
            step += 25 * 3600
            ticks[0] += 10.0
            w0, c0 = time.perf_counter(), time.process_time()
            asks = [cache.get(i) for i in channels for _ in range(viewers)]
            await asyncio.gather(*asks)
            wall_rounds.append(time.perf_counter() - w0)
            cpu_rounds.append(time.process_time() - c0)
        w0, c0 = time.perf_counter(), time.process_time()
        await asyncio.gather(*(cache.get(i) for i in channels for _ in range(viewers)))
        hit_wall, hit_cpu = time.perf_counter() - w0, time.process_time() - c0
    finally:
        cache.close()
    cpu = statistics.median(cpu_rounds[1:])
    return {
        "codec": codec.value,
        "size": f"{width}x{height}",
        "cameras": cameras,
        "viewers_per_camera": viewers,
        "decodes": cache.decodes,
        "coalesced": cache.coalesced,
        "round_wall_s": round(statistics.median(wall_rounds[1:]), 3),
        "round_cpu_s": round(cpu, 3),
        "core_share_at_10s": f"{cpu / 10.0 * 100:.1f} %",
        "cached_round_ms": round(hit_wall * 1000, 2),
        "cached_round_cpu_ms": round(hit_cpu * 1000, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--viewers", type=int, default=3)
    parser.add_argument("--cameras", type=int, default=59)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--sizes", default="640x360,1280x720,1920x1080")
    args = parser.parse_args()
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    decode = [bench_decode(codec, w, h, args.repeat) for codec in (Codec.h264, Codec.h265) for w, h in sizes]
    wall = [
        asyncio.run(bench_wall(codec, w, h, args.cameras, args.rounds, args.viewers))
        for codec, (w, h) in ((Codec.h264, sizes[0]), (Codec.h264, sizes[-1]), (Codec.h265, sizes[-1]))
    ]
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    out = {"machine": platform.machine(), "python": platform.python_version(), "loadavg": load,
           "decode": decode, "wall": wall}  # fmt: skip
    print(json.dumps(out, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
