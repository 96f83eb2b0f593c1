"""Video through the parent (issue 18): CPU per camera relayed from a child, against pulling the camera
directly, measured in the same run. Prints one JSON object (not a test).

Two real nodes (the township 清溪镇 and the village 上坪村: tests/federation/video/nodes.py, each with
its own SQLite file, node key and nats-server), each under uvicorn in a thread of this process; a
simulator (`xueliang sim`, 640x360, 25 fps, about 1 Mbit/s, GOP 2 s) in its own process. The village
pulls N of its cameras from the simulator throughout. One live WebSocket viewer per camera at the
township, read by this process's main thread (not counted):

- direct: the township's rows for the N cameras point at the simulator (RTSP, our client);
- relayed: the same rows as `node://<village>/<id>`: the township asks the village over the control
  link, the village opens a data WebSocket and pushes its channel's fragments.

CPU is each node's server thread (utime + stime of /proc/self/task/<tid>/stat) over `--window`
seconds after `--warmup`; the village's cost of serving the relay is its CPU while relaying minus its
CPU while it only pulled (the direct phase). Per camera, in % of one core.

    .venv/bin/python bench/federation_video.py [--cameras 4] [--warmup 5] [--window 20] [--rounds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import update
from websockets.asyncio.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the test suite's node harness

from tests.federation.video import nodes
from tests.federation.video.nodes import Federation, FedNode
from tests.support.net import free_port
from tests.support.node import Simulator
from tests.support.sim import SIM_CAMERAS
from tests.support.waits import wait_for

from xueliang.cameras.models import Camera
from xueliang.media.plane import MediaPlane

TICKS = os.sysconf("SC_CLK_TCK")


def thread_cpu(node: FedNode) -> float:
    """Seconds of CPU the node's server thread used so far."""
    tid = node.server.thread.native_id
    fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def point(fed: Federation, sim_port: int, relayed: bool) -> None:
    """The township's rows for the cameras: the simulator directly, or the village (`node://`)."""
    town, village = fed["township"], fed["village"]

    async def rows(session: Any) -> None:
        for number, camera_id in fed.camera_ids.items():
            url = (
                f"node://{village.gb_id}/{camera_id}"
                if relayed
                else f"rtsp://127.0.0.1:{sim_port}/cam/{number}"
            )
            await session.execute(update(Camera).where(Camera.id == camera_id).values(stream_url=url))

    town.write(rows)
    plane = town.ctx.services.require(MediaPlane)
    for camera_id in fed.camera_ids.values():
        town.run(plane.sync_camera(camera_id))


async def measure(fed: Federation, warmup: float, window: float) -> dict[str, float]:
    """One viewer per camera at the township; CPU of both nodes over the window."""
    town, village = fed["township"], fed["village"]
    client = town.client("op-qingxi")
    urls = []
    for camera_id in fed.camera_ids.values():
        r = client.post(f"/api/v1/cameras/{camera_id}/open")
        r.raise_for_status()
        urls.append(town.url.replace("http://", "ws://") + r.json()["streams"]["ws"])
    client.close()
    frames = [0] * len(urls)
    sockets = [await connect(u, max_size=None, close_timeout=1) for u in urls]

    async def read(i: int) -> None:
        async for message in sockets[i]:
            if isinstance(message, bytes):
                frames[i] += 1

    readers = [asyncio.create_task(read(i)) for i in range(len(sockets))]
    await asyncio.sleep(warmup)
    if min(frames) == 0:
        raise RuntimeError(f"a viewer got nothing: {frames}")
    cpu0 = (thread_cpu(town), thread_cpu(village))
    seen0 = sum(frames)
    await asyncio.sleep(window)
    cpu1 = (thread_cpu(town), thread_cpu(village))
    fps = (sum(frames) - seen0) / window / len(urls)
    for task in readers:
        task.cancel()
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    n = len(urls)
    return {
        "township_pct_per_camera": round(100 * (cpu1[0] - cpu0[0]) / window / n, 2),
        "village_pct_per_camera": round(100 * (cpu1[1] - cpu0[1]) / window / n, 2),
        "viewer_fps": round(fps, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=SIM_CAMERAS, help=f"at most {SIM_CAMERAS}")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--window", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="xl-fed-video-"))
    sim = Simulator(free_port(), work / "sim.log")
    sim.start()
    try:
        numbers = list(range(1, min(args.cameras, SIM_CAMERAS) + 1))  # the simulator's, in 上坪村
        fed = nodes.start(work / "run", sim.port, ("township", "village"), numbers, linger=1.0)
        try:
            wait_for(lambda: fed["village"].gb_id in fed["township"].links.links, 30, "the video link")
            rounds: list[dict[str, Any]] = []
            for _ in range(args.rounds):
                point(fed, sim.port, relayed=False)
                direct = asyncio.run(measure(fed, args.warmup, args.window))
                point(fed, sim.port, relayed=True)
                relayed = asyncio.run(measure(fed, args.warmup, args.window))
                rounds.append({"direct": direct, "relayed": relayed})
        finally:
            nodes.stop(fed)
    finally:
        sim.stop()

    def med(phase: str, key: str) -> float:
        return round(statistics.median(r[phase][key] for r in rounds), 2)

    village_extra = med("relayed", "village_pct_per_camera") - med("direct", "village_pct_per_camera")
    print(
        json.dumps(
            {
                "bench": "federation_video",
                "cameras": len(numbers),
                "stream": "640x360 25 fps ~1 Mbit/s, GOP 2 s",
                "window_s": args.window,
                "rounds": rounds,
                "parent_direct_pct_per_camera": med("direct", "township_pct_per_camera"),
                "parent_relayed_pct_per_camera": med("relayed", "township_pct_per_camera"),
                "child_relay_extra_pct_per_camera": round(village_extra, 2),
                "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
