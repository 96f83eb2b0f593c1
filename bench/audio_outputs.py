"""CPU per camera of a camera's sound delivered, against the same camera with its sound off, in the same
run: the engine pulling H.264 + AAC from Debian's GStreamer RTSP server, the live gateway on uvicorn in
this process, each camera watched by one video WebSocket client and recorded; with sound on, each also
has one sound WebSocket listener (live/audio.py) and its sound recorded beside the video (.m4a).
The clients run in this process too (their cost is in both phases; the sound phase has one more socket
per camera). Prints one JSON object (not a test).

    .venv/bin/python bench/audio_outputs.py [--cameras 4] [--seconds 10] [--repeat 3]"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import websockets
from fastapi import FastAPI
from tests.support import gst_camera
from tests.support.media import serve
from tests.support.waits import wait_until

from xueliang.media.engine import CameraSpec, MediaEngine
from xueliang.media.live import LiveGateway
from xueliang.media.recording.index import IndexOp, OpenSegment
from xueliang.media.recording.recorder import Recorder
from xueliang.media.rtsp.client import RtspSource
from xueliang.media.sources import FrameSession
from xueliang.media.tokens import StreamClaims

_VIDEO = gst_camera._VIDEO.replace("width=320,height=180", "width=640,height=360")
PICTURE = (
    f"{_VIDEO} ! x264enc speed-preset=superfast bframes=0 key-int-max=25 bitrate=1000 "
    "! video/x-h264,profile=main ! rtph264pay name=pay0 pt=96 config-interval=-1"
)
# Sound off: the node does not SETUP the audio track, so the camera is served without one (GStreamer's
# shared media answers 503 to further clients of a two-track mount whose first client took one track).
MOUNTS = {"off": PICTURE, "on": f"{PICTURE} {gst_camera.AAC}"}


class MemoryIndex:
    def __init__(self) -> None:
        self.rows = 0

    async def recover(self) -> None:
        pass

    async def apply(self, ops: Sequence[IndexOp]) -> dict[int, int]:
        ids = {}
        for op in ops:
            if isinstance(op, OpenSegment):
                self.rows += 1
                ids[op.key] = self.rows
        return ids


def claims(token: str, camera_id: int) -> StreamClaims:
    return StreamClaims(1, camera_id, "live", int(time.time()) + 600, "n")


async def drain(url: str, counts: dict[str, int], key: str) -> None:
    async with websockets.connect(url, max_size=None, compression=None) as ws:
        async for message in ws:
            if isinstance(message, bytes):
                counts[key] += 1


async def phase(url: str, sound: bool, cameras: int, seconds: float) -> dict[str, float]:
    sources = {i: RtspSource(url, audio=sound) for i in range(1, cameras + 1)}

    def pull(spec: CameraSpec) -> FrameSession:
        return sources[spec.camera_id].open()

    engine = MediaEngine(pull)
    gateway = LiveGateway(engine, claims)
    app = FastAPI()
    app.include_router(gateway.router)
    options = {"audio": True} if sound else {}
    counts = {"video": 0, "sound": 0}
    with tempfile.TemporaryDirectory() as root:
        recorder = Recorder(MemoryIndex(), Path(root))
        await engine.start([])
        await recorder.start()
        for i in sources:  # one by one: GStreamer's server answers 503 to clients joining a media at once
            engine.add_camera(CameraSpec(i, url, options=dict(options)))
            await wait_until(lambda i=i: engine.channel(i).init is not None, within=60, what="a camera")
        try:
            for i in sources:
                recorder.attach(i, engine.channel(i))
                channel = engine.audio(i)
                if channel is not None:
                    recorder.attach_audio(i, channel)
            async with serve(app) as host:
                clients = [
                    asyncio.create_task(drain(f"ws://{host}/api/v1/live/{i}/ws?token=t", counts, "video"))
                    for i in sources
                ]
                if sound:
                    clients += [
                        asyncio.create_task(
                            drain(f"ws://{host}/api/v1/live/{i}/audio/ws?token=t", counts, "sound")
                        )
                        for i in sources
                    ]
                await asyncio.sleep(3.0)  # connect, first keyframe: not measured
                counts["video"] = counts["sound"] = 0
                cpu0, wall0 = time.process_time(), time.monotonic()
                await asyncio.sleep(seconds)
                cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
                fps, sound_fps = counts["video"] / wall / cameras, counts["sound"] / wall / cameras
                for task in clients:
                    task.cancel()
                await asyncio.gather(*clients, return_exceptions=True)
        finally:
            await recorder.stop()
            await gateway.aclose()
            await engine.stop()
    await asyncio.sleep(1.0)  # let the server tear the shared media down before the next phase
    return {
        "cpu_pct_per_camera": 100 * cpu / wall / cameras,
        "video_fragments_per_s": fps,
        "sound_fragments_per_s": sound_fps,
    }


async def main(args: argparse.Namespace) -> None:
    runs: dict[str, list[dict[str, float]]] = {"sound_off": [], "sound_on": []}
    with gst_camera.gst_cameras(MOUNTS) as urls:
        for _ in range(args.repeat):
            runs["sound_off"].append(await phase(urls["off"], False, args.cameras, args.seconds))
            runs["sound_on"].append(await phase(urls["on"], True, args.cameras, args.seconds))
    base = statistics.median(r["cpu_pct_per_camera"] for r in runs["sound_off"])
    results = {}
    for kind, got in runs.items():
        cpu = statistics.median(r["cpu_pct_per_camera"] for r in got)
        results[kind] = {
            "cpu_pct_per_camera": round(cpu, 3),
            "vs_sound_off": round(cpu / base, 2) if base else None,
            "video_fragments_per_s": round(statistics.median(r["video_fragments_per_s"] for r in got), 1),
            "sound_fragments_per_s": round(statistics.median(r["sound_fragments_per_s"] for r in got), 2),
            "runs": [round(r["cpu_pct_per_camera"], 3) for r in got],
        }
    print(json.dumps({"cameras": args.cameras, "seconds": args.seconds, "repeat": args.repeat,
                      "results": results}, indent=2))  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
