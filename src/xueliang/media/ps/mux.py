"""Access units → MPEG program stream packs, as GB/T 28181 senders make them (for an upper platform).

One pack per frame: an MPEG-2 pack header; at every keyframe a system header and a program stream map
(so a receiver that joins late learns the codec at the next keyframe); then the frame as Annex-B NAL
units (parameter sets first on a keyframe, taken from the unit's params when it has none in band) in
PES packets of the video stream 0xE0, split where one PES packet would pass its 16-bit length. The
first PES packet of a frame carries its PTS, and its DTS when that differs. Audio (G.711, AAC...),
when configured, goes into PES packets of stream 0xC0 in packs of its own.
"""

from __future__ import annotations

from xueliang.media.codecs.annexb import START_CODE
from xueliang.media.frames import AccessUnit, Codec
from xueliang.media.ps import packets as ps

_VIDEO_TYPE = {Codec.h264: ps.ST_H264, Codec.h265: ps.ST_H265}
_PES_ROOM = ps.MAX_PES_LENGTH - 3 - 10  # PES payload bytes after the flags, header length and PTS+DTS
_SCR_LEAD = 3600  # the SCR runs one frame (at 25 fps) ahead of the decode time


class PsMuxer:
    """`mux(au)` gives the PS bytes of one frame; `mux_audio(data, pts)` those of one audio frame.

    `mux_rate` is the pack header's rate in units of 50 bytes/s (receivers ignore it; the default says
    10 Mbit/s). `pack_stuffing` (0..7) adds stuffing bytes to every pack header, as some cameras do.
    `max_pes_payload` bounds the bytes of one PES packet (cameras use anything from 4 KB to 64 KB)."""

    def __init__(
        self,
        *,
        audio_type: int | None = None,
        mux_rate: int = 25_000,
        pack_stuffing: int = 0,
        max_pes_payload: int = _PES_ROOM,
    ) -> None:
        if not 1 <= max_pes_payload <= _PES_ROOM:
            raise ValueError(f"max_pes_payload must be 1..{_PES_ROOM}")
        if not 0 <= pack_stuffing <= 7:
            raise ValueError("pack_stuffing must be 0..7")
        self.audio_type = audio_type
        self.mux_rate = mux_rate
        self.pack_stuffing = pack_stuffing
        self.max_pes_payload = max_pes_payload
        self._codec: Codec | None = None
        self._version = 0  # PSM version: counts codec changes

    def mux(self, au: AccessUnit) -> bytes:
        """One frame as a pack (system header and PSM too if it is a keyframe or the codec changed)."""
        codec = au.params.codec
        parts = [ps.pack_header(au.decode_ts - _SCR_LEAD, self.mux_rate, self.pack_stuffing)]
        if codec is not self._codec:
            if self._codec is not None:
                self._version = (self._version + 1) & 0x1F
            self._codec = codec
            parts.append(self.system_header())
            parts.append(self.stream_map(codec))
        elif au.keyframe:
            parts.append(self.system_header())
            parts.append(self.stream_map(codec))
        nalus = au.nalus
        if au.keyframe:
            params = au.params
            have = {bytes(n) for n in nalus}
            sets = [n for n in (params.vps, params.sps, params.pps) if n and n not in have]
            if sets:
                nalus = sets + list(nalus)
        data = b"".join(START_CODE + n for n in nalus)
        dts = au.dts if au.dts is not None and au.dts != au.pts else None
        parts.extend(pes_packets(ps.VIDEO_ID, data, au.pts, dts, self.max_pes_payload))
        return b"".join(parts)

    def mux_audio(self, data: bytes, pts: int) -> bytes:
        """One audio frame (G.711 samples, an ADTS AAC frame...) as a pack with its own PES packets."""
        if self.audio_type is None:
            raise ValueError("this muxer has no audio stream")
        header = ps.pack_header(pts - _SCR_LEAD, self.mux_rate, self.pack_stuffing)
        return header + b"".join(pes_packets(ps.AUDIO_ID, data, pts, None, self.max_pes_payload))

    def system_header(self) -> bytes:
        """The system header: bounds (rate, one video and at most one audio stream) and buffer sizes."""
        rate = self.mux_rate & 0x3FFFFF
        audio = self.audio_type is not None
        body = bytes(
            (
                0x80 | (rate >> 15),
                (rate >> 7) & 0xFF,
                ((rate << 1) & 0xFE) | 1,
                (1 if audio else 0) << 2 | 0x00,  # audio_bound, fixed_flag 0, CSPS_flag 0
                0xE1,  # system_audio_lock, system_video_lock, marker, video_bound 1
                0x7F,  # packet_rate_restriction 0, reserved
                ps.VIDEO_ID,
                0xE0 | 0x04,  # P-STD buffer bound: scale 1 (KiB), 1024 KiB
                0x00,
            )
        )
        if audio:
            body += bytes((ps.AUDIO_ID, 0xC0, 0x20))  # scale 0 (128 bytes), 32 × 128 bytes
        return b"\x00\x00\x01\xbb" + len(body).to_bytes(2, "big") + body

    def stream_map(self, codec: Codec) -> bytes:
        """The program stream map naming the video codec (and the audio one), with its CRC."""
        entries = bytes((_VIDEO_TYPE[codec], ps.VIDEO_ID, 0, 0))
        if self.audio_type is not None:
            entries += bytes((self.audio_type, ps.AUDIO_ID, 0, 0))
        body = (
            bytes((0xE0 | self._version, 0xFF, 0, 0))  # current_next_indicator, version, marker; no info
            + len(entries).to_bytes(2, "big")
            + entries
        )
        length = len(body) + 4
        head = b"\x00\x00\x01\xbc" + length.to_bytes(2, "big") + body
        return head + ps.crc32_mpeg2(head).to_bytes(4, "big")


def pes_packets(
    sid: int, data: bytes, pts: int | None, dts: int | None, room: int = _PES_ROOM
) -> list[bytes]:
    """PES packets of stream `sid` carrying `data`, at most `room` payload bytes each: the first with
    the time stamps (none when `pts` is None) and the data alignment flag."""
    if not 1 <= room <= _PES_ROOM:
        raise ValueError(f"room must be 1..{_PES_ROOM}")
    out: list[bytes] = []
    prefix = bytes((0, 0, 1, sid))
    if pts is None:
        stamp = b"\x84\x00\x00"
    elif dts is None:
        stamp = b"\x84\x80\x05" + ps.write_ts(0b0010, pts)
    else:
        stamp = b"\x84\xc0\x0a" + ps.write_ts(0b0011, pts) + ps.write_ts(0b0001, dts)
    for pos in range(0, max(len(data), 1), room):
        chunk = data[pos : pos + room]
        header = stamp if pos == 0 else b"\x80\x00\x00"
        out.append(prefix + (len(header) + len(chunk)).to_bytes(2, "big") + header + chunk)
    return out
