"""Real H.264/H.265 access units for the tests, made by FFmpeg's libx264/libx265 through PyAV.

Each clip's picture carries its camera's identity as the luma level of the top-left block, so a decoded
frame proves which camera reached which viewer."""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any, cast

import av
import numpy as np
from av.video.codeccontext import VideoCodecContext

from xueliang.media.frames import AccessUnit, Codec, CodecParams

FRAME_TICKS = 3600  # 90 kHz ticks per frame at 25 fps
_START = re.compile(b"\x00\x00\x01")


def split_annexb(data: bytes) -> list[bytes]:
    """NAL units of an Annex B byte stream, start codes removed."""
    return [piece.rstrip(b"\x00") for piece in _START.split(data) if piece.rstrip(b"\x00")]


def marker_level(camera_index: int) -> int:
    """The luma level that stands for a camera in its top-left block."""
    return 40 + 50 * (camera_index % 4)


def read_marker(frame: av.VideoFrame) -> int:
    """The camera index whose marker level is nearest the decoded block's mean luma."""
    luma = frame.to_ndarray(format="gray")
    mean = float(luma[4:28, 4:28].mean())
    return min(range(4), key=lambda i: abs(marker_level(i) - mean))


def pts_of(frames: list[av.VideoFrame]) -> list[int]:
    """Presentation times of decoded frames relative to the first one."""
    times = [f.pts for f in frames]
    assert all(t is not None for t in times)
    first = times[0] or 0
    return [(t or 0) - first for t in times]


def _params(codec: Codec, nalus: list[bytes], width: int, height: int) -> CodecParams:
    if codec is Codec.h264:
        by_type = {n[0] & 0x1F: n for n in nalus}
        return CodecParams(Codec.h264, sps=by_type[7], pps=by_type[8], width=width, height=height)
    by_type = {(n[0] >> 1) & 0x3F: n for n in nalus}
    return CodecParams(
        Codec.h265, sps=by_type[33], pps=by_type[34], vps=by_type[32], width=width, height=height
    )


def encode_clip(
    *,
    codec: Codec = Codec.h264,
    frames: int = 50,
    width: int = 160,
    height: int = 96,
    gop: int = 25,
    bframes: int = 0,
    camera_index: int = 0,
    base_ts: int = 900_000,
    fill_size: bool = True,
    noise: bool = False,
) -> list[AccessUnit]:
    """Encode `frames` pictures at 25 fps into access units on the 90 kHz clock, starting at `base_ts`.

    With B-frames the units carry decode timestamps; `fill_size=False` leaves CodecParams' size at 0
    so the muxer must read it from the SPS; `noise` makes every frame large (tens of KB)."""
    name = "libx264" if codec is Codec.h264 else "libx265"
    ctx = cast(VideoCodecContext, av.CodecContext.create(name, "w"))
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuv420p"
    ctx.time_base, ctx.framerate = Fraction(1, 25), Fraction(25)
    keyint = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={bframes}"
    if codec is Codec.h264:
        ctx.options = {"preset": "ultrafast", "x264-params": keyint + ":repeat-headers=1"}
    else:
        ctx.options = {"preset": "ultrafast", "x265-params": keyint + ":repeat-headers=1:log-level=error"}
    packets: list[av.Packet[Any]] = []
    level = marker_level(camera_index)
    rng = np.random.default_rng(camera_index)
    for i in range(frames):
        plane = np.full((height * 3 // 2, width), 128, np.uint8)
        plane[:height] = rng.integers(0, 255, (height, width), np.uint8) if noise else 90
        plane[:32, :32] = level
        x = 40 + (i * 3) % max(1, width - 56)
        plane[40:56, x : x + 16] = 230
        frame = av.VideoFrame.from_ndarray(plane, format="yuv420p")
        frame.pts = i
        packets.extend(ctx.encode(frame))
    packets.extend(ctx.encode(None))
    units: list[AccessUnit] = []
    params: CodecParams | None = None
    for packet in packets:
        nalus = split_annexb(bytes(packet))
        if packet.is_keyframe or params is None:
            params = _params(codec, nalus, width if fill_size else 0, height if fill_size else 0)
        assert packet.pts is not None and packet.dts is not None
        units.append(
            AccessUnit(
                nalus=nalus,
                pts=base_ts + packet.pts * FRAME_TICKS,
                keyframe=bool(packet.is_keyframe),
                params=params,
                dts=base_ts + packet.dts * FRAME_TICKS if bframes else None,
            )
        )
    return units
