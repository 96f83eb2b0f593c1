"""Encoding and caching the simulator's loops: each camera gets its own short H.264 loop (its marker
is in the pixels), encoded once with libx264 through PyAV and cached under `data_dir/sim/`; later runs
only read the file back. Loops are seamless: the motion period equals the loop length and every GOP
starts with an IDR, so frame 0 may follow the last frame."""

from __future__ import annotations

import logging
import math
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import numpy.typing as npt

from xueliang.media.codecs import h264
from xueliang.media.codecs.annexb import split_annexb
from xueliang.media.codecs.params import make_params
from xueliang.media.errors import MediaProtocolError
from xueliang.media.frames import Codec, CodecParams
from xueliang.media.sim.marker import draw_marker, region

log = logging.getLogger(__name__)

RENDER_VERSION = 1  # bump when the picture changes, so cached loops are re-encoded


@dataclass(frozen=True, slots=True)
class LoopSpec:
    """What a loop looks like on the wire: size, rate, length, GOP, bitrate, H.264 profile."""

    width: int = 640
    height: int = 360
    fps: int = 25
    seconds: int = 4
    gop_seconds: int = 2
    bitrate: int = 0  # 0: 1 Mbit/s at 360p, 2 Mbit/s at 720p (constant bitrate, like most IP cameras)
    profile: str = "high"

    @property
    def frames(self) -> int:
        return self.fps * self.seconds

    @property
    def gop(self) -> int:
        return self.fps * self.gop_seconds

    @property
    def bits_per_second(self) -> int:
        if self.bitrate:
            return self.bitrate
        return round(1_000_000 * min(2.0, math.sqrt(self.width * self.height / (640 * 360))))

    def filename(self, number: int) -> str:
        return (
            f"h264_{self.width}x{self.height}_{self.fps}fps_{self.seconds}s_g{self.gop}_"
            f"{self.bits_per_second // 1000}k_{self.profile}_v{RENDER_VERSION}_cam{number:05d}.h264"
        )


@dataclass(slots=True)
class EncodedLoop:
    """A loop ready to replay: parameter sets and each frame's NAL units (no AUDs)."""

    params: CodecParams
    frames: list[list[bytes]]
    keyframes: list[bool]
    fps: int


def _hue_rgb(hue: float) -> npt.NDArray[np.float32]:
    k = (np.array([5.0, 3.0, 1.0]) + hue / 60.0) % 6
    return np.asarray(1 - np.clip(np.minimum(k, 4 - k), 0, 1), dtype=np.float32)


