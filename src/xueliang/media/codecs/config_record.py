"""Reading avcC / hvcC decoder configuration records (ISO/IEC 14496-15), as containers carry them."""

from __future__ import annotations

from dataclasses import dataclass, field

from xueliang.media.codecs import h265
from xueliang.media.errors import MediaProtocolError


@dataclass(slots=True)
class ConfigRecord:
    """Parameter sets and NAL length size of an avcC or hvcC record."""

    length_size: int
    vps: list[bytes] = field(default_factory=list)
    sps: list[bytes] = field(default_factory=list)
    pps: list[bytes] = field(default_factory=list)


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise MediaProtocolError("configuration record truncated")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def u8(self) -> int:
        return self.take(1)[0]

    def u16(self) -> int:
        return int.from_bytes(self.take(2), "big")

    def nal(self) -> bytes:
        size = self.u16()
        if size == 0:
            raise MediaProtocolError("configuration record holds an empty NAL unit")
        return self.take(size)


def parse_avcc(data: bytes) -> ConfigRecord:
    """An AVCDecoderConfigurationRecord: version 1, then SPS and PPS arrays."""
    r = _Reader(data)
    if r.u8() != 1:
        raise MediaProtocolError("avcC: unsupported configuration version")
    r.take(3)  # profile, compatibility, level (repeated in the SPS)
    record = ConfigRecord(length_size=(r.u8() & 0x03) + 1)
    record.sps = [r.nal() for _ in range(r.u8() & 0x1F)]
    record.pps = [r.nal() for _ in range(r.u8())]
    return record


def parse_hvcc(data: bytes) -> ConfigRecord:
    """An HEVCDecoderConfigurationRecord: 22 bytes of header, then arrays of VPS/SPS/PPS/SEI."""
    r = _Reader(data)
    if r.u8() != 1:
        raise MediaProtocolError("hvcC: unsupported configuration version")
    r.take(20)
    record = ConfigRecord(length_size=(r.u8() & 0x03) + 1)
    for _ in range(r.u8()):
        kind = r.u8() & 0x3F
        nalus = [r.nal() for _ in range(r.u16())]
        if kind == h265.NAL_VPS:
            record.vps += nalus
        elif kind == h265.NAL_SPS:
            record.sps += nalus
        elif kind == h265.NAL_PPS:
            record.pps += nalus
    return record
