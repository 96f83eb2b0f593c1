"""CPU cost of the camera simulator: N simulated cameras, one RTSP client per camera in a separate
process (so only serving is measured), CPU % of one core per camera from /proc over the window.

    .venv/bin/python bench/sim_cpu.py --cameras 16 --seconds 20 [--size 1280x720] [--transport udp]

Prints one JSON object. The first run encodes the loops into --data-dir/sim/ (cached afterwards).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from xueliang.media.errors import MediaError
from xueliang.media.rtsp.client import RtspSource, Transport
from xueliang.media.sim.encode import LoopSpec, ensure_loop, loop_path
from xueliang.media.sim.server import RtspSimulator

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int | str = "self") -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def clients(base: str, cameras: int, seconds: float, transport: Transport) -> None:
    """Child mode: one session per camera for `seconds`; prints frames received as JSON."""
    counts = [0] * cameras

    async def one(index: int) -> None:
        source = RtspSource(f"{base}/cam/{index + 1}", transport=transport)
        try:
            async with source.open() as session:
                async for _ in session:
                    counts[index] += 1
        except MediaError as exc:
            print(f"camera {index + 1}: {exc.reason}", file=sys.stderr)

    tasks = [asyncio.create_task(one(i)) for i in range(cameras)]
    await asyncio.sleep(seconds)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    print(json.dumps({"frames": counts, "client_cpu_s": cpu_seconds()}))


async def measure(args: argparse.Namespace) -> dict[str, object]:
    width, height = (int(v) for v in args.size.split("x"))
    spec = LoopSpec(width=width, height=height)
    missing = [n for n in range(1, args.cameras + 1) if not loop_path(args.data_dir, n, spec).exists()]
    encode_started = time.perf_counter()
    for number in missing:
        await asyncio.to_thread(ensure_loop, args.data_dir, number, spec)
    encode_seconds = time.perf_counter() - encode_started
    simulator = RtspSimulator(args.cameras, data_dir=args.data_dir, port=0, size=(width, height))
    async with simulator:
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--client-mode",
            f"rtsp://127.0.0.1:{simulator.port}",
            "--cameras",
            str(args.cameras),
            "--seconds",
            str(args.seconds + args.warmup + 1),
            "--transport",
            args.transport,
            stdout=subprocess.PIPE,
        )
        await asyncio.sleep(args.warmup)
        cpu0, wall0 = cpu_seconds(), time.monotonic()
        child_cpu0 = cpu_seconds(child.pid)
        await asyncio.sleep(args.seconds)
        cpu1, wall1 = cpu_seconds(), time.monotonic()
        child_cpu1 = cpu_seconds(child.pid)
        memory = rss_mb()
        out, _ = await child.communicate()
    report = json.loads(out)
    total = 100 * (cpu1 - cpu0) / (wall1 - wall0)
    client_total = 100 * (child_cpu1 - child_cpu0) / (wall1 - wall0)
    return {
        "cameras": args.cameras,
        "size": args.size,
        "transport": args.transport,
        "seconds": args.seconds,
        "loops_encoded": len(missing),
        "encode_seconds_per_loop": round(encode_seconds / len(missing), 2) if missing else None,
        "sim_cpu_percent": round(total, 2),
        "sim_cpu_percent_per_camera": round(total / args.cameras, 3),
        "sim_rss_mb": round(memory, 1),
        "client_cpu_percent_per_camera": round(client_total / args.cameras, 3),
        "frames_per_camera_per_second": round(
            sum(report["frames"]) / args.cameras / (args.seconds + args.warmup + 1), 1
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cameras", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--size", default="640x360")
    parser.add_argument("--transport", choices=["tcp", "udp"], default="tcp")
    parser.add_argument("--data-dir", type=Path, default=Path("var"))
    parser.add_argument("--client-mode", metavar="BASE_URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client_mode:
        asyncio.run(clients(args.client_mode, args.cameras, args.seconds, args.transport))
    else:
        print(json.dumps(asyncio.run(measure(args))))


if __name__ == "__main__":
    main()
