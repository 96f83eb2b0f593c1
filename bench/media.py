"""Media plane, side by side with FFmpeg: prints one JSON object (not a test).

For each camera count N (default 8 and 32), on loopback, with N simulated cameras (`xueliang sim`,
1280x720, 25 fps, about 2 Mbit/s, GOP 2 s, loops cached under --data-dir):
- ours: the platform as `xueliang serve` runs it (a subprocess on a freshly seeded database whose first
  N cameras point at the simulator; recording and MQTT off), pulling every camera, with one live
  WebSocket viewer per camera in a separate process (SCHED_BATCH unless --viewer-policy normal: a real
  viewer is on another machine, and here it would preempt the server at every write that wakes it).
  CPU % of one core per camera from
  /proc/<pid>/stat (utime + stime) over a fixed window after warm-up, the server's RSS, added latency
  (a frame's last RTP packet in -> its fragment handed to the WebSocket, from an off-by-default probe
  in the live path), time to first frame for --joiners WebSocket viewers joining at random times
  (connect -> the first fragment, which must hold a keyframe);
- the peer: `ffmpeg -rtsp_transport tcp -i URL -c copy -f hls`, one process per camera (Debian's
  ffmpeg), CPU summed over all of them, RSS and PSS (from /proc/<pid>/smaps_rollup);
- the floor (unless --no-floor): our RTSP client in one process that only reads the same cameras
  (`bench/media_floor.py`). On a virtual machine waking up once per frame costs most of a camera's CPU
  at a few cameras, for FFmpeg and for us alike; `*_above_floor_pct` is what each spends beyond that;
- with --peer-viewer, FFmpeg like for like: the same HLS output plus every frame as its own fMP4
  fragment, flushed at once, over TCP to a live viewer that discards it (`ffmpeg_viewer`).
Then CPU per extra viewer: one camera, 1 and then 200 WebSocket viewers, (difference) / 199.

    .venv/bin/python bench/media.py [--cameras 8,32,59] [--warmup 10] [--window 30] [--rounds 1]

The first run encodes the 720p loops (about 4 s of CPU each); later runs reuse them. A run of 8 and 32
cameras takes about 6 minutes. The machine is shared: compare ours with the peer measured in the same
run (the `ratio` fields), and prefer medians over --rounds > 1.

Child modes (used by the parent, not by hand): --serve PROBE_FILE (the platform with the latency
probe), --viewers SPEC (steady viewers until SIGTERM; SIGUSR1 writes counters), --joiners-run SPEC."""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import gc
import json
import os
import random
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from xueliang.seed.demo import DEMO_PASSWORD

ROOT = Path(__file__).resolve().parents[1]
TICK = os.sysconf("SC_CLK_TCK")
SECRET = "bench-media-secret-" + "x" * 32
GOALS = {
    "cpu_per_camera_pct": "<= ffmpeg's (about 0.45 % here); stretch: ZLMediaKit, about 0.4 %",
    "ttff_p95_ms": 300,
    "added_latency_p99_ms": 5,
    "cpu_per_extra_viewer_pct": 0.1,
    "memory_per_camera_mb": 5,
}


