"""Where a camera's CPU goes at a few cameras: the cost of waking up, against FFmpeg's. Prints one JSON
object (not a test).

`bench/media.py` compares the whole platform with FFmpeg. At 8 cameras a frame arrives every 5 ms, each
wakes the process that pulls its camera, and on a virtual machine a wake-up costs tens of µs before
any of our code runs. This benchmark pulls the same N simulated cameras (`xueliang sim`, RTSP over
TCP on loopback) with our RTSP client in one uvloop process, doing more at each step:

- read:     the RTSP client's handshake, then every read only counted (its bytes are not looked at):
            the floor, what waking up and reading costs a Python process;
- assemble: RTSP parsing and RTP depacketizing into access units, handed to a sink that drops them;
- channel:  the same, into a `Channel` (fMP4 fragment per frame, GOP cache, no viewer),

and then FFmpeg, one process per camera: `-c copy -f null` (its own floor: demuxing only) and
`-c copy -f hls` (the peer of `bench/media.py`). CPU is utime + stime of the processes from /proc
over each window, as % of one core per camera; `wakes_per_s` counts voluntary context switches. Each
round runs every mode once, in a rotated order; the summary gives medians over the rounds.

    .venv/bin/python bench/media_floor.py [--cameras 8] [--rounds 3] [--window 15] [--warmup 5]"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from media import ROOT, Run, cpu_seconds, ensure_loops, start_sims, status_kb, stop_process

MODES = ("read", "assemble", "channel", "ffmpeg-null", "ffmpeg-hls")


# -- child: our client pulling every camera ------------------------------------------------------------


def pull_main(mode: str, urls: list[str]) -> None:
    import uvloop

    from xueliang.media.channel import Channel
    from xueliang.media.frames import AccessUnit
    from xueliang.media.rtsp import client

    def count_only(self: client._Control, data: bytes) -> None:
        session = self.session
        session.last_rx = session.loop.time()  # keeps the read timeout quiet
        session.bytes_received += len(data)

    async def one(number: int, url: str, streaming: asyncio.Event) -> None:
        channel = Channel(number)

        def sink(au: AccessUnit) -> None:
            streaming.set()
            if mode == "channel":
                channel.push(au)

        async with client.RtspSource(url).open() as session:
            await session.pump(sink)

    async def run() -> None:
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        flags = [asyncio.Event() for _ in urls]
        tasks = [asyncio.create_task(one(n, u, f)) for n, (u, f) in enumerate(zip(urls, flags, strict=True))]
        for flag in flags:
            await flag.wait()
        if mode == "read":  # the handshake is done and frames flow: from now on reads are only counted
            client._Control.data_received = count_only  # type: ignore[method-assign]
        print("ready", flush=True)  # the parent waits for this line
        await stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    uvloop.run(run())


# -- the parent -------------------------------------------------------------------------------------------


def cpu_and_wakes(pids: list[int]) -> tuple[float, int]:
    """CPU seconds and voluntary context switches (wake-ups), summed over `pids`."""
    cpu = sum(cpu_seconds(pid) for pid in pids)
    return cpu, sum(status_kb(pid, "voluntary_ctxt_switches") for pid in pids)


def start_mode(run: Run, mode: str, cameras: int, args: argparse.Namespace) -> list[subprocess.Popen[bytes]]:
    urls = [run.camera_url(n) for n in range(1, cameras + 1)]
    if mode.startswith("ffmpeg"):
        procs = []
        for number, url in enumerate(urls, 1):
            cmd = [args.ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp"]
            cmd += ["-i", url, "-c", "copy"]
            if mode == "ffmpeg-null":
                cmd += ["-f", "null", "-"]
            else:
                target = run.work / f"hls-{number}"
                target.mkdir(exist_ok=True)
                cmd += ["-f", "hls", "-hls_time", "2", "-hls_list_size", "6", "-hls_flags", "delete_segments"]
                cmd += [str(target / "index.m3u8")]
            procs.append(run.spawn(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        return procs
    command = [sys.executable, str(Path(__file__).resolve()), "--pull", mode, *urls]
    proc = run.spawn(command, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    if proc.stdout.readline() != b"ready\n":  # empty when the client ended before every camera streamed
        raise RuntimeError(f"{mode}: the client ended before every camera was streaming")
    return [proc]


def measure(run: Run, mode: str, cameras: int, args: argparse.Namespace) -> dict[str, float]:
    procs = start_mode(run, mode, cameras, args)
    try:
        time.sleep(args.warmup)
        if any(p.poll() is not None for p in procs):
            raise RuntimeError(f"{mode}: a process ended early")
        pids = [p.pid for p in procs]
        cpu0, wakes0 = cpu_and_wakes(pids)
        started = time.monotonic()
        time.sleep(args.window)
        cpu1, wakes1 = cpu_and_wakes(pids)
        wall = time.monotonic() - started
    finally:
        for proc in procs:
            stop_process(proc, signal.SIGKILL if mode.startswith("ffmpeg") else signal.SIGTERM)
            run.procs.remove(proc)
    cpu_pct = (cpu1 - cpu0) / wall * 100
    return {
        "cpu_per_camera_pct": round(cpu_pct / cameras, 4),
        "wakes_per_s": round((wakes1 - wakes0) / wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cameras", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--window", type=float, default=15.0, help="seconds of CPU measurement per mode")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--sims", type=int, default=8, help="simulator processes")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "var" / "bench-cache")
    parser.add_argument("--ffmpeg", default="/usr/bin/ffmpeg")
    parser.add_argument("--pull", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pull:
        return pull_main(args.pull[0], args.pull[1:])
    if not 1 <= args.cameras <= 59:
        parser.error("--cameras takes a count from 1 to 59")

    ensure_loops(args.data_dir, args.cameras, args.size)
    rounds: list[dict[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory(prefix="bench-floor-", dir=ROOT / "var") as work:
        run = Run(Path(work), args.data_dir, args.size)
        try:
            start_sims(run, args.cameras, args.sims)
            for index in range(args.rounds):
                order = MODES[index % len(MODES) :] + MODES[: index % len(MODES)]
                rounds.append({mode: measure(run, mode, args.cameras, args) for mode in order})
        finally:
            run.stop_all()
    summary: dict[str, Any] = {}
    for mode in MODES:
        cpu = statistics.median(r[mode]["cpu_per_camera_pct"] for r in rounds)
        summary[mode] = {
            "cpu_per_camera_pct": round(cpu, 4),
            "wakes_per_s": statistics.median(r[mode]["wakes_per_s"] for r in rounds),
        }
    floor = summary["read"]["cpu_per_camera_pct"]
    summary["ours_above_floor_pct"] = {
        m: round(summary[m]["cpu_per_camera_pct"] - floor, 4) for m in ("assemble", "channel")
    }
    summary["read_to_ffmpeg_null"] = round(floor / summary["ffmpeg-null"]["cpu_per_camera_pct"], 2)
    summary["channel_to_ffmpeg_hls"] = round(
        summary["channel"]["cpu_per_camera_pct"] / summary["ffmpeg-hls"]["cpu_per_camera_pct"], 2
    )
    config = {"cameras": args.cameras, "rounds": args.rounds, "window_s": args.window, "sims": args.sims}
    print(json.dumps({"config": config, "summary": summary, "rounds": rounds}, indent=1))


if __name__ == "__main__":
    main()
