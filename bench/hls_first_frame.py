"""Time to the first frame for a plain HLS player (FFmpeg) on cameras nobody has opened (issue 15's goal:
p95 <= 2.5 s). Prints one JSON object.

A whole node in this process (`create_app` under uvicorn, media plane, no recording) on a fresh seeded
SQLite database, `--cameras` of its cameras enabled and pulled from `xueliang sim` (a child process,
640x360 25 fps, GOP 2 s). Per camera, once, in random order: the viewer asks for its stream URLs
(POST /cameras/{id}/open), then FFmpeg (PyAV's libavformat HLS demuxer, which reads only `#EXTINF`
segments and ignores the LL-HLS tags) opens `index.m3u8` without `_HLS_msn`/`_HLS_part` and decodes
the first video frame. Measured: the open request's start -> the first decoded frame. Nobody had
asked that camera for HLS before, so the figure holds making its first segment (from the GOP cache).

    .venv/bin/python bench/hls_first_frame.py [--cameras 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform as host_platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def first_frame(url: str) -> int:
    """FFmpeg opens the playlist and decodes until it has a picture; returns the frame's width."""
    import av

    with av.open(url, options={"rw_timeout": "15000000"}, timeout=15) as container:
        for frame in container.decode(video=0):
            return int(frame.width)
    raise RuntimeError("no frame")


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    import httpx
    import uvicorn
    from sqlalchemy import select, update

    from xueliang.alarms.config import AlarmSettings
    from xueliang.app import create_app
    from xueliang.cameras.models import Camera
    from xueliang.config import Settings
    from xueliang.media.config import MediaSettings
    from xueliang.recordings.config import RecordingSettings
    from xueliang.seed.demo import DEMO_PASSWORD
    from xueliang.server import prepare_demo

    tmp = Path(tempfile.mkdtemp(prefix="hls-first-"))
    sim_port = args.sim_port
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp / 'bench.db'}",
        data_dir=tmp,
        secret_key="bench-secret-" + "h" * 32,
        sim_rtsp_base=f"rtsp://127.0.0.1:{sim_port}",
        media=MediaSettings(rtsp_enabled=False, rtsp_port=0),
        recording=RecordingSettings(enabled=False),
        alarms=AlarmSettings(mqtt_enabled=False, pg_bridge=False),
    )
    await prepare_demo(settings)
    from xueliang.core.db import Database

    db = Database(settings.resolved_database_url())
    async with db.session() as s:
        ids = list((await s.scalars(select(Camera.id).order_by(Camera.id))).all())
        chosen = ids[: args.cameras]
        await s.execute(update(Camera).where(Camera.id.not_in(chosen)).values(enabled=False))
        await s.commit()
    await db.dispose()
    sim = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "xueliang", "sim", "--cameras", str(len(ids)), "--port", str(sim_port),
        "--data-dir", str(ROOT / "var"), cwd=ROOT,
    )  # fmt: skip
    app = create_app(settings, migrate_on_start=False)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    times: list[float] = []
    try:
        async with app.router.lifespan_context(app):
            serving = asyncio.create_task(server.serve())
            for _ in range(1000):
                if server.started:
                    break
                await asyncio.sleep(0.02)
            port = server.servers[0].sockets[0].getsockname()[1]
            base = f"http://127.0.0.1:{port}"
            http = httpx.AsyncClient(base_url=base, timeout=30)
            r = await http.post("/api/v1/auth/login", json={"username": "admin", "password": DEMO_PASSWORD})
            http.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            deadline = time.monotonic() + 600  # the first run of the simulator encodes its loops
            while True:
                health = (await http.get("/api/v1/cameras/health")).json()
                states = {h["camera_id"]: h["status"] for h in health}
                if all(states.get(i) == "online" for i in chosen):
                    break
                assert time.monotonic() < deadline, "cameras did not come online"
                await asyncio.sleep(0.5)
            await asyncio.sleep(args.settle)  # every camera's GOP cache holds a whole GOP
            order = list(chosen)
            random.Random(7).shuffle(order)
            for camera in order:
                start = time.perf_counter()
                opened = (await http.post(f"/api/v1/cameras/{camera}/open")).json()
                width = await asyncio.to_thread(first_frame, base + opened["streams"]["hls"])
                times.append(time.perf_counter() - start)
                assert width > 0
            await http.aclose()
            server.should_exit = True
            await serving
    finally:
        sim.terminate()
        await asyncio.wait_for(sim.wait(), 15)
    ms = [t * 1000 for t in times]
    return {
        "cameras": len(ms),
        "player": "FFmpeg (PyAV libavformat HLS demuxer), plain index.m3u8",
        "first_frame_ms_p50": round(statistics.median(ms), 1),
        "first_frame_ms_p95": round(percentile(ms, 0.95), 1),
        "first_frame_ms_max": round(max(ms), 1),
        "goal_p95_ms": 2500,
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": host_platform.python_version(),
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=20)
    parser.add_argument("--sim-port", type=int, default=18654)
    parser.add_argument("--settle", type=float, default=3.0, help="seconds after all are online")
    print(json.dumps(asyncio.run(bench(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