def render_frames(number: int, spec: LoopSpec) -> Iterator[npt.NDArray[np.uint8]]:
    """The loop's RGB pictures: a static tinted pattern, moving discs, a sweeping bar, a drifting
    textured band (so the encoder has detail to spend bits on) and the identity marker. All motion
    has the loop's period, so the loop is seamless."""
    w, h = spec.width, spec.height
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    tint = _hue_rgb((number * 47) % 360)
    shade = 0.35 + 0.4 * (xx / w)[..., None] * (0.6 + 0.4 * (yy / h)[..., None])
    stripes = (((xx + yy) // max(8, h // 12)) % 2)[..., None] * 0.12
    background = np.clip((shade + stripes) * (0.4 + 0.6 * tint) * 255, 0, 255).astype(np.uint8)
    mx0, my0, mx1, my1 = region(h)
    rng = np.random.default_rng(number)
    # (radius, amplitude, phase offset, speed, colour) of each moving disc
    discs = [
        (
            rng.uniform(0.05, 0.12) * h,
            rng.uniform(0.2, 0.45),
            rng.uniform(0, 2 * math.pi),
            1 + i % 2,
            _hue_rgb(rng.uniform(0, 360)),
        )
        for i in range(3)
    ]
    band_top = h - max(8, h // 6)
    texture = rng.integers(40, 216, size=(h - band_top, w // 8, 1), dtype=np.uint8).repeat(8, axis=1)
    n = spec.frames
    cx, cy = w * 0.75, h * 0.72
    radius = h * 0.2
    for i in range(n):
        phase = 2 * math.pi * i / n
        frame = background.copy()
        # a textured band drifting right by one picture width per loop
        frame[band_top:, : texture.shape[1]] = np.roll(texture, (i * texture.shape[1]) // n, axis=1)
        for size, amp, offset, speed, color in discs:
            x = w / 2 + amp * w * math.sin(speed * phase + offset)
            y = h / 2 + amp * h * math.cos(phase + 2 * offset)
            x0, x1 = max(0, int(x - size)), min(w, int(x + size) + 1)
            y0, y1 = max(0, int(y - size)), min(h, int(y + size) + 1)
            if x1 <= x0 or y1 <= y0:
                continue
            inside = (xx[y0:y1, x0:x1] - x) ** 2 + (yy[y0:y1, x0:x1] - y) ** 2 <= size * size
            frame[y0:y1, x0:x1][inside] = (color * 230 + 25).astype(np.uint8)
        # a bar sweeping round once per loop, like a clock hand
        for step in range(int(radius)):
            px = int(cx + step * math.cos(phase))
            py = int(cy + step * math.sin(phase))
            frame[max(0, py - 2) : py + 3, max(0, px - 2) : px + 3] = 250
        frame[my0:my1, mx0:mx1] = 128
        draw_marker(frame, number)
        yield frame


def encode_loop(number: int, spec: LoopSpec) -> bytes:
    """Encode camera `number`'s loop; returns Annex-B H.264 with an AUD before every frame."""
    ctx = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height = spec.width, spec.height
    ctx.pix_fmt = "yuv420p"
    ctx.time_base = Fraction(1, spec.fps)
    ctx.framerate = Fraction(spec.fps)
    ctx.bit_rate = spec.bits_per_second
    ctx.gop_size = spec.gop
    ctx.max_b_frames = 0
    kbps = spec.bits_per_second // 1000
    ctx.options = {
        "preset": "veryfast",
        "profile": spec.profile,
        "x264-params": (
            f"keyint={spec.gop}:min-keyint={spec.gop}:scenecut=0:bframes=0:aud=1:repeat-headers=1:"
            f"nal-hrd=cbr:vbv-maxrate={kbps}:vbv-bufsize={kbps}"
        ),
    }
    out: list[bytes] = []
    for index, rgb in enumerate(render_frames(number, spec)):
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
        frame.pts = index
        out.extend(bytes(p) for p in ctx.encode(frame))
    out.extend(bytes(p) for p in ctx.encode(None))
    return b"".join(out)


def parse_loop(data: bytes, fps: int) -> EncodedLoop:
    """Split an Annex-B loop at its AUDs into frames; the first frame must be an IDR with SPS/PPS."""
    frames: list[list[bytes]] = []
    for nalu in split_annexb(data):
        kind = h264.nal_type(nalu)
        if kind == h264.NAL_AUD:
            frames.append([])
        elif frames:
            frames[-1].append(nalu)
    frames = [f for f in frames if f]
    if not frames:
        raise MediaProtocolError("simulator loop holds no frames")
    first = frames[0]
    sps = next((n for n in first if h264.nal_type(n) == h264.NAL_SPS), b"")
    pps = next((n for n in first if h264.nal_type(n) == h264.NAL_PPS), b"")
    keyframes = [any(h264.nal_type(n) == h264.NAL_IDR for n in f) for f in frames]
    if not keyframes[0] or not sps:
        raise MediaProtocolError("simulator loop does not start with an IDR and its parameter sets")
    return EncodedLoop(make_params(Codec.h264, sps, pps), frames, keyframes, fps)


def loop_path(data_dir: Path, number: int, spec: LoopSpec) -> Path:
    return data_dir / "sim" / spec.filename(number)


def ensure_loop(data_dir: Path, number: int, spec: LoopSpec) -> Path:
    """The cached loop of camera `number`, encoding it first if missing (atomic: temp file + rename)."""
    path = loop_path(data_dir, number, spec)
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    log.info("simulator: encoding the loop of camera %d (first run only)", number)
    data = encode_loop(number, spec)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".encoding-", suffix=".h264")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_loop(data_dir: Path, number: int, spec: LoopSpec) -> EncodedLoop:
    """Camera `number`'s loop, from the cache or freshly encoded."""
    loop = parse_loop(ensure_loop(data_dir, number, spec).read_bytes(), spec.fps)
    if len(loop.frames) != spec.frames:
        raise MediaProtocolError(f"cached loop has {len(loop.frames)} frames, expected {spec.frames}")
    return loop
