"""CPU per camera of the node's live path for the cameras of issue 15, against the plain H.264 camera in
the same run: H.264 with two B-frames (decode times derived at ingest, composition offsets in every
fragment), H.264 with an AAC track carried as it is (depacketized, cut into its own fMP4 fragments),
H.264 with G.711 A-law pulled but not wanted (no transcoding: frames dropped), and the same G.711 made
into AAC for a listener (PyAV in a worker thread). Prints one JSON object (not a test).

The cameras are Debian's GStreamer RTSP server encoding live (x264 superfast, 25 fps, keyframe every
second; tests/support/gst_camera.py), outside this process. Each phase pulls `--cameras` RTSP sessions
of one kind over TCP into channels with one draining viewer each (what a live WebSocket viewer costs,
less the socket), for `--seconds`; CPU is this process's user+system time (all its threads, the
transcoder's included) over that wall time, per camera, in % of one core. Phases alternate kinds and
repeat `--repeat` times; the median is reported. Compare kinds within one run: the machine's noise is
larger between runs.

    .venv/bin/python bench/bframes_audio.py [--cameras 4] [--seconds 10] [--repeat 3] [--size 640x360]"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support import gst_camera

from xueliang.media.audio.aac import FRAME_SAMPLES
from xueliang.media.audio.fmp4 import AudioFragmentWriter, build_audio_init
from xueliang.media.audio.frames import AudioFrame
from xueliang.media.audio.transcode import OnDemandTranscoder
from xueliang.media.channel import Channel, Fragment
from xueliang.media.errors import MediaError
from xueliang.media.rtsp.client import RtspSource

KINDS = ("h264", "h264_bframes", "aac_carried", "pcma_unwanted", "pcma_to_aac")


def mounts(size: str) -> dict[str, str]:
    width, height = size.split("x")
    video = gst_camera._VIDEO.replace("width=320,height=180", f"width={width},height={height}")
    enc = "x264enc speed-preset=superfast key-int-max=25 bitrate=1000"
    pay = "video/x-h264,profile=main ! rtph264pay name=pay0 pt=96 config-interval=-1"
    plain = f"{video} ! {enc} bframes=0 ! {pay}"
    return {
        "h264": plain,
        "h264_bframes": f"{video} ! {enc} bframes=2 b-adapt=false ! {pay}",
        "aac": f"{plain} {gst_camera.AAC}",
        "pcma": f"{plain} {gst_camera.PCMA}",
    }


class AudioOut:
    """What a listener of the camera's sound costs the node: AAC frames cut into fMP4 fragments of five
    (G.711 made into AAC first when `transcode`)."""

    def __init__(self, transcode: bool) -> None:
        self.transcode = transcode
        self.writer = AudioFragmentWriter()
        self.run: list[AudioFrame] = []
        self.bytes = 0
        self.frames = 0
        self.queue: asyncio.Queue[AudioFrame] = asyncio.Queue()
        self.transcoder: OnDemandTranscoder | None = None

    def sink(self, frame: AudioFrame) -> None:
        if self.transcode:
            self.queue.put_nowait(frame)
        else:
            self.take(frame)

    def take(self, frame: AudioFrame) -> None:
        if self.frames == 0:
            self.bytes += len(build_audio_init(frame.config).data)
        self.frames += 1
        self.run.append(frame)
        if len(self.run) == 5:
            fragment = self.writer.write(self.run[0].pts, [f.data for f in self.run], FRAME_SAMPLES)
            self.bytes += len(fragment)
            self.run = []

    async def worker(self) -> None:
        while True:
            frame = await self.queue.get()
            if self.transcoder is None:
                self.transcoder = OnDemandTranscoder(frame.config)
                self.transcoder.acquire()
            for made in await self.transcoder.push(frame):
                self.take(made)


async def camera(url: str, audio: str, stop: asyncio.Event, counts: dict[str, int]) -> None:
    """One camera's session into a channel with one draining viewer, until `stop`."""
    channel = Channel(0)
    viewer = channel.open_viewer(max_queue=400)
    out = AudioOut(transcode=audio == "transcode") if audio in ("carry", "transcode") else None
    source = RtspSource(url, audio=audio != "none")
    tasks: list[asyncio.Task[None]] = []

    async def drain() -> None:
        while True:
            item = await viewer.next()
            if isinstance(item, Fragment):
                counts["fragments"] += 1

    for attempt in range(5):  # GStreamer's server may drop a client joining a shared media mid-setup
        session = source.open()
        try:
            await session.start()
            break
        except MediaError:
            await session.close()
            if attempt == 4:
                raise
            await asyncio.sleep(0.5)
    async with session:
        if out is not None:
            session.audio_sink = out.sink
            if out.transcode:
                tasks.append(asyncio.create_task(out.worker()))
        elif audio == "drop":
            session.audio_sink = lambda frame: None
        tasks.append(asyncio.create_task(drain()))
        pump = asyncio.create_task(session.pump(channel.push))
        await stop.wait()
        for task in [*tasks, pump]:
            task.cancel()
        await asyncio.gather(*tasks, pump, return_exceptions=True)
    if out is not None:
        counts["audio_frames"] += out.frames
        if out.transcoder is not None:
            out.transcoder.release()


