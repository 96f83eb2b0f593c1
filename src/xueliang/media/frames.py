"""The unit that crosses the media plane: one access unit (a picture) of H.264 or H.265."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Codec(enum.StrEnum):
    h264 = "h264"
    h265 = "h265"


@dataclass(frozen=True, slots=True)
class CodecParams:
    """Parameter sets as raw NAL units (no start codes). Equal params mean the same init segment."""

    codec: Codec
    sps: bytes
    pps: bytes
    vps: bytes = b""  # H.265 only
    width: int = 0
    height: int = 0


@dataclass(slots=True)
class AccessUnit:
    """One frame: its NAL units without start codes, timestamps on the 90 kHz RTP clock (re-based by the
    source so they only move forward across reconnects), and when its last packet arrived."""

    nalus: list[bytes]
    pts: int
    keyframe: bool
    params: CodecParams
    dts: int | None = None  # None: same as pts (no B-frames)
    arrived_ns: int = 0  # time.monotonic_ns() when the closing packet was received
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def decode_ts(self) -> int:
        return self.pts if self.dts is None else self.dts
