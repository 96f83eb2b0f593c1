"""RTP packets → access units: depacketize, merge same-timestamp NAL units, close a frame on the
marker bit (or when the next timestamp starts), drop frames damaged by loss, start at a keyframe."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from xueliang.media.codecs.params import (
    NAL_FLAGS,
    NAL_KEY,
    NAL_PARAMS,
    NAL_VCL,
    ParamSetTracker,
    reorder_depth,
)
from xueliang.media.frames import AccessUnit, Codec, CodecParams
from xueliang.media.rtp.h264 import H264Depacketizer
from xueliang.media.rtp.h265 import H265Depacketizer
from xueliang.media.rtp.packet import HEADER_SIZE, RtpPacket, parse_rtp
from xueliang.media.rtp.timeline import DecodeClock, Timeline

_MAX_CARRY = 16  # non-VCL NAL units held for the next frame; more means a broken sender
_PLAIN_HEADER = 0x80  # first byte of version 2 with no padding, extension or CSRCs
_HEADER = struct.Struct(">BBHQ")  # version/flags, marker + payload type, sequence, timestamp << 32 | SSRC
_TOO_SHORT = (0, 0, -2, -2)  # the fields `push_packets` takes for a packet with no payload: never a match


@dataclass(slots=True)
class AssemblerStats:
    frames: int = 0
    packets: int = 0
    lost_packets: int = 0
    late_packets: int = 0
    damaged_frames: int = 0
    skipped_frames: int = 0  # before the first keyframe, or without parameter sets


class FrameAssembler:
    """Feeds `emit` one AccessUnit per complete, undamaged frame (90 kHz clock, as RFC 6184 and
    RFC 7798 require). Malformed payloads raise MediaProtocolError; loss never raises."""

    __slots__ = (  # every packet reads these: kept in the object itself, not in a separate dict
        "_carry",
        "_closed_ts",
        "_damaged",
        "_depack",
        "_depth_of",
        "_emit",
        "_flags",
        "_has_vcl",
        "_nalus",
        "_open",
        "_params",
        "_resync_on_loss",
        "_seq",
        "_ssrc",
        "_timeline",
        "_ts",
        "_waiting_keyframe",
        "codec",
        "payload_type",
        "stats",
    )

    def __init__(
        self,
        codec: Codec,
        payload_type: int,
        emit: Callable[[AccessUnit], None],
        *,
        params: CodecParams | None = None,
        timeline: Timeline | None = None,
        donl: bool = False,
        wait_keyframe_after_loss: bool = False,
    ) -> None:
        self.codec = codec
        self.payload_type = payload_type
        self.stats = AssemblerStats()
        self._emit = emit
        self._params = ParamSetTracker(codec, params)
        self._timeline = timeline if timeline is not None else Timeline()
        self._timeline.new_session()
        self._depack: H264Depacketizer | H265Depacketizer = (
            H264Depacketizer() if codec is Codec.h264 else H265Depacketizer(donl)
        )
        self._resync_on_loss = wait_keyframe_after_loss
        self._ssrc: int | None = None
        self._seq: int | None = None
        self._open = False
        self._ts = 0
        self._closed_ts: int | None = None
        self._nalus: list[bytes] = []
        self._has_vcl = False
        self._damaged = False
        self._carry: list[bytes] = []
        self._waiting_keyframe = True
        self._flags = NAL_FLAGS[codec]
        self._depth_of: CodecParams | None = None  # the params whose reorder depth the clock has

    @property
    def params(self) -> CodecParams | None:
        return self._params.current

    def resync(self) -> None:
        """Drop frames until the next keyframe (the consumer lost some frames)."""
        self._waiting_keyframe = True

    def push(self, packet: RtpPacket) -> None:
        self._packet(
            packet.payload_type,
            packet.sequence,
            packet.timestamp,
            packet.ssrc,
            packet.marker,
            packet.payload,
        )

    def push_rtp(self, data: bytes, start: int = 0, end: int | None = None) -> None:
        """One RTP packet as read from the wire, `data[start:end]` (see `push_packets`)."""
        self.push_packets(data, (start, len(data) if end is None else end))

    def push_packets(self, data: bytes, spans: Sequence[int]) -> None:
        """The RTP packets `data[spans[0]:spans[1]]`, `data[spans[2]:spans[3]]`, ... as read from the
        wire: what `push(parse_rtp(...))` does for each, without building an RtpPacket for the usual
        header (no padding, extension or CSRCs). A packet that continues the open frame (the next
        sequence number, same timestamp and SSRC) goes straight to the depacketizer's `extend`: most
        packets of a frame are pieces of fragmented units. One call per read, not per packet: on
        this path a Python call costs as much as the packet's work."""
        extend = self._depack.extend
        unpack = _HEADER.unpack_from
        payload_type = self.payload_type
        marked_type = payload_type | 0x80
        types = (payload_type, marked_type)  # without and with the marker bit
        stats = self.stats
        flags = self._flags
        # What continues the open frame: the next sequence number (-1: no frame is open) and its
        # timestamp and SSRC as one 64-bit value. Reloaded whenever a packet took the general path
        # or closed the frame.
        expect, key = self._continuation()
        nalus = self._nalus
        pairs = iter(spans)
        for start, end in zip(pairs, pairs, strict=True):
            first, second, sequence, stamp = unpack(data, start) if end - start > HEADER_SIZE else _TOO_SHORT
            if sequence == expect and stamp == key and first == _PLAIN_HEADER and second in types:
                self._seq = sequence
                stats.packets += 1
                if extend(data, start + HEADER_SIZE, end, nalus):
                    expect = (sequence + 1) & 0xFFFF
                    if not self._has_vcl and nalus and flags[nalus[-1][0]] & NAL_VCL:
                        self._has_vcl = True
                    if second == payload_type or not self._has_vcl:
                        continue
                    self._flush()
                else:
                    self._payload(data[start + HEADER_SIZE : end], second == marked_type)
            elif first == _PLAIN_HEADER:
                self._packet(
                    second & 0x7F,
                    sequence,
                    stamp >> 32,
                    stamp & 0xFFFFFFFF,
                    second > 0x7F,
                    data[start + HEADER_SIZE : end],
                )
            else:  # padding, extension, CSRCs, or no payload: parse_rtp checks it all
                self.push(parse_rtp(data[start:end]))
            expect, key = self._continuation()
            nalus = self._nalus

    def _continuation(self) -> tuple[int, int]:
        """The sequence number and the timestamp-and-SSRC key of a packet continuing the open frame;
        (-1, -1) when no frame is open."""
        if not self._open:
            return -1, -1
        return (self._seq + 1) & 0xFFFF, (self._ts << 32) | self._ssrc  # type: ignore[operator]

    def _packet(
        self, payload_type: int, sequence: int, ts: int, ssrc: int, marker: bool, payload: bytes
    ) -> None:
        if payload_type != self.payload_type:
            return
        stats = self.stats
        stats.packets += 1
        if ssrc != self._ssrc:
            if self._ssrc is not None:
                self._restart()
            self._ssrc = ssrc
        if self._seq is not None:
            gap = (sequence - self._seq) & 0xFFFF
            if gap != 1:
                if gap == 0 or gap >= 0x8000:
                    stats.late_packets += 1
                    return
                stats.lost_packets += gap - 1
                self._loss(ts)
        self._seq = sequence
        if self._open:
            if ts != self._ts:
                self._flush()
                self._open, self._ts, self._has_vcl = True, ts, False
        elif ts == self._closed_ts:
            self._straggler(payload)
            return
        else:
            self._open, self._ts, self._has_vcl = True, ts, False
        self._payload(payload, marker)

    def _payload(self, payload: bytes, marker: bool) -> None:
        """The payload of a packet of the open frame."""
        depack = self._depack
        nalus = depack.push(payload)
        if depack.broken:
            depack.broken = False
            self._damaged = True
        if nalus:
            self._nalus += nalus
            if not self._has_vcl:
                flags = self._flags
                for nalu in nalus:
                    if flags[nalu[0]] & NAL_VCL:
                        self._has_vcl = True
                        break
        if marker and self._has_vcl:
            self._flush()

    def _loss(self, ts: int) -> None:
        if self._open and ts != self._ts:
            self._damaged = True
            self._flush()
        self._damaged = True
        self._depack.reset()
        self._depack.broken = False

    def _restart(self) -> None:
        """The sender changed SSRC: a new stream on the same session."""
        self._open, self._nalus, self._carry, self._damaged = False, [], [], False
        self._seq, self._closed_ts, self._waiting_keyframe = None, None, True
        self._depack.reset()
        self._depack.broken = False
        self._timeline.new_session()

    def _straggler(self, payload: bytes) -> None:
        """A packet for a frame already closed by its marker: keep parameter sets, drop slices."""
        self.stats.late_packets += 1
        flags = self._flags
        for nalu in self._depack.push(payload):
            if not flags[nalu[0]] & NAL_VCL and len(self._carry) < _MAX_CARRY:
                self._carry.append(nalu)
        self._depack.broken = False

    def _flush(self) -> None:
        nalus = self._carry + self._nalus if self._carry else self._nalus
        self._open, self._nalus, self._closed_ts = False, [], self._ts
        if self._damaged:
            self._damaged, self._carry = False, []
            self.stats.damaged_frames += 1
            if self._resync_on_loss:
                self._waiting_keyframe = True
            return
        if not self._has_vcl:
            self._carry = nalus[-_MAX_CARRY:]
            return
        self._carry = []
        seen = 0
        flags = self._flags
        for nalu in nalus:
            seen |= flags[nalu[0]]
        params = self._params.update(nalus) if seen & NAL_PARAMS else self._params.current
        keyframe = bool(seen & NAL_KEY)
        if params is None or (self._waiting_keyframe and not keyframe):
            self.stats.skipped_frames += 1
            return
        self._waiting_keyframe = False
        self.stats.frames += 1
        pts, dts = self._timeline.map(self._ts), None
        if params is not self._depth_of:
            self._reorder(params)
        clock = self._timeline.clock
        if clock is not None:  # B-frames: RTP gives presentation times only; derive decode times
            pts, dts = clock.stamp(pts)
        self._emit(AccessUnit(nalus, pts, keyframe, params, dts, time.monotonic_ns()))

    def _reorder(self, params: CodecParams) -> None:
        """New parameter sets: how deep this stream reorders (set on a keyframe, where decoders start
        empty). A timeline that once had a decode clock keeps it: its times include the clock's shift."""
        self._depth_of = params
        depth = reorder_depth(params)
        clock = self._timeline.clock
        if clock is not None:
            clock.depth = depth
            clock.new_session()
        elif depth:
            self._timeline.clock = DecodeClock(depth)
