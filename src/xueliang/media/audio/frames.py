"""The audio unit that crosses the media plane: one AAC access unit or one packet's G.711 samples."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class AudioCodec(enum.StrEnum):
    aac = "aac"  # MPEG-4 AAC (any object type the AudioSpecificConfig names), raw access units
    pcma = "pcma"  # G.711 A-law
    pcmu = "pcmu"  # G.711 mu-law


@dataclass(frozen=True, slots=True)
class AudioConfig:
    """What a decoder needs; equal configs mean the same audio init segment."""

    codec: AudioCodec
    sample_rate: int
    channels: int = 1
    asc: bytes = b""  # AAC: the AudioSpecificConfig (SDP `config=`, esds DecoderSpecificInfo)


@dataclass(slots=True)
class AudioFrame:
    """`data` holds one AAC access unit (no ADTS header) or G.711 samples (one byte each per channel);
    `pts` counts samples at `config.sample_rate` on a forward-only timeline (re-based across sessions
    like the video's); `samples` is the frame's duration."""

    data: bytes
    pts: int
    samples: int
    config: AudioConfig
    arrived_ns: int = 0
