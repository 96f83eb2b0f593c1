"""MPEG-4 AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1): the little an fMP4 `esds` and a codec string
need, read from an SDP's `config=` hex or written for the AAC we encode from G.711."""

from __future__ import annotations

from xueliang.media.codecs.bits import BitReader
from xueliang.media.errors import MediaProtocolError

SAMPLE_RATES = (96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350)
AAC_LC = 2
FRAME_SAMPLES = 1024  # samples per AAC-LC access unit


def parse_asc(asc: bytes) -> tuple[int, int, int]:
    """(audio object type, sample rate, channels); anything unreadable raises MediaProtocolError."""
    r = BitReader(asc)
    object_type = r.u(5)
    if object_type == 31:
        object_type = 32 + r.u(6)
    index = r.u(4)
    rate = r.u(24) if index == 15 else (SAMPLE_RATES[index] if index < len(SAMPLE_RATES) else 0)
    channels = r.u(4)
    if not rate or not 0 < channels <= 7:
        raise MediaProtocolError(f"AAC config: sample rate index {index} or {channels} channels unusable")
    return object_type, rate, channels


def build_asc(sample_rate: int, channels: int, object_type: int = AAC_LC) -> bytes:
    """A two-byte AudioSpecificConfig for a standard sample rate."""
    if sample_rate not in SAMPLE_RATES or not 0 < channels <= 7:
        raise ValueError(f"no AudioSpecificConfig for {sample_rate} Hz, {channels} channels")
    value = (object_type << 11) | (SAMPLE_RATES.index(sample_rate) << 7) | (channels << 3)
    return value.to_bytes(2, "big")


def codec_string(asc: bytes) -> str:
    """RFC 6381 `mp4a.40.<object type>`, as MSE and HLS CODECS expect."""
    return f"mp4a.40.{parse_asc(asc)[0]}"
