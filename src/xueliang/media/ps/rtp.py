"""PS over RTP as GB/T 28181 sends it (payload type 96, `PS/90000`), over UDP or over TCP with
RFC 4571 framing (a 2-byte length before each packet).

Receiving: `PsRtpReceiver` checks payload type, SSRC and sequence numbers, and feeds the payloads to a
`PsDemuxer`. A frame ends at the marker bit, or where the RTP timestamp changes (all packets of a
frame share one, GB/T 28181-2022 §4.3.6). A sequence gap drops the open frame and resyncs at the next
pack header; late and duplicate packets are dropped. Nothing a sender does raises.

Sending: `PsRtpPacketizer` cuts the PS of one frame into RTP packets of at most `max_packet` bytes,
the marker bit on the last; `frame_tcp` adds the RFC 4571 length; `PsSender` does all three for an
access unit.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from xueliang.media.frames import AccessUnit, Codec
from xueliang.media.ps.demux import PsDemuxer
from xueliang.media.ps.mux import PsMuxer
from xueliang.media.rtp.packet import HEADER_SIZE
from xueliang.media.rtp.timeline import Timeline

PS_PAYLOAD_TYPE = 96
_HEADER = struct.Struct(">BBHII")


@dataclass(slots=True)
class PsRtpStats:
    packets: int = 0
    lost_packets: int = 0
    late_packets: int = 0  # duplicate or reordered: dropped
    foreign_packets: int = 0  # another payload type or SSRC
    malformed_packets: int = 0  # not RTP version 2, or shorter than its header says
    ssrc_changes: int = 0


class PsRtpReceiver:
    """RTP packets (datagrams, or an RFC 4571 byte stream) of one GB/T 28181 stream → access units.

    `ssrc`: the SSRC from the SDP `y=` line; None takes the first one seen. A sender that changes its
    SSRC mid-stream (a restart) is followed unless `ssrc` was given; then its packets are foreign."""

    def __init__(
        self,
        emit: Callable[[AccessUnit], None],
        *,
        payload_type: int = PS_PAYLOAD_TYPE,
        ssrc: int | None = None,
        codec: Codec | None = None,
        timeline: Timeline | None = None,
        wait_keyframe_after_loss: bool = False,
    ) -> None:
        self.stats = PsRtpStats()
        self.demuxer = PsDemuxer(
            emit, codec=codec, timeline=timeline, wait_keyframe_after_loss=wait_keyframe_after_loss
        )
        self.payload_type = payload_type
        self._fixed_ssrc = ssrc
        self._ssrc = ssrc
        self._seq: int | None = None
        self._ts: int | None = None
        self._open = False  # payload of the frame with timestamp _ts was fed and not yet ended
        self._tcp = bytearray()

    def push_rtp(self, data: bytes | bytearray | memoryview) -> None:
        """One RTP packet as received."""
        stats = self.stats
        if len(data) < HEADER_SIZE:
            stats.malformed_packets += 1
            return
        first, second, seq, ts, ssrc = _HEADER.unpack_from(data)
        if first >> 6 != 2:
            stats.malformed_packets += 1
            return
        if second & 0x7F != self.payload_type:
            stats.foreign_packets += 1
            return
        start = HEADER_SIZE + 4 * (first & 0x0F)
        end = len(data)
        if first & 0x10:  # header extension
            if end < start + 4:
                stats.malformed_packets += 1
                return
            start += 4 + 4 * (data[start + 2] << 8 | data[start + 3])
        if first & 0x20:  # padding
            end -= data[-1]
        if start > end:
            stats.malformed_packets += 1
            return
        if ssrc != self._ssrc:
            if self._fixed_ssrc is not None:
                stats.foreign_packets += 1
                return
            if self._ssrc is not None:
                stats.ssrc_changes += 1
                self.demuxer.reset()
                self._seq, self._ts, self._open = None, None, False
            self._ssrc = ssrc
        stats.packets += 1
        demuxer = self.demuxer
        if self._seq is not None:
            gap = (seq - self._seq) & 0xFFFF
            if gap != 1:
                if gap == 0 or gap >= 0x8000:
                    stats.late_packets += 1
                    return
                stats.lost_packets += gap - 1
                demuxer.lost()
                self._open = False
        self._seq = seq
        if self._open and ts != self._ts:
            demuxer.end_frame()  # the marked packet of the last frame never came, or was not marked
        self._ts = ts
        if start < end:
            demuxer.feed(memoryview(data)[start:end])
        self._open = True
        if second & 0x80:
            demuxer.end_frame()
            self._open = False

    def push_tcp(self, data: bytes | bytearray | memoryview) -> None:
        """Bytes of an RFC 4571 stream in any chunking: a 2-byte length, then that many bytes of RTP."""
        buf = self._tcp
        buf += data
        pos = 0
        end = len(buf)
        while end - pos >= 2:
            size = buf[pos] << 8 | buf[pos + 1]
            if end - pos - 2 < size:
                break
            if size:
                self.push_rtp(bytes(buf[pos + 2 : pos + 2 + size]))
            pos += 2 + size
        del buf[:pos]

    def flush(self) -> None:
        """The stream ended: emit the last frame if it is whole."""
        self.demuxer.flush()


def frame_tcp(packet: bytes) -> bytes:
    """One RTP packet with its RFC 4571 length prefix."""
    if len(packet) > 0xFFFF:
        raise ValueError("an RFC 4571 frame holds at most 65535 bytes")
    return len(packet).to_bytes(2, "big") + packet


def split_tcp(data: bytes) -> Iterator[bytes]:
    """The RTP packets of a whole RFC 4571 byte stream (a trailing partial frame is left out)."""
    pos = 0
    while len(data) - pos >= 2:
        size = data[pos] << 8 | data[pos + 1]
        if len(data) - pos - 2 < size:
            return
        yield data[pos + 2 : pos + 2 + size]
        pos += 2 + size


class PsRtpPacketizer:
    """The PS bytes of one frame → RTP packets of at most `max_packet` bytes (header included), one
    timestamp per frame (90 kHz), the marker bit on the last packet, sequence numbers running on."""

    def __init__(
        self, ssrc: int, *, payload_type: int = PS_PAYLOAD_TYPE, max_packet: int = 1400, sequence: int = 0
    ) -> None:
        if max_packet <= HEADER_SIZE:
            raise ValueError("max_packet must leave room for a payload")
        self.ssrc = ssrc & 0xFFFFFFFF
        self.payload_type = payload_type
        self.max_payload = max_packet - HEADER_SIZE
        self.sequence = sequence & 0xFFFF

    def packetize(self, ps_bytes: bytes, timestamp: int) -> list[bytes]:
        room = self.max_payload
        count = max(1, -(-len(ps_bytes) // room))
        ts = timestamp & 0xFFFFFFFF
        pack = _HEADER.pack
        out = []
        seq = self.sequence
        for index in range(count):
            marker = 0x80 if index == count - 1 else 0
            header = pack(0x80, marker | self.payload_type, seq, ts, self.ssrc)
            out.append(header + ps_bytes[index * room : (index + 1) * room])
            seq = (seq + 1) & 0xFFFF
        self.sequence = seq
        return out


class PsSender:
    """Access units → RTP packets of PS (RFC 4571 framed when `tcp`), for one RTP session. The RTP
    timestamp is the unit's decode time, so it only moves forward even with B-frames."""

    def __init__(
        self,
        ssrc: int,
        *,
        tcp: bool = False,
        payload_type: int = PS_PAYLOAD_TYPE,
        max_packet: int = 1400,
        muxer: PsMuxer | None = None,
    ) -> None:
        self.muxer = muxer if muxer is not None else PsMuxer()
        self.packetizer = PsRtpPacketizer(ssrc, payload_type=payload_type, max_packet=max_packet)
        self.tcp = tcp

    def packets(self, au: AccessUnit) -> list[bytes]:
        packets = self.packetizer.packetize(self.muxer.mux(au), au.decode_ts)
        return [frame_tcp(p) for p in packets] if self.tcp else packets