PLAN: dict[str, tuple[str, str]] = {  # kind -> (mount, audio handling)
    "h264": ("h264", "none"),
    "h264_bframes": ("h264_bframes", "none"),
    "aac_carried": ("aac", "carry"),
    "pcma_unwanted": ("pcma", "drop"),
    "pcma_to_aac": ("pcma", "transcode"),
}


async def phase(url: str, audio: str, cameras: int, seconds: float) -> dict[str, float]:
    stop = asyncio.Event()
    counts = {"fragments": 0, "audio_frames": 0}
    tasks = [asyncio.create_task(camera(url, audio, stop, counts)) for _ in range(cameras)]
    await asyncio.sleep(2.0)  # connect, first keyframe, transcoder start: not measured
    counts["fragments"] = 0
    cpu0, wall0 = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu0, time.monotonic() - wall0
    fps = counts["fragments"] / wall / cameras
    stop.set()
    await asyncio.gather(*tasks)
    await asyncio.sleep(1.0)  # let the server tear the shared media down before the next phase
    return {"cpu_pct_per_camera": 100 * cpu / wall / cameras, "fps_per_camera": fps}


async def main(args: argparse.Namespace, report: Callable[[dict[str, object]], None]) -> None:
    results: dict[str, list[dict[str, float]]] = {kind: [] for kind in KINDS}
    with gst_camera.gst_cameras(mounts(args.size)) as urls:
        for _ in range(args.repeat):
            for kind in KINDS:
                mount, audio = PLAN[kind]
                results[kind].append(await phase(urls[mount], audio, args.cameras, args.seconds))
    summary: dict[str, object] = {}
    base = statistics.median(r["cpu_pct_per_camera"] for r in results["h264"])
    for kind, runs in results.items():
        cpu = statistics.median(r["cpu_pct_per_camera"] for r in runs)
        summary[kind] = {
            "cpu_pct_per_camera": round(cpu, 3),
            "vs_h264": round(cpu / base, 2) if base else None,
            "fps_per_camera": round(statistics.median(r["fps_per_camera"] for r in runs), 1),
            "runs": [round(r["cpu_pct_per_camera"], 3) for r in runs],
        }
    report(
        {
            "cameras_per_phase": args.cameras,
            "seconds": args.seconds,
            "repeat": args.repeat,
            "size": args.size,
            "results": summary,
        }
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--cameras", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--size", default="640x360")
    arguments = parser.parse_args()
    asyncio.run(main(arguments, lambda data: print(json.dumps(data, indent=2))))
