"""Real bitstreams for the ingest tests (libx264/libx265 through PyAV) and a decoder that reads them
back, so every test that says "decodable" is checked by FFmpeg, an outside implementation."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from fractions import Fraction
from typing import cast

import av
import numpy as np
import numpy.typing as npt
from av.video.codeccontext import VideoCodecContext

from xueliang.media.codecs.annexb import join_annexb, split_annexb
from xueliang.media.frames import AccessUnit, Codec
from xueliang.media.rtp.packet import RtpPacket


@functools.lru_cache(maxsize=32)
def encode_clip(
    codec: Codec = Codec.h264,
    width: int = 160,
    height: int = 96,
    frames: int = 30,
    gop: int = 10,
    pix_fmt: str = "yuv420p",
    profile: str | None = None,
    extra: str = "",
) -> tuple[tuple[bytes, ...], ...]:
    """NAL units of each access unit of a small moving clip (no B-frames, parameter sets in-band)."""
    name = "libx264" if codec is Codec.h264 else "libx265"
    ctx = cast(VideoCodecContext, av.CodecContext.create(name, "w"))
    ctx.width, ctx.height, ctx.pix_fmt = width, height, pix_fmt
    ctx.time_base = Fraction(1, 25)
    ctx.framerate = Fraction(25)
    ctx.gop_size = gop
    ctx.max_b_frames = 0
    options = {"preset": "ultrafast"}
    if profile:
        options["profile"] = profile
    if codec is Codec.h264:
        options["x264-params"] = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:repeat-headers=1{extra}"
    else:
        options["x265-params"] = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0:log-level=error{extra}"
    ctx.options = options
    out: list[tuple[bytes, ...]] = []
    yy, xx = np.mgrid[0:height, 0:width]
    for i in range(frames):
        rgb = np.zeros((height, width, 3), np.uint8)
        rgb[..., 0] = (xx * 3 + i * 7) % 256
        rgb[..., 1] = (yy * 5 + i * 3) % 256
        rgb[..., 2] = ((xx + yy + i * 11) // 8 % 2) * 200
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format=pix_fmt)
        frame.pts = i
        out.extend(tuple(split_annexb(bytes(p))) for p in ctx.encode(frame))
    out.extend(tuple(split_annexb(bytes(p))) for p in ctx.encode(None))
    return tuple(out)


class Decoder:
    """FFmpeg's decoder fed access units; returns RGB pictures."""

    def __init__(self, codec: Codec) -> None:
        self.ctx = av.CodecContext.create("h264" if codec is Codec.h264 else "hevc", "r")

    def decode(self, nalus: Iterable[bytes]) -> list[npt.NDArray[np.uint8]]:
        packet = av.Packet(join_annexb(nalus))
        return [np.asarray(f.to_ndarray(format="rgb24"), np.uint8) for f in self.ctx.decode(packet)]

    def decode_au(self, au: AccessUnit) -> list[npt.NDArray[np.uint8]]:
        """Parameter sets from the AU's params go first, as an avcC/hvcC would carry them."""
        params = [au.params.vps, au.params.sps, au.params.pps] if au.keyframe else []
        return self.decode([n for n in params if n] + au.nalus)

    def flush(self) -> list[npt.NDArray[np.uint8]]:
        return [np.asarray(f.to_ndarray(format="rgb24"), np.uint8) for f in self.ctx.decode(None)]


def to_rtp(
    payloads_per_frame: Iterable[list[bytes]],
    *,
    seq: int = 100,
    ts: int = 1000,
    step: int = 3600,
    ssrc: int = 0x1234,
    pt: int = 96,
) -> list[RtpPacket]:
    """RTP packets for frames of payloads: marker on each frame's last packet, 16/32-bit wrap."""
    packets = []
    for index, payloads in enumerate(payloads_per_frame):
        for i, payload in enumerate(payloads):
            packets.append(
                RtpPacket(
                    payload_type=pt,
                    sequence=seq & 0xFFFF,
                    timestamp=(ts + index * step) & 0xFFFFFFFF,
                    ssrc=ssrc,
                    payload=payload,
                    marker=i == len(payloads) - 1,
                )
            )
            seq += 1
    return packets
