"""Audio RTP packets → AudioFrames: G.711 (RFC 3551, one frame per packet) and AAC-hbr (RFC 3640: a
16-bit AU-headers length, an AU-header per access unit, then the units; a unit larger than a packet
comes in fragments with the same timestamp). Loss drops what it damaged and never raises."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from xueliang.media.audio.aac import FRAME_SAMPLES
from xueliang.media.audio.frames import AudioCodec, AudioFrame
from xueliang.media.audio.sdp import AudioTrack
from xueliang.media.codecs.bits import BitReader
from xueliang.media.errors import MediaProtocolError
from xueliang.media.rtp.packet import RtpPacket, parse_rtp
from xueliang.media.rtp.timeline import Timeline

_MAX_AU = 64 * 1024


@dataclass(slots=True)
class AudioStats:
    frames: int = 0
    packets: int = 0
    lost_packets: int = 0
    bad_packets: int = 0  # malformed payloads, dropped


def audio_timeline(sample_rate: int) -> Timeline:
    """A forward-only timeline on the audio clock (jumps of more than 10 s re-base, like video)."""
    return Timeline(default_step=FRAME_SAMPLES, max_jump=10 * sample_rate, max_back=sample_rate)


class AudioAssembler:
    """Feeds `emit` one AudioFrame per AAC access unit or G.711 packet of the track."""

    def __init__(
        self, track: AudioTrack, emit: Callable[[AudioFrame], None], *, timeline: Timeline | None = None
    ) -> None:
        self.track = track
        self.config = track.config
        self.stats = AudioStats()
        self._emit = emit
        self._timeline = timeline if timeline is not None else audio_timeline(track.config.sample_rate)
        self._timeline.new_session()
        self._seq: int | None = None
        self._ssrc: int | None = None
        self._fragment: bytearray | None = None  # an AU arriving in pieces
        self._fragment_size = 0
        self._fragment_ts = 0

    def push_packets(self, data: bytes, spans: Sequence[int]) -> None:
        """RTP packets `data[spans[0]:spans[1]]`, ... as the RTSP connection read them."""
        pairs = iter(spans)
        for start, end in zip(pairs, pairs, strict=True):
            self.push_rtp(data[start:end])

    def push_rtp(self, data: bytes) -> None:
        try:
            packet = parse_rtp(data)
        except MediaProtocolError:
            self.stats.bad_packets += 1
            return
        if packet.payload_type != self.track.payload_type:
            return
        self.stats.packets += 1
        if packet.ssrc != self._ssrc:
            if self._ssrc is not None:
                self._timeline.new_session()
            self._ssrc, self._seq, self._fragment = packet.ssrc, None, None
        if self._seq is not None:
            gap = (packet.sequence - self._seq) & 0xFFFF
            if gap == 0 or gap >= 0x8000:
                return  # duplicate or late
            if gap > 1:
                self.stats.lost_packets += gap - 1
                self._fragment = None
        self._seq = packet.sequence
        try:
            if self.config.codec is AudioCodec.aac:
                self._aac(packet)
            else:
                self._g711(packet)
        except MediaProtocolError:
            self.stats.bad_packets += 1
            self._fragment = None

    def _out(self, data: bytes, pts: int, samples: int) -> None:
        self.stats.frames += 1
        self._emit(AudioFrame(data, pts, samples, self.config, time.monotonic_ns()))

    def _g711(self, packet: RtpPacket) -> None:
        samples = len(packet.payload) // self.config.channels
        if samples:
            self._out(packet.payload, self._timeline.map(packet.timestamp), samples)

    def _aac(self, packet: RtpPacket) -> None:
        payload = packet.payload
        if len(payload) < 2:
            raise MediaProtocolError("AAC RTP payload without AU headers")
        header_bits = int.from_bytes(payload[:2], "big")
        start = 2 + (header_bits + 7) // 8
        if start > len(payload):
            raise MediaProtocolError("AAC AU headers run past the payload")
        reader = BitReader(payload[2:start])
        track = self.track
        sizes: list[int] = []
        used = 0
        while True:
            width = track.size_length + (track.index_length if not sizes else track.index_delta_length)
            if used + width > header_bits:
                break
            sizes.append(reader.u(track.size_length))
            reader.skip(width - track.size_length)
            used += width
        body = payload[start:]
        if len(sizes) == 1 and sizes[0] > len(body):  # a fragment of a large access unit
            self._piece(packet, sizes[0], body)
            return
        self._fragment = None
        base = self._timeline.map(packet.timestamp)
        pos = 0
        for index, size in enumerate(sizes):
            if pos + size > len(body):
                raise MediaProtocolError("AAC access unit runs past the payload")
            self._out(body[pos : pos + size], base + index * FRAME_SAMPLES, FRAME_SAMPLES)
            pos += size

    def _piece(self, packet: RtpPacket, size: int, body: bytes) -> None:
        if size > _MAX_AU:
            raise MediaProtocolError("AAC access unit too large")
        if self._fragment is None or self._fragment_ts != packet.timestamp or self._fragment_size != size:
            self._fragment, self._fragment_size, self._fragment_ts = bytearray(), size, packet.timestamp
        self._fragment += body
        if len(self._fragment) >= size:
            data, self._fragment = bytes(self._fragment[:size]), None
            self._out(data, self._timeline.map(packet.timestamp), FRAME_SAMPLES)
