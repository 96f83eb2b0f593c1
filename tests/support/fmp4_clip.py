"""A short fragmented-MP4 H.264 clip made with PyAV, cut into what the live WebSocket sends: the init
segment (ftyp+moov), then one moof+mdat fragment per message. Used to drive player.js for real."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np


@dataclass(frozen=True)
class Clip:
    mime: str
    init: bytes
    fragments: list[bytes]
    width: int
    height: int


def _boxes(data: bytes) -> list[tuple[bytes, bytes]]:
    out: list[tuple[bytes, bytes]] = []
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1:
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        elif size == 0:
            size = len(data) - pos
        out.append((kind, data[pos : pos + size]))
        pos += size
    return out


def make_clip(
    width: int = 320, height: int = 240, fps: int = 25, seconds: float = 2.0, gop: int = 10
) -> Clip:
    """Encodes a moving gradient; a keyframe every `gop` frames, so each fragment starts with one."""
    buf = io.BytesIO()
    with av.open(
        buf, "w", format="mp4", options={"movflags": "frag_keyframe+empty_moov+default_base_moof"}
    ) as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.options = {
            "g": str(gop),
            "keyint_min": str(gop),
            "sc_threshold": "0",
            "bf": "0",
            "preset": "ultrafast",
            "tune": "zerolatency",
            "profile": "baseline",
        }
        ys, xs = np.mgrid[0:height, 0:width]
        for i in range(int(fps * seconds)):
            img = np.stack([(xs + i * 4) % 256, (ys + i * 2) % 256, np.full_like(xs, (i * 8) % 256)], axis=-1)
            frame = av.VideoFrame.from_ndarray(img.astype(np.uint8), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    boxes = _boxes(buf.getvalue())
    init = b"".join(box for kind, box in boxes if kind in (b"ftyp", b"moov"))
    fragments: list[bytes] = []
    for kind, box in boxes:
        if kind == b"moof":
            fragments.append(box)
        elif kind == b"mdat" and fragments:
            fragments[-1] += box
    avcc = init.index(b"avcC") + 4
    profile, compat, level = init[avcc + 1], init[avcc + 2], init[avcc + 3]
    mime = f'video/mp4; codecs="avc1.{profile:02X}{compat:02X}{level:02X}"'
    return Clip(mime=mime, init=init, fragments=fragments, width=width, height=height)
