"""RTP fixed header, CSRC list, header extension and padding (RFC 3550 §5.1)."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from xueliang.media.errors import MediaProtocolError

_HEADER = struct.Struct(">BBHII")
HEADER_SIZE = _HEADER.size


@dataclass(slots=True)
class RtpPacket:
    """One RTP packet; `payload` excludes header, CSRCs, extension and padding."""

    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False
    csrcs: tuple[int, ...] = ()
    extension_profile: int | None = None
    extension: bytes = b""
    padding: int = 0  # padding bytes to append when serialized (including the count byte)

    def to_bytes(self) -> bytes:
        """Serialize; validates field ranges so a bad packet is never put on the wire."""
        if not 0 <= self.payload_type <= 127 or len(self.csrcs) > 15 or not 0 <= self.padding <= 255:
            raise ValueError("RTP field out of range")
        if len(self.extension) % 4:
            raise ValueError("RTP header extension must be a multiple of 4 bytes")
        has_ext = self.extension_profile is not None
        first = 0x80 | (0x20 if self.padding else 0) | (0x10 if has_ext else 0) | len(self.csrcs)
        parts = [
            _HEADER.pack(
                first,
                (0x80 if self.marker else 0) | self.payload_type,
                self.sequence & 0xFFFF,
                self.timestamp & 0xFFFFFFFF,
                self.ssrc & 0xFFFFFFFF,
            )
        ]
        parts.extend(c.to_bytes(4, "big") for c in self.csrcs)
        if has_ext:
            assert self.extension_profile is not None
            parts.append(struct.pack(">HH", self.extension_profile, len(self.extension) // 4))
            parts.append(self.extension)
        parts.append(self.payload)
        if self.padding:
            parts.append(bytes(self.padding - 1) + bytes([self.padding]))
        return b"".join(parts)


def parse_rtp(data: bytes) -> RtpPacket:
    """Parse one RTP packet; anything malformed raises MediaProtocolError."""
    if len(data) < HEADER_SIZE:
        raise MediaProtocolError(f"RTP packet too short ({len(data)} bytes)")
    first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(data)
    if first >> 6 != 2:
        raise MediaProtocolError(f"RTP version {first >> 6} is not 2")
    pos = HEADER_SIZE
    csrc_count = first & 0x0F
    csrcs: tuple[int, ...] = ()
    if csrc_count:
        if len(data) < pos + 4 * csrc_count:
            raise MediaProtocolError("RTP CSRC list truncated")
        csrcs = struct.unpack_from(f">{csrc_count}I", data, pos)
        pos += 4 * csrc_count
    ext_profile: int | None = None
    extension = b""
    if first & 0x10:
        if len(data) < pos + 4:
            raise MediaProtocolError("RTP header extension truncated")
        ext_profile, words = struct.unpack_from(">HH", data, pos)
        pos += 4
        if len(data) < pos + 4 * words:
            raise MediaProtocolError("RTP header extension truncated")
        extension = bytes(data[pos : pos + 4 * words])
        pos += 4 * words
    end = len(data)
    padding = 0
    if first & 0x20:
        padding = data[-1]
        if padding == 0 or end - padding < pos:
            raise MediaProtocolError(f"RTP padding count {padding} is invalid")
        end -= padding
    return RtpPacket(
        payload_type=second & 0x7F,
        sequence=sequence,
        timestamp=timestamp,
        ssrc=ssrc,
        payload=bytes(data[pos:end]),
        marker=bool(second & 0x80),
        csrcs=csrcs,
        extension_profile=ext_profile,
        extension=extension,
        padding=padding,
    )