# -- /proc -------------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def pss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1])
    return 0


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def median(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(predicate: Any, timeout: float, what: str, every: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if predicate():
                return
        except (httpx.HTTPError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def stop_process(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM, timeout: float = 15) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


# -- a minimal WebSocket client (RFC 6455): the viewers must cost the machine as little as possible ----


class Ws:
    """Client side for unmasked server frames: keeps payloads only when asked (and for control frames),
    answers pings so the server keeps the connection. Messages must not be fragmented (ours are not)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.buf = bytearray()
        self.bytes = 0

    @classmethod
    async def open(cls, port: int, path: str) -> Ws:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        key = base64.b64encode(os.urandom(16)).decode()
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            writer.close()
            raise ConnectionError(f"upgrade refused: {head[:60]!r}")
        return cls(reader, writer)

    async def _fill(self, need: int) -> bool:
        while len(self.buf) < need:
            data = await self.reader.read(1 << 18)
            if not data:
                return False
            self.bytes += len(data)
            self.buf += data
        return True

    async def frame(self, keep: bool) -> tuple[int, bytes] | None:
        """(opcode, payload or b"" when not kept); None when the connection ended."""
        if not await self._fill(2):
            return None
        op, size, head = self.buf[0] & 0x0F, self.buf[1] & 0x7F, 2
        if size >= 126:
            head = 4 if size == 126 else 10
            if not await self._fill(head):
                return None
            size = int.from_bytes(self.buf[2:head], "big")
        payload = b""
        if keep or op >= 8:
            if not await self._fill(head + size):
                return None
            payload = bytes(self.buf[head : head + size])
            del self.buf[: head + size]
        elif len(self.buf) >= head + size:
            del self.buf[: head + size]
        else:
            remaining = head + size - len(self.buf)
            self.buf.clear()
            while remaining > 0:
                data = await self.reader.read(min(1 << 18, remaining))
                if not data:
                    return None
                self.bytes += len(data)
                remaining -= len(data)
        if op == 9:  # ping: a masked pong with the same payload
            mask = os.urandom(4)
            masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            self.writer.write(bytes([0x8A, 0x80 | len(payload)]) + mask + masked)
        return op, payload

    def close(self) -> None:
        self.writer.transport.abort()


def holds_keyframe(fragment: bytes) -> bool:
    """Our fragments carry one sample; its flags sit at a fixed offset of the trun box."""
    return (
        len(fragment) > 100
        and fragment[72:76] == b"trun"
        and struct.unpack_from(">I", fragment, 96)[0] == 0x02000000
    )


# -- child: steady viewers -----------------------------------------------------------------------------


def viewers_main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    if spec.get("batch"):
        # A real viewer runs on another machine. Here it shares our two cores, and as a normal task it
        # preempts the server at each write that wakes it (about 125 times a second at 8 cameras),
        # charging the server with switches and cold caches that FFmpeg, writing files, never pays.
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    counts = [0] * len(spec["paths"])
    sockets: list[Ws | None] = [None] * len(spec["paths"])
    errors: list[str] = []
    stop = asyncio.Event()

    def report(_sig: int = 0, _frame: FrameType | None = None) -> None:
        data = {
            "frames": sum(counts),
            "bytes": sum(ws.bytes for ws in sockets if ws is not None),
            "connected": sum(ws is not None for ws in sockets),
            "errors": errors[:5],
        }
        tmp = spec["stats"] + ".tmp"
        Path(tmp).write_text(json.dumps(data))
        os.replace(tmp, spec["stats"])

    async def one(index: int, path: str) -> None:
        try:
            ws = await Ws.open(spec["port"], path)
        except (OSError, ConnectionError) as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            return
        sockets[index] = ws
        while (item := await ws.frame(keep=False)) is not None:
            if item[0] == 2:
                counts[index] += 1
            elif item[0] == 8:
                errors.append("closed by the server")
                return

    async def run() -> None:
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        loop.add_signal_handler(signal.SIGUSR1, report)
        tasks = [asyncio.create_task(one(i, p)) for i, p in enumerate(spec["paths"])]
        await stop.wait()
        report()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for ws in sockets:
            if ws is not None:
                ws.close()

    asyncio.run(run())


# -- child: viewers joining at random times ------------------------------------------------------------


def joiners_main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    rng = random.Random(spec["seed"])
    plan = sorted((rng.uniform(0, spec["spread"]), rng.choice(spec["paths"])) for _ in range(spec["count"]))

    async def join(delay: float, path: str) -> tuple[float, bool] | str:
        await asyncio.sleep(delay)
        started = time.perf_counter()
        try:
            ws = await Ws.open(spec["port"], path)
        except (OSError, ConnectionError) as exc:
            return f"{type(exc).__name__}: {exc}"
        try:
            binaries = 0
            async with asyncio.timeout(10):
                while (item := await ws.frame(keep=True)) is not None:
                    if item[0] == 2:
                        binaries += 1
                        if binaries == 2:  # the init segment, then the first fragment
                            return (time.perf_counter() - started) * 1000, holds_keyframe(item[1])
            return "closed before the first fragment"
        except TimeoutError:
            return "no fragment within 10 s"
        finally:
            ws.close()

    async def run() -> list[tuple[float, bool] | str]:
        return await asyncio.gather(*(join(d, p) for d, p in plan))

    results = asyncio.run(run())
    ok = [r for r in results if isinstance(r, tuple)]
    print(
        json.dumps(
            {
                "ttff_ms": [round(ms, 2) for ms, _ in ok],
                "first_fragment_keyframe": sum(key for _, key in ok),
                "errors": [r for r in results if isinstance(r, str)][:5],
            }
        )
    )


# -- child: the platform with the latency probe --------------------------------------------------------


def sink_main(port: str, batch: bool) -> None:
    """The FFmpeg peer's live viewer: accepts TCP connections on `port` and discards what they send."""
    if batch:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))

    async def drain(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(1 << 16):
            pass
        writer.close()

    async def run() -> None:
        server = await asyncio.start_server(drain, "127.0.0.1", int(port))
        print("ready", flush=True)  # the parent waits for this line
        await server.serve_forever()

    asyncio.run(run())


def serve_main(probe_path: str) -> None:
    """`xueliang serve` as the CLI runs it, plus the live path's latency probe. SIGUSR1 writes the
    latencies (µs) seen since the previous SIGUSR1 to `probe_path` and starts a new window."""
    from xueliang.config import load_settings
    from xueliang.media.channel import Fragment
    from xueliang.media.live import ws as live_ws
    from xueliang.server import serve_forever

    samples = array("q")
    gc_pauses = array("q")  # ns per collection: a long one stalls every stream at once
    gc_started = [0]

    def probe(fragment: Fragment) -> None:
        samples.append(time.monotonic_ns() - fragment.arrived_ns)

    def on_gc(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            gc_started[0] = time.monotonic_ns()
        else:
            gc_pauses.append(time.monotonic_ns() - gc_started[0])

    def dump(_sig: int, _frame: FrameType | None) -> None:
        values = {"latency_us": [v // 1000 for v in samples], "gc_pauses_us": [v // 1000 for v in gc_pauses]}
        del samples[:]
        del gc_pauses[:]
        tmp = probe_path + ".tmp"
        Path(tmp).write_text(json.dumps(values))
        os.replace(tmp, probe_path)

    live_ws.fragment_sent_probe = probe
    gc.callbacks.append(on_gc)
    signal.signal(signal.SIGUSR1, dump)
    serve_forever(load_settings())


# -- the parent ----------------------------------------------------------------------------------------


@dataclass
class Run:
    """Paths and processes of one benchmark run; everything is removed or stopped at the end."""

    work: Path
    data_dir: Path
    size: str
    sims: list[tuple[int, subprocess.Popen[bytes]]] = field(default_factory=list)  # (port, process)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def camera_url(self, number: int) -> str:
        """Cameras are dealt round-robin over the simulators (each paces its cameras in step)."""
        port = self.sims[(number - 1) % len(self.sims)][0]
        return f"rtsp://127.0.0.1:{port}/cam/{number}"

    @property
    def sim_pids(self) -> list[int]:
        return [proc.pid for _, proc in self.sims]

    def spawn(self, args: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(args, **kwargs)
        self.procs.append(proc)
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            stop_process(proc)
        self.procs.clear()


def ensure_loops(data_dir: Path, cameras: int, size: str) -> float:
    from xueliang.media.sim.encode import LoopSpec, ensure_loop, loop_path

    width, height = (int(v) for v in size.split("x"))
    spec = LoopSpec(width=width, height=height)
    started = time.perf_counter()
    for number in range(1, cameras + 1):
        if not loop_path(data_dir, number, spec).exists():
            ensure_loop(data_dir, number, spec)
    return time.perf_counter() - started


def start_sims(run: Run, cameras: int, count: int) -> None:
    """`count` simulator processes. One simulator sends all its cameras' frames on the same tick, which
    real cameras never do; several, started at random moments, spread frame arrivals over time."""
    rng = random.Random(11)
    for _ in range(count):
        port = free_port()
        args = [sys.executable, "-m", "xueliang", "sim", "--cameras", str(cameras), "--port", str(port)]
        args += ["--size", run.size, "--data-dir", str(run.data_dir)]
        run.sims.append((port, run.spawn(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))
        time.sleep(rng.uniform(0.0, 0.04))
    for port, _ in run.sims:
        wait_until(lambda port=port: port_open(port), 120, "the simulators to listen")


def seed(url: str, run: Run, cameras: int) -> None:
    from sqlalchemy import update

    from xueliang.accounts import passwords
    from xueliang.cameras.models import Camera
    from xueliang.core import migrate
    from xueliang.core.clock import SystemClock
    from xueliang.core.db import Database
    from xueliang.seed.load import seed_demo

    passwords.use_fast_hashing_for_tests()  # seeding hundreds of demo users; the server verifies as usual

    async def go() -> None:
        await migrate.upgrade_async(url)
        db = Database(url)
        try:
            async with db.session() as s:
                await seed_demo(s, now=SystemClock().now(), rtsp_base="rtsp://127.0.0.1:1")
                gb_ids = [f"51322300001320{n:06d}" for n in range(cameras + 1, 60)]
                await s.execute(update(Camera).values(record=False))
                await s.execute(update(Camera).where(Camera.gb_id.in_(gb_ids)).values(enabled=False))
                for n in range(1, cameras + 1):
                    gb_id = f"51322300001320{n:06d}"
                    await s.execute(
                        update(Camera).where(Camera.gb_id == gb_id).values(stream_url=run.camera_url(n))
                    )
                await s.commit()
        finally:
            await db.dispose()

    asyncio.run(go())


@dataclass
class Server:
    proc: subprocess.Popen[bytes]
    port: int
    probe: Path
    client: httpx.Client
    cameras: list[int]

    def health(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self.client.get("/api/v1/cameras/health").json()
        return rows

    def ws_path(self, camera_id: int) -> str:
        r = self.client.post(f"/api/v1/cameras/{camera_id}/token")
        r.raise_for_status()
        path: str = r.json()["streams"]["ws"]
        return path

    def probe_window(self) -> dict[str, list[int]]:
        """The probe's samples since the previous call: latencies and GC pauses (µs)."""
        self.probe.unlink(missing_ok=True)
        self.proc.send_signal(signal.SIGUSR1)
        wait_until(self.probe.exists, 10, "the latency probe's samples", every=0.05)
        values: dict[str, list[int]] = json.loads(self.probe.read_text())
        return values


@contextlib.contextmanager
def platform(run: Run, cameras: int, tag: str) -> Iterator[Server]:
    """The platform serving the first `cameras` cameras, all online, logged in as admin."""
    home = run.work / f"node-{tag}"
    home.mkdir(parents=True, exist_ok=True)
    url = f"sqlite+aiosqlite:///{home / 'xueliang.db'}"
    seed(url, run, cameras)
    port = free_port()
    env = dict(os.environ)
    env.update(
        XUELIANG_DATABASE_URL=url,
        XUELIANG_DATA_DIR=str(home),
        XUELIANG_PORT=str(port),
        XUELIANG_HOST="127.0.0.1",
        XUELIANG_SECRET_KEY=SECRET,
        XUELIANG_MEDIA_RTSP_PORT="0",
        XUELIANG_RECORDING_ENABLED="false",
        XUELIANG_ALARM_MQTT_ENABLED="false",
    )
    probe = home / "latency.json"
    log = (home / "server.log").open("wb")
    proc = run.spawn(
        [sys.executable, str(Path(__file__).resolve()), "--serve", str(probe)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=20)
    try:

        def logged_in() -> bool:
            r = client.post("/api/v1/auth/login", json={"username": "admin", "password": DEMO_PASSWORD})
            if r.status_code != 200:
                return False
            client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            return True

        wait_until(lambda: proc.poll() is None and logged_in(), 60, "the platform to answer")
        server = Server(proc, port, probe, client, [])
        wait_until(
            lambda: sum(h["status"] == "online" for h in server.health()) >= cameras,
            60 + cameras,
            f"{cameras} cameras online",
            every=0.5,
        )
        server.cameras = sorted(h["camera_id"] for h in server.health() if h["status"] == "online")
        yield server
    finally:
        client.close()
        stop_process(proc)
        run.procs.remove(proc)
        log.close()


@dataclass
class Viewers:
    proc: subprocess.Popen[bytes]
    stats_path: Path

    def stats(self) -> dict[str, Any]:
        self.stats_path.unlink(missing_ok=True)
        self.proc.send_signal(signal.SIGUSR1)
        wait_until(self.stats_path.exists, 10, "viewer counters", every=0.05)
        data: dict[str, Any] = json.loads(self.stats_path.read_text())
        return data


def start_viewers(run: Run, server: Server, paths: list[str], tag: str, batch: bool) -> Viewers:
    spec = run.work / f"viewers-{tag}.json"
    stats = run.work / f"viewers-{tag}-stats.json"
    spec.write_text(json.dumps({"port": server.port, "paths": paths, "stats": str(stats), "batch": batch}))
    proc = run.spawn([sys.executable, str(Path(__file__).resolve()), "--viewers", str(spec)])
    return Viewers(proc, stats)


def measure_window(pids: dict[str, list[int]], seconds: float) -> dict[str, float]:
    """% of one core per group of processes over `seconds` of wall time, and the machine's load."""
    before = {k: sum(cpu_seconds(p) for p in v) for k, v in pids.items()}
    load_before = os.getloadavg()[0]
    started = time.monotonic()
    time.sleep(seconds)
    wall = time.monotonic() - started
    after = {k: sum(cpu_seconds(p) for p in v) for k, v in pids.items()}
    load = max(load_before, os.getloadavg()[0])
    return {k: (after[k] - before[k]) / wall * 100 for k in pids} | {"wall_s": wall, "loadavg_1m": load}


def wait_for_quiet(args: argparse.Namespace) -> float:
    """Waits (at most --quiet-wait s) until the 1-minute load average is below --quiet-load, so that a
    phase does not start in the middle of someone else's build; returns the load it started at."""
    deadline = time.monotonic() + args.quiet_wait
    while os.getloadavg()[0] >= args.quiet_load and time.monotonic() < deadline:
        time.sleep(5)
    return round(os.getloadavg()[0], 2)


def run_ours(run: Run, cameras: int, args: argparse.Namespace, tag: str) -> dict[str, Any]:
    start_load = wait_for_quiet(args)
    with platform(run, cameras, tag) as server:
        paths = [server.ws_path(c) for c in server.cameras]
        viewers = start_viewers(run, server, paths, tag, args.viewer_policy == "batch")
        wait_until(lambda: sum(h["viewers"] for h in server.health()) >= cameras, 30, "one viewer per camera")
        time.sleep(args.warmup)
        server.probe_window()  # starts the probe's window
        seen = viewers.stats()
        cpu = measure_window(
            {"server": [server.proc.pid], "viewers": [viewers.proc.pid], "sim": run.sim_pids}, args.window
        )
        probed = server.probe_window()
        seen_after = viewers.stats()
        health = server.health()
        rss_kb = status_kb(server.proc.pid, "VmRSS")
        hwm_kb = status_kb(server.proc.pid, "VmHWM")
        stop_process(viewers.proc)
        run.procs.remove(viewers.proc)
        joiners = run_joiners(run, server, args)
    frames = seen_after["frames"] - seen["frames"]
    lat_ms = [v / 1000 for v in probed["latency_us"]]
    gc_ms = [v / 1000 for v in probed["gc_pauses_us"]]
    ingest_fps = statistics.mean(h["fps"] for h in health)
    fps_per_viewer = frames / cpu["wall_s"] / cameras
    return {
        # False when the server did not keep up with real time (starved by other load on the machine):
        # its latency and first-frame figures then measure the machine, not the platform.
        "kept_up": abs(ingest_fps - 25) < 2.5 and abs(fps_per_viewer - 25) < 2.5,
        "cpu_pct": round(cpu["server"], 2),
        "cpu_per_camera_pct": round(cpu["server"] / cameras, 3),
        "rss_mb": round(rss_kb / 1024, 1),
        "rss_peak_mb": round(hwm_kb / 1024, 1),
        "rss_per_camera_mb": round(rss_kb / 1024 / cameras, 2),
        "added_latency_ms": {
            "p50": _r(percentile(lat_ms, 50), 3),
            "p99": _r(percentile(lat_ms, 99), 3),
            "max": _r(max(lat_ms, default=None), 3),
            "samples": len(lat_ms),
        },
        "gc_pauses_ms": {"count": len(gc_ms), "max": _r(max(gc_ms, default=None), 2)},
        "ttff_ms": joiners,
        "viewers": {
            "fps_per_viewer": round(fps_per_viewer, 2),
            "mbit_s_per_viewer": round(
                (seen_after["bytes"] - seen["bytes"]) * 8 / 1e6 / cpu["wall_s"] / cameras, 3
            ),
            "client_cpu_pct": round(cpu["viewers"], 2),
            "errors": seen_after["errors"],
        },
        "ingest_fps_per_camera": round(ingest_fps, 2),
        "sim_cpu_pct": round(cpu["sim"], 2),
        "window_s": round(cpu["wall_s"], 2),
        "loadavg_1m": {"at_start": start_load, "window_max": round(cpu["loadavg_1m"], 2)},
    }


def run_joiners(run: Run, server: Server, args: argparse.Namespace) -> dict[str, Any]:
    paths = [server.ws_path(c) for c in server.cameras]
    spec = run.work / "joiners.json"
    spec.write_text(
        json.dumps(
            {"port": server.port, "paths": paths, "count": args.joiners, "spread": args.spread, "seed": 7}
        )
    )
    out = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--joiners-run", str(spec)],
        capture_output=True,
        check=True,
        timeout=args.spread + 60,
    )
    data = json.loads(out.stdout)
    ttff: list[float] = data["ttff_ms"]
    return {
        "p50": _r(percentile(ttff, 50), 1),
        "p95": _r(percentile(ttff, 95), 1),
        "max": _r(max(ttff, default=None), 1),
        "viewers": len(ttff),
        "first_fragment_keyframe": data["first_fragment_keyframe"],
        "errors": data["errors"],
    }


def start_sink(run: Run, args: argparse.Namespace) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    batch = ["--batch"] if args.viewer_policy == "batch" else []
    proc = run.spawn(
        [sys.executable, str(Path(__file__).resolve()), "--sink", str(port), *batch], stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    if proc.stdout.readline() != b"ready\n":
        raise RuntimeError("the FFmpeg viewers' sink did not start")
    return proc, port


def run_ffmpeg(
    run: Run, cameras: int, args: argparse.Namespace, tag: str, viewer: bool = False
) -> dict[str, Any]:
    """The peer; with `viewer`, each FFmpeg also sends every frame as its own fMP4 fragment over TCP to
    a live viewer (the sink), flushed per frame, as our platform does over the WebSocket."""
    start_load = wait_for_quiet(args)
    out = run.work / f"hls-{tag}"
    procs = []
    sink: subprocess.Popen[bytes] | None = None
    if viewer:
        sink, sink_port = start_sink(run, args)
    for number in range(1, cameras + 1):
        target = out / str(number)
        target.mkdir(parents=True, exist_ok=True)
        cmd = [args.ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-rtsp_transport", "tcp"]
        cmd += ["-i", run.camera_url(number), "-c", "copy", "-f", "hls"]
        cmd += [
            "-hls_time",
            "2",
            "-hls_list_size",
            "6",
            "-hls_flags",
            "delete_segments",
            str(target / "index.m3u8"),
        ]
        if viewer:
            cmd += ["-c", "copy", "-f", "mp4", "-movflags", "frag_every_frame+empty_moov+default_base_moof"]
            cmd += ["-flush_packets", "1", f"tcp://127.0.0.1:{sink_port}?tcp_nodelay=1"]
        procs.append(run.spawn(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    try:
        wait_until(
            lambda: all((out / str(n) / "index.m3u8").exists() for n in range(1, cameras + 1)), 60, "HLS"
        )
        time.sleep(args.warmup)
        dead = [p.args for p in procs if p.poll() is not None]
        if dead:
            raise RuntimeError(f"{len(dead)} ffmpeg processes ended early")
        groups = {"ffmpeg": [p.pid for p in procs], "sim": run.sim_pids}
        if sink is not None:
            groups["viewer"] = [sink.pid]
        cpu = measure_window(groups, args.window)
        rss = [status_kb(p.pid, "VmRSS") for p in procs]
        pss = [pss_kb(p.pid) for p in procs]
    finally:
        for proc in procs:
            stop_process(proc, signal.SIGKILL)
            run.procs.remove(proc)
        if sink is not None:
            stop_process(sink)
            run.procs.remove(sink)
            if sink.stdout is not None:
                sink.stdout.close()
        shutil.rmtree(out, ignore_errors=True)
    return {
        "cpu_pct": round(cpu["ffmpeg"], 2),
        "cpu_per_camera_pct": round(cpu["ffmpeg"] / cameras, 3),
        "rss_mb_each": round(statistics.mean(rss) / 1024, 1),
        "pss_mb_each": round(statistics.mean(pss) / 1024, 1),
        "pss_mb_total": round(sum(pss) / 1024, 1),
        "sim_cpu_pct": round(cpu["sim"], 2),
        "window_s": round(cpu["wall_s"], 2),
        "loadavg_1m": {"at_start": start_load, "window_max": round(cpu["loadavg_1m"], 2)},
    } | ({"viewer_cpu_pct": round(cpu["viewer"], 2)} if sink is not None else {})


def run_floor(run: Run, cameras: int, args: argparse.Namespace) -> dict[str, Any]:
    """The wake-up floor for the same cameras: our RTSP client in one uvloop process that, once every
    camera streams, only counts what it reads (`bench/media_floor.py`'s read mode). What the platform
    and FFmpeg each spend above it is the work they do per frame beyond waking up and reading."""
    from media_floor import start_mode  # it imports this module: not at the top

    start_load = wait_for_quiet(args)
    (proc,) = start_mode(run, "read", cameras, args)
    try:
        time.sleep(args.warmup)
        cpu = measure_window({"floor": [proc.pid]}, args.window)
    finally:
        stop_process(proc)
        run.procs.remove(proc)
        if proc.stdout is not None:
            proc.stdout.close()
    return {
        "cpu_per_camera_pct": round(cpu["floor"] / cameras, 3),
        "window_s": round(cpu["wall_s"], 2),
        "loadavg_1m": {"at_start": start_load, "window_max": round(cpu["loadavg_1m"], 2)},
    }


def run_fanout(run: Run, args: argparse.Namespace) -> dict[str, Any]:
    """CPU of the platform with one camera and 1, then `--fanout` WebSocket viewers."""
    start_load = wait_for_quiet(args)
    with platform(run, 1, "fanout") as server:
        camera = server.cameras[0]
        batch = args.viewer_policy == "batch"
        first = start_viewers(run, server, [server.ws_path(camera)], "fanout-1", batch)
        wait_until(lambda: server.health()[0]["viewers"] >= 1, 30, "the first viewer")
        time.sleep(args.warmup)
        one = measure_window({"server": [server.proc.pid]}, args.window)
        rest = start_viewers(run, server, [server.ws_path(camera)] * (args.fanout - 1), "fanout-rest", batch)
        wait_until(lambda: server.health()[0]["viewers"] >= args.fanout, 60, f"{args.fanout} viewers")
        time.sleep(args.warmup)
        seen = rest.stats()
        many = measure_window(
            {"server": [server.proc.pid], "viewers": [rest.proc.pid, first.proc.pid]}, args.window
        )
        seen_after = rest.stats()
        for viewers in (first, rest):
            stop_process(viewers.proc)
            run.procs.remove(viewers.proc)
    extra = args.fanout - 1
    return {
        "viewers": args.fanout,
        "server_cpu_pct_1_viewer": round(one["server"], 2),
        "server_cpu_pct_all_viewers": round(many["server"], 2),
        "cpu_per_extra_viewer_pct": round((many["server"] - one["server"]) / extra, 4),
        "fps_per_viewer": round((seen_after["frames"] - seen["frames"]) / many["wall_s"] / extra, 2),
        "client_cpu_pct": round(many["viewers"], 2),
        "errors": seen_after["errors"],
        "loadavg_1m": {
            "at_start": start_load,
            "window_max": round(max(one["loadavg_1m"], many["loadavg_1m"]), 2),
        },
    }


def _r(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def summarize(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over rounds of the figures the goals speak of, and ours relative to the peer."""
    ours = [r["ours"] for r in rounds]
    peer = [r["ffmpeg"] for r in rounds if r.get("ffmpeg")]
    summary: dict[str, Any] = {
        "ours_cpu_pct": median([o["cpu_pct"] for o in ours]),
        "ours_rss_mb": median([o["rss_mb"] for o in ours]),
        "ours_cpu_per_camera_pct": median([o["cpu_per_camera_pct"] for o in ours]),
        "ours_kept_up": all(o["kept_up"] for o in ours),
        "ours_rss_per_camera_mb": median([o["rss_per_camera_mb"] for o in ours]),
        "ours_ttff_p95_ms": median([o["ttff_ms"]["p95"] for o in ours]),
        "ours_added_latency_p99_ms": median([o["added_latency_ms"]["p99"] for o in ours]),
    }
    if peer:
        ffmpeg_cpu = median([p["cpu_per_camera_pct"] for p in peer])
        summary["ffmpeg_cpu_pct"] = median([p["cpu_pct"] for p in peer])
        summary["ffmpeg_cpu_per_camera_pct"] = ffmpeg_cpu
        summary["ffmpeg_pss_per_camera_mb"] = median([p["pss_mb_each"] for p in peer])
        ratios = [
            r["ours"]["cpu_per_camera_pct"] / r["ffmpeg"]["cpu_per_camera_pct"]
            for r in rounds
            if r.get("ffmpeg")
        ]
        summary["cpu_ratio_ours_to_ffmpeg"] = _r(median(list(ratios)), 3)

    def cpu(entry: dict[str, Any], side: str) -> float:
        value: float = entry[side]["cpu_per_camera_pct"]
        return value

    def per_round(side: str, figure: Callable[[dict[str, Any]], float]) -> float | None:
        """The median of `figure` over the rounds that ran `side` (None when none did)."""
        return _r(median([figure(r) for r in rounds if r.get(side)]), 3)

    if any(r.get("ffmpeg_viewer") for r in rounds):
        summary["ffmpeg_viewer_cpu_per_camera_pct"] = per_round(
            "ffmpeg_viewer", lambda r: cpu(r, "ffmpeg_viewer")
        )
        summary["cpu_ratio_ours_to_ffmpeg_viewer"] = per_round(
            "ffmpeg_viewer", lambda r: cpu(r, "ours") / cpu(r, "ffmpeg_viewer")
        )
    if any(r.get("floor") for r in rounds):
        summary["floor_cpu_per_camera_pct"] = per_round("floor", lambda r: cpu(r, "floor"))
        summary["ours_above_floor_pct"] = per_round("floor", lambda r: cpu(r, "ours") - cpu(r, "floor"))
        if peer:
            summary["ffmpeg_above_floor_pct"] = per_round(
                "floor", lambda r: cpu(r, "ffmpeg") - cpu(r, "floor")
            )
    return summary


def marginal(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Cost of one more camera between the smallest and largest count: fixed costs (the idle platform,
    the interpreter) cancel out."""
    low, high = runs[0], runs[-1]
    added = high["cameras"] - low["cameras"]
    out: dict[str, Any] = {"between": [low["cameras"], high["cameras"]]}
    for key in ("ours_cpu_pct", "ours_rss_mb", "ffmpeg_cpu_pct"):
        a, b = low["summary"].get(key), high["summary"].get(key)
        if a is not None and b is not None:
            out[key.replace("_pct", "_per_added_camera_pct").replace("_mb", "_per_added_camera_mb")] = round(
                (b - a) / added, 3
            )
    return out


def machine() -> dict[str, Any]:
    version = subprocess.run(["ffmpeg", "-version"], capture_output=True, text=True, check=False).stdout
    return {
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg(),
        "python": sys.version.split()[0],
        "ffmpeg": version.split("\n", 1)[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cameras", default="8,32", help="comma-separated camera counts (at most 59)")
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "var" / "bench-cache")
    parser.add_argument("--warmup", type=float, default=10.0, help="seconds before each window")
    parser.add_argument("--window", type=float, default=30.0, help="seconds of CPU measurement")
    parser.add_argument("--rounds", type=int, default=1, help="ours/ffmpeg pairs per camera count")
    parser.add_argument("--joiners", type=int, default=50)
    parser.add_argument("--spread", type=float, default=10.0, help="joiners arrive over this many seconds")
    parser.add_argument("--fanout", type=int, default=200, help="viewers on one camera; 0 skips")
    parser.add_argument("--quiet-load", type=float, default=3.0, help="wait for a 1-min load below this")
    parser.add_argument("--quiet-wait", type=float, default=120.0, help="...but at most this long per phase")
    parser.add_argument("--sims", type=int, default=8, help="simulator processes (1: all frames in step)")
    parser.add_argument(
        "--viewer-policy",
        choices=("batch", "normal"),
        default="batch",
        help="scheduling of the steady viewers' process: batch (never preempts the server) or normal",
    )
    parser.add_argument("--ffmpeg", default="/usr/bin/ffmpeg")
    parser.add_argument("--no-ffmpeg", action="store_true")
    parser.add_argument(
        "--no-floor", action="store_true", help="skip the wake-up floor (a client that only reads)"
    )
    parser.add_argument(
        "--peer-viewer",
        action="store_true",
        help="also run FFmpeg with HLS plus a live per-frame fMP4 viewer over TCP (like for like with ours)",
    )
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--sink", help=argparse.SUPPRESS)
    parser.add_argument("--batch", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--viewers", help=argparse.SUPPRESS)
    parser.add_argument("--joiners-run", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        return serve_main(args.serve)
    if args.viewers:
        return viewers_main(args.viewers)
    if args.sink:
        return sink_main(args.sink, args.batch)
    if args.joiners_run:
        return joiners_main(args.joiners_run)

    counts = [int(n) for n in args.cameras.split(",") if n]
    if not counts or max(counts) > 59 or min(counts) < 1:
        parser.error("--cameras takes counts from 1 to 59")
    peers = [("ffmpeg", args.no_ffmpeg), ("floor", args.no_floor), ("ffmpeg_viewer", not args.peer_viewer)]
    started = time.monotonic()
    result: dict[str, Any] = {"machine_before": machine(), "goals": GOALS}
    result["config"] = {
        k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if v is not None
    }
    result["encode_s"] = round(ensure_loops(args.data_dir, max(counts), args.size), 1)
    with tempfile.TemporaryDirectory(prefix="bench-media-", dir=ROOT / "var") as work:
        run = Run(Path(work), args.data_dir, args.size)
        old_term = signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
        try:
            start_sims(run, max(counts), args.sims)
            result["runs"] = []
            sides = ["ours"] + [side for side, skip in peers if not skip]
            for cameras in counts:
                rounds = []
                for index in range(args.rounds):
                    entry: dict[str, Any] = {}
                    tag = f"{cameras}-{index}"
                    order = sides[index % len(sides) :] + sides[: index % len(sides)]
                    for side in order:
                        if side == "ours":
                            entry[side] = run_ours(run, cameras, args, tag)
                        elif side == "ffmpeg":
                            entry[side] = run_ffmpeg(run, cameras, args, tag)
                        elif side == "floor":
                            entry[side] = run_floor(run, cameras, args)
                        else:
                            entry[side] = run_ffmpeg(run, cameras, args, f"{tag}-viewer", viewer=True)
                    rounds.append(entry)
                result["runs"].append({"cameras": cameras, "summary": summarize(rounds), "rounds": rounds})
            if len(result["runs"]) > 1:
                result["marginal"] = marginal(result["runs"])
            if args.fanout > 1:
                result["fanout"] = run_fanout(run, args)
        finally:
            run.stop_all()
            signal.signal(signal.SIGTERM, old_term)
    result["machine_after"] = machine()
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
