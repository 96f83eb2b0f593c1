"""The live path's Python cost per frame, without sockets or an event loop's wake-ups: prints one JSON
object (not a test).

`bench/media.py` measures the whole platform against FFmpeg, but one figure there takes minutes and
mixes our code with the kernel, the event loop and the machine's noise. This one records what a
simulated camera sends over RTSP (TCP interleaved, as `xueliang sim` serves it on loopback), then
feeds those exact reads, in process, through the code a live viewer's frame passes:

    _Control.data_received -> RtspParser.scan -> RtspSession.on_interleaved -> FrameAssembler
    -> the engine's frame sink -> Channel.push (fMP4 fragment, GOP cache) -> Viewer -> the live
    WebSocket's direct write (media/ws_direct.py) into a transport that only counts bytes.

It reports µs of CPU per frame and per RTP packet (median over --repeat replays); --stages also times
each read up to the RTSP parser, the RTP assembler and the whole path; --profile names the functions
that took the time (cProfile inflates small calls: use it to find, not to measure).

--idle-ms 5 sleeps before each read, as the node's event loop does between frames when it has a few
cameras (8 cameras at 25 fps: a read every 5 ms). On a virtual machine the code then runs with cold
caches, and the same path can cost several times its warm figure: that, not the warm figure, is
what `bench/media.py` sees at 8 cameras. Compare versions on the same machine in the same hour.

    .venv/bin/python bench/media_path.py [--seconds 20] [--repeat 7] [--idle-ms 5] [--stages]
        [--save REC | --load REC] [--profile]"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import pickle
import pstats
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from websockets.protocol import State

from xueliang.media.channel import Channel, Fragment
from xueliang.media.frames import AccessUnit
from xueliang.media.rtp.assembler import FrameAssembler
from xueliang.media.rtsp import client as rtsp_client
from xueliang.media.rtsp.client import RtspSession, RtspSource
from xueliang.media.ws_direct import DirectWriter

ROOT = Path(__file__).resolve().parents[1]


class CountingTransport:
    """Stands in for the viewer's socket: takes every write at once and counts the bytes."""

    def __init__(self) -> None:
        self.bytes = 0
        self.writes = 0

    def writelines(self, parts: list[bytes]) -> None:
        self.bytes += sum(len(p) for p in parts)
        self.writes += 1

    def is_closing(self) -> bool:
        return False


class OpenConnection:
    """The attributes of uvicorn's websockets-sansio protocol that DirectWriter reads."""

    def __init__(self, transport: CountingTransport) -> None:
        self.transport = transport
        self.close_sent = False
        self.disconnected = False
        self.handshake_complete = True
        self.writable = asyncio.Event()
        self.writable.set()
        self.conn = type("Conn", (), {"state": State.OPEN, "extensions": []})()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def record(url: str, seconds: float) -> tuple[list[bytes], Any]:
    """The reads a live session gets from `url` during `seconds` after PLAY, and the session's track."""
    reads: list[bytes] = []
    original = rtsp_client._Control.data_received

    def keep(self: rtsp_client._Control, data: bytes) -> None:
        if self.session._started:
            reads.append(bytes(data))
        original(self, data)

    rtsp_client._Control.data_received = keep  # type: ignore[method-assign]
    try:
        session = RtspSource(url).open()
        await session.start()
        session._started = True
        stop = time.monotonic() + seconds
        frames = 0
        while time.monotonic() < stop:
            await session.__anext__()
            frames += 1
        await session.close()
    finally:
        rtsp_client._Control.data_received = original  # type: ignore[method-assign]
    return reads, session.track


STAGES = ("read", "scan", "assemble", "all")
"""How far each read goes: `read` calls nothing (the harness's own cost), `scan` stops after the RTSP
parser, `assemble` after the RTP assembler (frames dropped), `all` is the whole live path."""


