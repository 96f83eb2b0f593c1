"""What a masked variant costs (issue 14): decode → fill the mask polygons → encode with libx264, per
camera, the work media/mask does in one thread while someone who must see a camera masked watches it.
Prints one JSON object (not a test).

Per source size (360p and 720p, H.264 at 25 fps, a textured picture with a moving block, GOP 2 s), a
10 s clip is pushed through `MaskTranscoder` as fast as it goes, three times: decode only, decode and
fill, and the whole path (decode, fill, scale to the 640 px sub-stream size, encode: preset ultrafast,
tune zerolatency, CRF 28). CPU is the thread's own CPU time. Reported: frames per second one core
sustains, and the share of one core a camera at 25 fps takes (median of `--repeat` runs).

    .venv/bin/python bench/mask_cpu.py [--seconds 10] [--repeat 3] [--sizes 640x360,1280x720]"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from fractions import Fraction
from typing import Any

import av
import numpy as np

from xueliang.media.codecs.annexb import split_annexb
from xueliang.media.frames import AccessUnit, Codec, CodecParams
from xueliang.media.mask.raster import normalise
from xueliang.media.mask.transcode import EncodeConfig, MaskTranscoder, fill

FPS = 25
# Two areas: a window (a quadrilateral) and a yard (a hexagon), about 15 % of the picture together.
MASKS = normalise(
    [
        [[0.62, 0.18], [0.8, 0.2], [0.79, 0.42], [0.61, 0.4]],
        [[0.05, 0.6], [0.2, 0.55], [0.35, 0.62], [0.33, 0.85], [0.18, 0.9], [0.06, 0.82]],
    ]
)


def clip(width: int, height: int, frames: int, gop: int = 2 * FPS) -> list[AccessUnit]:
    enc: Any = av.CodecContext.create("libx264", "w")
    enc.width, enc.height, enc.pix_fmt = width, height, "yuv420p"
    enc.time_base, enc.framerate = Fraction(1, FPS), Fraction(FPS)
    keyint = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:repeat-headers=1"
    enc.options = {"preset": "veryfast", "crf": "23", "x264-params": keyint}
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:height, 0:width]
    texture = (96 + 60 * np.sin(xx / 23.0) * np.cos(yy / 17.0) + rng.normal(0, 6, (height, width))).clip(
        0, 255
    )
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
    units: list[AccessUnit] = []
    params: CodecParams | None = None
    for packet in packets:
        nalus = split_annexb(bytes(packet))
        if packet.is_keyframe or params is None:
            by_type = {n[0] & 0x1F: n for n in nalus}
            params = CodecParams(Codec.h264, sps=by_type[7], pps=by_type[8], width=width, height=height)
        units.append(AccessUnit(nalus, 900_000 + int(packet.pts) * 3600, bool(packet.is_keyframe), params))
    return units


def decode_only(units: list[AccessUnit], with_fill: bool) -> float:
    """Thread CPU seconds to decode (and fill) every unit, the transcoder's first two steps."""
    dec: Any = av.CodecContext.create("h264", "r")
    dec.thread_count = 1
    started = time.thread_time()
    for au in units:
        nalus = [au.params.sps, au.params.pps, *au.nalus] if au.keyframe else au.nalus
        for frame in dec.decode(av.Packet(b"".join(b"\x00\x00\x00\x01" + n for n in nalus))):
            if with_fill:
                fill(frame, MASKS)
    return time.thread_time() - started


def whole(units: list[AccessUnit]) -> tuple[float, int, int]:
    """Thread CPU seconds for the whole path, frames out, bytes out."""
    transcoder = MaskTranscoder(lambda: MASKS, EncodeConfig())
    out = 0
    size = 0
    started = time.thread_time()
    for au in units:
        for unit in transcoder.push(au):
            out += 1
            size += sum(len(n) for n in unit.nalus)
    return time.thread_time() - started, out, size


def bench(width: int, height: int, seconds: float, repeat: int) -> dict[str, Any]:
    units = clip(width, height, int(seconds * FPS))
    frames = len(units)
    runs: dict[str, list[float]] = {"decode": [], "decode_fill": [], "whole": []}
    out = size = 0
    for _ in range(repeat):
        runs["decode"].append(decode_only(units, False))
        runs["decode_fill"].append(decode_only(units, True))
        cpu, out, size = whole(units)
        runs["whole"].append(cpu)
    med = {k: statistics.median(v) for k, v in runs.items()}
    return {
        "source": f"{width}x{height}",
        "frames": frames,
        "frames_out": out,
        "output_kbit_s": round(size * 8 / seconds / 1000, 1),
        "cpu_ms_per_frame": {k: round(v / frames * 1000, 3) for k, v in med.items()},
        "fps_one_core": round(frames / med["whole"], 1),
        "core_percent_per_camera_at_25fps": round(med["whole"] / frames * FPS * 100, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sizes", default="640x360,1280x720")
    args = parser.parse_args()
    sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
    results = [bench(w, h, args.seconds, args.repeat) for w, h in sizes]
    machine = platform.processor() or platform.machine()
    report = {
        "machine": machine,
        "python": platform.python_version(),
        "av": av.__version__,
        "results": results,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
