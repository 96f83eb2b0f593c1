"""A frame's RTP packets built once, with blank sequence, timestamp and SSRC fields, so that sending it
to one more client costs a copy and a few `pack_into` calls. The simulator prepares its loops this way
ahead of time; the RTSP re-serve prepares each live frame once for all clients of a camera."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

_RTP_FIELDS = struct.Struct(">HII")  # sequence, timestamp, ssrc at offset 2 of the RTP header


@dataclass(frozen=True, slots=True)
class PreparedFrame:
    """All RTP packets of one frame, each framed for TCP interleaving (`$`, channel, length)."""

    blob: bytes
    offsets: tuple[int, ...]  # where each packet's RTP header starts in `blob`
    ends: tuple[int, ...]  # where each packet ends
    keyframe: bool

    @property
    def packets(self) -> int:
        return len(self.offsets)

    def for_tcp(self, channel: int, seq: int, ts: int, ssrc: int) -> bytearray:
        """The frame as one buffer for an interleaved client; packet i gets sequence seq+i."""
        buf = bytearray(self.blob)
        pack = _RTP_FIELDS.pack_into
        for i, off in enumerate(self.offsets):
            pack(buf, off + 2, (seq + i) & 0xFFFF, ts & 0xFFFFFFFF, ssrc)
            buf[off - 3] = channel
        return buf

    def for_udp(self, seq: int, ts: int, ssrc: int) -> list[bytearray]:
        view = memoryview(self.blob)
        out = []
        pack = _RTP_FIELDS.pack_into
        for i, (off, end) in enumerate(zip(self.offsets, self.ends, strict=True)):
            packet = bytearray(view[off:end])
            pack(packet, 2, (seq + i) & 0xFFFF, ts & 0xFFFFFFFF, ssrc)
            out.append(packet)
        return out


def prepare_frame(payloads: Sequence[bytes], payload_type: int, keyframe: bool) -> PreparedFrame:
    """Frame a packetizer's payloads as RTP packets (marker on the last one) behind `$` headers."""
    if not 0 <= payload_type <= 127:
        raise ValueError("RTP payload type out of range")
    parts: list[bytes] = []
    offsets: list[int] = []
    ends: list[int] = []
    pos = 0
    last = len(payloads) - 1
    for index, payload in enumerate(payloads):
        header = bytes([0x80, (0x80 if index == last else 0) | payload_type]) + bytes(10)
        size = len(header) + len(payload)
        if size > 0xFFFF:
            raise ValueError("RTP packet too large for TCP interleaving")
        parts.append(b"$\x00" + size.to_bytes(2, "big") + header)
        parts.append(payload)
        offsets.append(pos + 4)
        pos += 4 + size
        ends.append(pos)
    return PreparedFrame(b"".join(parts), tuple(offsets), tuple(ends), keyframe)
