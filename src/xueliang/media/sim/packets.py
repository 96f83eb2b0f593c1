"""A loop's frames packetized once, ahead of time, into RTP packets with blank sequence, timestamp
and SSRC fields, so serving a client costs a copy and a few `pack_into` calls per frame."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from xueliang.media.rtp.h264 import H264Packetizer
from xueliang.media.sim.encode import EncodedLoop

PAYLOAD_TYPE = 96
_RTP_FIELDS = struct.Struct(">HII")  # sequence, timestamp, ssrc at offset 2 of the RTP header


@dataclass(frozen=True, slots=True)
class PreparedFrame:
    """All RTP packets of one frame, each framed for TCP interleaving (`$`, channel, length)."""

    blob: bytes
    offsets: tuple[int, ...]  # where each packet's RTP header starts in `blob`
    ends: tuple[int, ...]  # where each packet ends
    keyframe: bool

    def for_tcp(self, channel: int, seq: int, ts: int, ssrc: int) -> bytearray:
        """The frame as one buffer for an interleaved client; packet i gets sequence seq+i."""
        buf = bytearray(self.blob)
        pack = _RTP_FIELDS.pack_into
        for i, off in enumerate(self.offsets):
            pack(buf, off + 2, (seq + i) & 0xFFFF, ts, ssrc)
            buf[off - 3] = channel
        return buf

    def for_udp(self, seq: int, ts: int, ssrc: int) -> list[bytearray]:
        view = memoryview(self.blob)
        out = []
        pack = _RTP_FIELDS.pack_into
        for i, (off, end) in enumerate(zip(self.offsets, self.ends, strict=True)):
            packet = bytearray(view[off:end])
            pack(packet, 2, (seq + i) & 0xFFFF, ts, ssrc)
            out.append(packet)
        return out


def prepare_frames(loop: EncodedLoop, max_payload: int = 1400) -> list[PreparedFrame]:
    """Packetize every frame of a loop (single NAL, STAP-A, FU-A; marker on each frame's last packet)."""
    packetizer = H264Packetizer(max_payload)
    prepared: list[PreparedFrame] = []
    for nalus, keyframe in zip(loop.frames, loop.keyframes, strict=True):
        payloads = packetizer.packetize(nalus)
        parts: list[bytes] = []
        offsets: list[int] = []
        ends: list[int] = []
        pos = 0
        for index, payload in enumerate(payloads):
            marker = 0x80 if index == len(payloads) - 1 else 0
            header = bytes([0x80, marker | PAYLOAD_TYPE]) + bytes(10)
            frame_len = len(header) + len(payload)
            parts.append(b"$\x00" + frame_len.to_bytes(2, "big") + header + payload)
            offsets.append(pos + 4)
            pos += 4 + frame_len
            ends.append(pos)
        prepared.append(PreparedFrame(b"".join(parts), tuple(offsets), tuple(ends), keyframe))
    return prepared
