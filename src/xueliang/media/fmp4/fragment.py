"""One moof+mdat fragment per frame, built from a precompiled header in one struct call.

Samples hold the frame's NAL units length-prefixed (AVCC, 4-byte lengths). Access unit delimiters,
filler data and parameter sets are left out: parameter sets live in the init segment, which the
channel renews whenever CodecParams change, so in-band copies would only repeat bytes on every
keyframe (and an `avc1`/`hvc1` sample entry promises the decoder they are not needed)."""

from __future__ import annotations

import struct
from collections.abc import Sequence

from xueliang.media.fmp4.init import TRACK_ID
from xueliang.media.frames import Codec

# ISO/IEC 14496-12 sample_flags: sync = depends on nothing; others depend on earlier samples.
SYNC_FLAGS = 0x02000000
NON_SYNC_FLAGS = 0x01010000
_TRUN_FLAGS = 0x000001 | 0x000100 | 0x000200 | 0x000400  # data offset, duration, size, flags
_TRUN_CTS = 0x000800

_H264_DROP = frozenset({7, 8, 9, 12})  # SPS, PPS, AUD, filler
_H265_DROP = frozenset({32, 33, 34, 35, 38})  # VPS, SPS, PPS, AUD, filler
_H264_VCL = frozenset(range(1, 6))

_LEN = struct.Struct(">I")
_CTS_FIELD = struct.Struct(">i")
_TRUN_AT = 68  # moof(8) + mfhd(16) + traf(8) + tfhd(16) + tfdt(20): where `FragmentWriter` puts trun


def _header(with_cts: bool) -> tuple[struct.Struct, int]:
    trun_size = 36 if with_cts else 32
    moof_size = 8 + 16 + 8 + 16 + 20 + trun_size
    fmt = ">I4sI4sII" + "I4s" + "I4sII" + "I4sIQ" + "I4sIIiIII" + ("i" if with_cts else "") + "I4s"
    return struct.Struct(fmt), moof_size


_PLAIN, _PLAIN_MOOF = _header(False)
_CTS, _CTS_MOOF = _header(True)


def _sample_table(codec: Codec) -> bytes:
    """Per first byte of a NAL unit: 0 left out of samples, 1 kept, 2 kept and a coded slice."""
    table = bytearray(256)
    for first in range(256):
        if codec is Codec.h264:
            kind = first & 0x1F
            keep, vcl = kind not in _H264_DROP, kind in _H264_VCL
        else:
            kind = (first >> 1) & 0x3F
            keep, vcl = kind not in _H265_DROP, kind < 32
        table[first] = (2 if vcl else 1) if keep else 0
    return bytes(table)


_SAMPLE = {codec: _sample_table(codec) for codec in Codec}
_MIN_NAL = {Codec.h264: 1, Codec.h265: 2}  # the NAL unit header's size


def sample_nalus(codec: Codec, nalus: Sequence[bytes]) -> list[bytes]:
    """The NAL units that belong in a sample, or [] when the frame carries no picture data."""
    table, least = _SAMPLE[codec], _MIN_NAL[codec]
    kept: list[bytes] = []
    seen = 0
    for nalu in nalus:
        if len(nalu) >= least:
            kind = table[nalu[0]]
            if kind:
                kept.append(nalu)
                seen |= kind
    return kept if seen & 2 else []


class FragmentWriter:
    """Numbers fragments (mfhd sequence) and writes each frame as its own moof+mdat."""

    def __init__(self) -> None:
        self.sequence = 0

    def write(
        self, decode_time: int, duration: int, keyframe: bool, nalus: Sequence[bytes], cts: int | None = None
    ) -> bytes:
        """A fragment for one sample; `nalus` must already be filtered by `sample_nalus`.

        `decode_time` goes to tfdt (64-bit, 90 kHz); `duration` is the best estimate at writing time;
        `cts` (composition minus decode time) is written only when given, e.g. for B-frames."""
        self.sequence += 1
        parts: list[bytes] = [b""]
        size = 0
        for nal in nalus:
            parts.append(_LEN.pack(len(nal)))
            parts.append(nal)
            size += 4 + len(nal)
        flags = SYNC_FLAGS if keyframe else NON_SYNC_FLAGS
        if cts is None:
            moof = _PLAIN_MOOF
            parts[0] = _PLAIN.pack(
                moof, b"moof", 16, b"mfhd", 0, self.sequence,
                moof - 24, b"traf",
                16, b"tfhd", 0x020000, TRACK_ID,
                20, b"tfdt", 0x01000000, decode_time,
                moof - 68, b"trun", _TRUN_FLAGS, 1, moof + 8, duration, size, flags,
                size + 8, b"mdat",
            )  # fmt: skip
        else:
            moof = _CTS_MOOF
            parts[0] = _CTS.pack(
                moof, b"moof", 16, b"mfhd", 0, self.sequence,
                moof - 24, b"traf",
                16, b"tfhd", 0x020000, TRACK_ID,
                20, b"tfdt", 0x01000000, decode_time,
                moof - 68, b"trun", 0x01000000 | _TRUN_FLAGS | _TRUN_CTS, 1, moof + 8, duration, size, flags,
                cts,
                size + 8, b"mdat",
            )  # fmt: skip
        return b"".join(parts)


def read_sample(fragment: bytes) -> tuple[list[bytes], int | None]:
    """The NAL units and composition offset of a fragment written by `FragmentWriter` (the RTSP
    re-serve turns the channel's fragments back into RTP without a second copy of every frame).

    Raises ValueError for anything `FragmentWriter` would not have written."""
    data = fragment
    if len(data) < _PLAIN_MOOF + 8 or data[4:8] != b"moof" or data[_TRUN_AT + 4 : _TRUN_AT + 8] != b"trun":
        raise ValueError("not a single-sample fragment")
    moof = _LEN.unpack_from(data, 0)[0]
    if moof not in (_PLAIN_MOOF, _CTS_MOOF) or data[moof + 4 : moof + 8] != b"mdat":
        raise ValueError("not a single-sample fragment")
    cts = None
    if _LEN.unpack_from(data, _TRUN_AT + 8)[0] & _TRUN_CTS:
        cts = _CTS_FIELD.unpack_from(data, _TRUN_AT + 32)[0]
    end = moof + _LEN.unpack_from(data, moof)[0]
    if end > len(data):
        raise ValueError("fragment truncated")
    nalus: list[bytes] = []
    pos = moof + 8
    while pos + 4 <= end:
        size = _LEN.unpack_from(data, pos)[0]
        pos += 4
        if pos + size > end:
            raise ValueError("NAL unit runs past the sample")
        nalus.append(data[pos : pos + size])
        pos += size
    return nalus, cts