def replay(
    reads: list[bytes], track: Any, stage: str = "all", idle_s: float = 0.0, thrash: bytearray | None = None
) -> dict[str, float]:
    """One pass of the recorded reads through the live path, up to `stage`; CPU time and counts.
    With `idle_s`, the process sleeps that long before each read, as the node's event loop does
    between frames when it has few cameras: the path then runs with cold CPU caches. With `thrash`,
    one byte of each of its cache lines is written before each read: the caches lose the path's
    data (and, in the last level, its code) as when other processes run between frames, without
    the sleep's dependence on what the host does meanwhile (and repeatable under callgrind)."""
    session = RtspSession(RtspSource("rtsp://127.0.0.1:1/replay"))
    session.rtp_channel = 0
    session._started = True
    assembler = FrameAssembler(track.codec, track.payload_type, session._emit, params=track.params)
    session._assembler = assembler
    channel = Channel(1)
    viewer = channel.open_viewer()
    transport = CountingTransport()
    writer = DirectWriter(OpenConnection(transport))
    sent = [0]

    def direct(fragment: Fragment) -> bool:  # _WsStream._direct without its lock checks
        if not writer.write(fragment.data):
            return False
        sent[0] += 1
        return True

    viewer.direct = direct
    loop = session.loop
    queue = viewer._queue
    last = [0.0]

    def on_frame(au: AccessUnit) -> None:  # MediaEngine._session's sink
        channel.push(au)
        last[0] = loop.time()
        if queue:  # what the viewer's pump would have sent (init segment, GOP, a gap note)
            queue.clear()

    session._sink = on_frame if stage == "all" else lambda _au: None
    control = rtsp_client._Control(session)
    handle: Any = control.data_received
    if stage == "read":
        handle = lambda _data: None  # noqa: E731
    elif stage == "scan":
        parser = control.parser
        handle = lambda data: parser.scan(data, lambda *_: None, lambda _m: None)  # noqa: E731
    cpu = 0.0
    clock = time.process_time
    lines = len(range(0, len(thrash or b""), 64))  # bytes `thrash[::64]` takes
    for index, data in enumerate(reads):
        if idle_s:
            time.sleep(idle_s)
        if thrash is not None:
            thrash[::64] = bytes((index & 0xFF,)) * lines  # a new value each time: a real write
        started = clock()
        handle(data)
        cpu += clock() - started
    if session._error is not None:
        raise SystemExit(f"replay failed: {session._error}")
    return {
        "cpu_s": cpu,
        "frames": assembler.stats.frames,
        "packets": assembler.stats.packets,
        "fragments_sent": sent[0],
        "bytes_written": transport.bytes,
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    if args.load:
        reads, track = pickle.loads(args.load.read_bytes())  # noqa: S301 - a file --save wrote
        return measure(reads, track, args)
    port = free_port()
    sim = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "xueliang", "sim", "--cameras", "1", "--port", str(port)),
        *("--size", args.size, "--data-dir", str(args.data_dir)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 300  # the first run encodes the loop
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            except OSError:
                if time.monotonic() > deadline or sim.returncode is not None:
                    raise SystemExit("the simulator did not start") from None
                await asyncio.sleep(0.2)
        reads, track = await record(f"rtsp://127.0.0.1:{port}/cam/1", args.seconds)
    finally:
        sim.send_signal(signal.SIGTERM)
        await asyncio.wait_for(sim.wait(), 15)
    if args.save:
        args.save.write_bytes(pickle.dumps((reads, track)))
    return measure(reads, track, args)


def measure(reads: list[bytes], track: Any, args: argparse.Namespace) -> dict[str, Any]:
    replay(reads, track)  # warm-up: imports, first-call caches
    idle_s = args.idle_ms / 1000
    thrash = bytearray(args.thrash_kb * 1024) if args.thrash_kb else None
    runs = [replay(reads, track, "all", idle_s, thrash) for _ in range(args.repeat)]
    first = runs[0]
    frames, cpu = first["frames"], statistics.median(r["cpu_s"] for r in runs)
    result: dict[str, Any] = {
        "python": sys.version.split()[0],
        "executable": sys.executable,
        "idle_ms_before_each_read": args.idle_ms,
        "thrash_kb_before_each_read": args.thrash_kb,
        "reads": len(reads),
        "frames": frames,
        "packets": first["packets"],
        "fragments_sent": first["fragments_sent"],
        "repeat": args.repeat,
        "us_per_frame": round(cpu / frames * 1e6, 2),
        "us_per_frame_all": [round(r["cpu_s"] / frames * 1e6, 2) for r in runs],
        "us_per_packet": round(cpu / first["packets"] * 1e6, 3),
        "pct_of_core_per_camera_25fps": round(cpu / frames * 25 * 100, 4),
    }
    if args.stages:
        per_read = {}
        for stage in STAGES:
            times = [replay(reads, track, stage, idle_s, thrash)["cpu_s"] for _ in range(args.repeat)]
            per_read[stage] = round(statistics.median(times) / len(reads) * 1e6, 2)
        result["us_per_read_by_stage"] = per_read
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
        replay(reads, track)
        profiler.disable()
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(25)
        print(out.getvalue(), file=sys.stderr)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0, help="seconds of one camera to record")
    parser.add_argument("--repeat", type=int, default=7, help="replays measured (median reported)")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "var" / "bench-cache")
    parser.add_argument("--save", type=Path, help="keep the recording in this file")
    parser.add_argument("--load", type=Path, help="replay a recording kept with --save (no simulator)")
    parser.add_argument(
        "--idle-ms",
        type=float,
        default=0.0,
        help="sleep before each read (e.g. 5: cold caches, as at 8 cameras)",
    )
    parser.add_argument(
        "--thrash-kb",
        type=int,
        default=0,
        help="write this many KiB (one byte per cache line) before each read: cold data caches",
    )
    parser.add_argument("--stages", action="store_true", help="also time each stage of the path (per read)")
    parser.add_argument("--profile", action="store_true", help="cProfile one more replay (stderr)")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args)), indent=1))


if __name__ == "__main__":
    main()
