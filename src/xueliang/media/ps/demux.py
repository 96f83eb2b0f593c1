"""MPEG program stream → H.264/H.265 access units, for GB/T 28181 cameras.

Two layers. The PS layer walks pack headers (MPEG-2 with stuffing, and MPEG-1 as FFmpeg's `-f mpeg`
writes them), system headers, the program stream map (which names the video codec) and PES packets,
and hands the payload of the one video stream on, with each PES packet's PTS/DTS. Audio and private
streams are skipped by their length. The ES layer finds NAL units by their start codes and splits
them into access units by content (H.264 §7.4.1.2.3, H.265 §7.4.2.4.4: an AUD, a parameter set, a
prefix SEI or the first slice of a picture after a slice begins the next one), so a frame may span
any number of PES packets and a PES packet may hold several frames. A PES time stamp belongs to the
first access unit that starts in its payload (ISO/IEC 13818-1 §2.4.3.7).

A frame is complete when the next one begins, or earlier when the caller knows it ended
(`end_frame`: the RTP marker bit). Loss (`lost`) drops the open frame and everything up to the next
pack header. Malformed input never raises: it is counted in `stats` and dropped the same way.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from xueliang.media.codecs.params import NAL_FLAGS, NAL_KEY, NAL_PARAMS, NAL_VCL, ParamSetTracker
from xueliang.media.errors import MediaProtocolError
from xueliang.media.frames import AccessUnit, Codec, CodecParams
from xueliang.media.ps import packets as ps
from xueliang.media.rtp.timeline import Timeline

MAX_FRAME_BYTES = 8 * 1024 * 1024  # a larger access unit is a broken or hostile sender
_WRAP32 = 0xFFFFFFFF
_START = b"\x00\x00\x01"
_PACK = b"\x00\x00\x01\xba"
_COMPACT = 1 << 16  # consumed PS bytes kept before the buffer is trimmed


def _au_start_table(codec: Codec) -> bytes:
    """Per first byte of a NAL unit: 1 if that non-VCL unit, after a slice, begins the next access unit."""
    table = bytearray(256)
    for first in range(256):
        if codec is Codec.h264:
            kind = first & 0x1F
            # not 14 (SVC prefix): it precedes every base slice, not only a picture's first
            table[first] = kind in (6, 7, 8, 9) or 15 <= kind <= 18
        else:
            kind = (first >> 1) & 0x3F
            table[first] = 32 <= kind <= 35 or kind == 39 or 41 <= kind <= 44 or 48 <= kind <= 55
    return bytes(table)


_AU_START = {codec: _au_start_table(codec) for codec in Codec}
_VIDEO_TYPES = {ps.ST_H264: Codec.h264, ps.ST_H265: Codec.h265}


def sniff_codec(first: int, second: int) -> Codec | None:
    """The codec a parameter set or AUD reveals by its header (None: this unit does not tell), for
    streams whose PS has no program stream map (FFmpeg writes none)."""
    if second == 0x01 and first & 0x81 == 0 and 32 <= (first >> 1) & 0x3F <= 35:
        return Codec.h265  # VPS, SPS, PPS or AUD with nuh_layer_id 0 and TemporalId 0
    if first & 0x80 == 0 and (first & 0x1F == 9 or (first & 0x1F == 7 and first & 0x60)):
        return Codec.h264  # AUD, or SPS (nal_ref_idc is never 0 for an SPS)
    return None


@dataclass(slots=True)
class PsStats:
    bytes: int = 0
    packs: int = 0
    video_pes: int = 0
    audio_pes: int = 0  # skipped
    other_pes: int = 0  # system headers, padding, private and other streams: skipped
    psms: int = 0
    frames: int = 0
    malformed: int = 0  # structures that made no sense; each one drops the open frame and resyncs
    resyncs: int = 0  # times the parser searched for the next pack header
    damaged_frames: int = 0  # dropped after loss or malformed data
    skipped_frames: int = 0  # before the first keyframe, or before parameter sets or the codec
    unsupported: int = 0  # video PES of a codec we do not take (SVAC, MPEG-4...)
    video_type: int | None = None  # stream_type of the video stream in the PSM, when one was seen
    audio_type: int | None = None  # and of the first audio stream


class PsDemuxer:
    """Feed PS bytes in any chunking with `feed`; `emit` gets one AccessUnit per complete, undamaged
    frame, from the first keyframe on, with time stamps on a forward-only 90 kHz timeline."""

    def __init__(
        self,
        emit: Callable[[AccessUnit], None],
        *,
        codec: Codec | None = None,
        timeline: Timeline | None = None,
        wait_keyframe_after_loss: bool = False,
        max_frame_bytes: int = MAX_FRAME_BYTES,
    ) -> None:
        self.stats = PsStats()
        self._emit = emit
        self._timeline = timeline if timeline is not None else Timeline()
        self._timeline.new_session()
        self._resync_on_loss = wait_keyframe_after_loss
        self._max_frame = max_frame_bytes
        # PS layer
        self._buf = bytearray()
        self._pos = 0
        self._need = 0  # buffer length the incomplete structure at _pos needs before parsing resumes
        self._synced = False  # a pack header was seen since the start or the last loss
        self._video_id: int | None = None
        self._stream_types: dict[int, int] = {}
        # ES layer
        self.codec: Codec | None = None
        self._params: ParamSetTracker | None = None
        self._flags = b""
        self._au_start = b""
        self._es = bytearray()
        self._es_base = 0  # absolute ES offset of _es[0]
        self._scan = 0  # where in _es the next start code search begins
        self._nal_at = -1  # index in _es of the open NAL unit's first byte; -1: none open
        self._stamps: deque[tuple[int, int, int | None]] = deque()  # (ES offset, PTS, DTS) per PES
        # the open access unit
        self._nalus: list[bytes] = []
        self._seen = 0  # NAL_* flags of its units
        self._size = 0
        self._stamp: tuple[int, int | None] | None = None  # its (PTS, DTS) as sent
        self._damaged = False
        self._waiting_keyframe = True
        self._last_dts: int | None = None  # raw DTS (or PTS) of the last frame, for frames without one
        self._step = 3600
        if codec is not None:
            self._set_codec(codec)

    @property
    def params(self) -> CodecParams | None:
        return self._params.current if self._params else None

    # input ---------------------------------------------------------------------------------------

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """PS bytes as they arrive: any chunk boundaries, partial structures kept for the next call."""
        self.stats.bytes += len(data)
        if self._pos and self._pos >= len(self._buf):
            self._buf.clear()
            self._pos = 0
        self._buf += data
        if len(self._buf) < self._need:  # the PES packet being received is still incomplete
            return
        try:
            self._parse()
        except (MediaProtocolError, IndexError, ValueError):
            self._malformed()

    def end_frame(self) -> None:
        """The sender says a frame ended here (the RTP marker bit): emit it without waiting for the
        next one. Units held without a slice (parameter sets sent ahead) wait for their picture."""
        try:
            self._parse()
            self._close_nal(final=True)
            if self._seen & NAL_VCL:
                self._finish()
        except (MediaProtocolError, IndexError, ValueError):
            self._malformed()

    def lost(self) -> None:
        """Data went missing (an RTP sequence gap): drop the open frame, resync at the next pack."""
        partial = len(self._buf) > self._pos  # a PES packet still incomplete: its frame is damaged
        self._buf.clear()
        self._pos = 0
        self._need = 0
        if self._synced:
            self.stats.resyncs += 1
        self._synced = False
        self._drop_es(partial)
        if self._resync_on_loss:
            self._waiting_keyframe = True

    def flush(self) -> None:
        """End of the stream: emit the last frame if it is whole."""
        self.end_frame()

    def reset(self) -> None:
        """A new stream on the same session (the sender's SSRC changed): start over at a keyframe."""
        self.lost()
        self._waiting_keyframe = True
        self._last_dts = None
        self._timeline.new_session()

    # PS layer ------------------------------------------------------------------------------------

    def _parse(self) -> None:
        buf = self._buf
        pos = self._pos
        end = len(buf)
        stats = self.stats
        need = 0
        while end - pos >= 6:
            if not self._synced:
                found = buf.find(_PACK, pos)
                if found < 0:
                    pos = max(pos, end - 3)
                    break
                pos = found
                self._synced = True
            if buf[pos] or buf[pos + 1] or buf[pos + 2] != 1:
                stats.malformed += 1
                self._lose_sync()
                continue
            sid = buf[pos + 3]
            if sid == ps.PACK_START:
                first = buf[pos + 4]
                if first & 0xC0 == 0x40:  # MPEG-2
                    if end - pos < 14:
                        break
                    size = 14 + (buf[pos + 13] & 0x07)
                elif first & 0xF0 == 0x20:  # MPEG-1
                    size = 12
                else:
                    stats.malformed += 1
                    self._lose_sync()
                    pos += 4
                    continue
                if end - pos < size:
                    break
                stats.packs += 1
                pos += size
                continue
            if sid == ps.END_CODE:
                pos += 4
                continue
            if sid < ps.END_CODE:  # a start code that is no PS structure: lost alignment
                stats.malformed += 1
                self._lose_sync()
                pos += 4
                continue
            total = 6 + (buf[pos + 4] << 8 | buf[pos + 5])
            if end - pos < total:
                need = pos + total
                break
            if ps.VIDEO_FIRST <= sid <= ps.VIDEO_LAST:
                if not self._video_pes(buf, pos, pos + total, sid):
                    stats.malformed += 1
                    self._lose_sync()
            elif ps.AUDIO_FIRST <= sid <= ps.AUDIO_LAST:
                stats.audio_pes += 1
            elif sid == ps.PROGRAM_STREAM_MAP:
                self._psm(buf, pos + 6, pos + total)
            else:
                stats.other_pes += 1
            pos += total
        self._pos = pos
        if pos > _COMPACT:
            del buf[:pos]
            self._pos = 0
            need = max(need - pos, 0)
        self._need = need

    def _lose_sync(self) -> None:
        if self._synced:
            self.stats.resyncs += 1
        self._synced = False
        self._drop_es()

    def _malformed(self) -> None:
        self.stats.malformed += 1
        self._buf.clear()
        self._pos = 0
        self._need = 0
        self._lose_sync()

    def _psm(self, buf: bytearray, pos: int, end: int) -> None:
        """Program stream map: stream_type per elementary stream id (the CRC is not checked: senders
        get it wrong, and the PES data says the rest)."""
        self.stats.psms += 1
        if end - pos < 10:
            self.stats.malformed += 1
            return
        info = buf[pos + 2] << 8 | buf[pos + 3]
        pos += 4 + info
        if pos + 2 > end:
            self.stats.malformed += 1
            return
        stop = min(pos + 2 + (buf[pos] << 8 | buf[pos + 1]), end - 4)
        pos += 2
        types = self._stream_types
        while pos + 4 <= stop:
            stream_type, sid = buf[pos], buf[pos + 1]
            types[sid] = stream_type
            if ps.VIDEO_FIRST <= sid <= ps.VIDEO_LAST and self._video_id in (None, sid):
                self.stats.video_type = stream_type
                codec = _VIDEO_TYPES.get(stream_type)
                if codec is not None and codec is not self.codec:
                    self._set_codec(codec)
            elif ps.AUDIO_FIRST <= sid <= ps.AUDIO_LAST and self.stats.audio_type is None:
                self.stats.audio_type = stream_type
            pos += 4 + (buf[pos + 2] << 8 | buf[pos + 3])

    def _video_pes(self, buf: bytearray, pos: int, end: int, sid: int) -> bool:
        """One whole video PES packet; False if its header is malformed."""
        if end - pos < 7:  # no header at all (a length of 0 means "unbounded" only in a TS)
            return False
        if self._video_id is None:
            self._video_id = sid
        elif sid != self._video_id:
            self.stats.other_pes += 1  # a second video stream: not ours to show
            return True
        stream_type = self._stream_types.get(sid)
        if stream_type is not None and stream_type not in _VIDEO_TYPES:
            self.stats.unsupported += 1
            return True
        self.stats.video_pes += 1
        pts: int | None = None
        dts: int | None = None
        if buf[pos + 6] & 0xC0 == 0x80:  # MPEG-2 PES header
            if end - pos < 9:
                return False
            flags = buf[pos + 7]
            start = pos + 9 + buf[pos + 8]
            if start > end:
                return False
            if flags & 0x80:
                if start - pos < 14:
                    return False
                pts = ps.read_ts(buf, pos + 9)
                if flags & 0x40:
                    if start - pos < 19:
                        return False
                    dts = ps.read_ts(buf, pos + 14)
        else:  # MPEG-1 packet header: stuffing, STD buffer, time stamps
            start = pos + 6
            limit = min(end, start + 16)
            while start < limit and buf[start] == 0xFF:
                start += 1
            if start < end and buf[start] & 0xC0 == 0x40:
                start += 2
            if start >= end:
                return start == end
            code = buf[start] & 0xF0
            if code == 0x20 and start + 5 <= end:
                pts = ps.read_ts(buf, start)
                start += 5
            elif code == 0x30 and start + 10 <= end:
                pts = ps.read_ts(buf, start)
                dts = ps.read_ts(buf, start + 5)
                start += 10
            elif buf[start] == 0x0F:
                start += 1
            else:
                return False
        if start < end:
            self._video_payload(buf, start, end, pts, dts)
        return True

    # ES layer ------------------------------------------------------------------------------------

    def _set_codec(self, codec: Codec) -> None:
        if self.codec is not None and codec is not self.codec:
            self._drop_es()
            self._waiting_keyframe = True
        self.codec = codec
        self._params = ParamSetTracker(codec)
        self._flags = NAL_FLAGS[codec]
        self._au_start = _AU_START[codec]

    def _video_payload(self, buf: bytearray, start: int, end: int, pts: int | None, dts: int | None) -> None:
        es = self._es
        if pts is not None:
            self._stamps.append((self._es_base + len(es), pts, dts))
            if len(self._stamps) > 64:  # PTS on PES packets that start no frame: keep the newest
                self._stamps.popleft()
        with memoryview(buf) as view, view[start:end] as part:
            es += part
        self._split(es)

    def _split(self, es: bytearray, final: bool = False) -> None:
        """NAL units whose end (the next start code) has arrived; at each start, the access unit
        boundary check. `final`: the data so far is all there is (no more header bytes will come)."""
        find = es.find
        at = self._nal_at
        need = 5 if self.codec is Codec.h264 else 6  # start code, NAL header, first slice header byte
        i = self._scan
        length = len(es)
        while True:
            j = find(_START, i)
            if j < 0:
                i = max(i, length - 2)
                break
            if j + need > length and not final:
                i = j
                break
            if at >= 0:
                self._nal(bytes(es[at:j]).rstrip(b"\x00"))
            at = i = j + 3
            if at < length:
                header = es[at : at + 3].ljust(3, b"\x00")
                self._begin(j, header[0], header[1], header[2])
        if at >= 0 and length - at > self._max_frame:  # one NAL unit larger than any frame may be
            self._damaged = True
            self._nalus, self._size = [], 0
            at = -1
            i = length
        keep = at if at >= 0 else i  # before the first start code: bytes that belong to nothing
        if keep > 0:
            del es[:keep]  # cheap: a bytearray drops its head without moving the rest
            self._es_base += keep
            i -= keep
            if at >= 0:
                at -= keep
        self._nal_at = at
        self._scan = max(i, 0)

    def _begin(self, j: int, first: int, second: int, third: int) -> None:
        """A NAL unit starts at `j`: if it begins a new access unit, the open one is complete."""
        if self.codec is None:
            codec = sniff_codec(first, second)
            if codec is None:
                return
            self._set_codec(codec)
        if self._seen & NAL_VCL:
            if self._flags[first] & NAL_VCL:
                new = (second if self.codec is Codec.h264 else third) & 0x80
            else:
                new = self._au_start[first]
            if new:
                self._finish()
        if self._stamp is None and not self._nalus:
            self._take_stamp(self._es_base + j + 3)

    def _take_stamp(self, offset: int) -> None:
        """The PTS/DTS of the PES packet the access unit starting at `offset` starts in."""
        stamps = self._stamps
        found = None
        while stamps and stamps[0][0] <= offset:
            found = stamps.popleft()
        if found is not None:
            self._stamp = (found[1], found[2])

    def _nal(self, nalu: bytes) -> None:
        if not nalu or self.codec is None:
            return
        self._nalus.append(nalu)
        self._seen |= self._flags[nalu[0]]
        self._size += len(nalu) + 64  # and what a list entry costs, so tiny units count too
        if self._size > self._max_frame:
            self._damaged = True
            self._nalus, self._size = [], 0

    def _close_nal(self, *, final: bool) -> None:
        """Treat the open NAL unit as complete (the frame ended)."""
        es = self._es
        self._split(es, final=final)
        at = self._nal_at
        if at >= 0:
            self._nal(bytes(es[at:]).rstrip(b"\x00"))
        self._es_base += len(es)
        es.clear()
        self._nal_at = -1
        self._scan = 0

    def _drop_es(self, damaged: bool = False) -> None:
        """Forget the open frame and the partial NAL unit (loss or malformed data)."""
        if damaged or self._nalus or self._nal_at >= 0 or self._damaged:
            self.stats.damaged_frames += 1
            if self._resync_on_loss:
                self._waiting_keyframe = True
        self._es_base += len(self._es)
        self._es.clear()
        self._nal_at = -1
        self._scan = 0
        self._stamps.clear()
        self._nalus, self._seen, self._size, self._stamp, self._damaged = [], 0, 0, None, False

    def _finish(self) -> None:
        """The open access unit is complete: emit it if whole, keyed and with parameter sets."""
        nalus, seen, stamp, damaged = self._nalus, self._seen, self._stamp, self._damaged
        self._nalus, self._seen, self._size, self._stamp, self._damaged = [], 0, 0, None, False
        if damaged:
            self.stats.damaged_frames += 1
            if self._resync_on_loss:
                self._waiting_keyframe = True
            return
        tracker = self._params
        assert tracker is not None
        try:
            params = tracker.update(nalus) if seen & NAL_PARAMS else tracker.current
        except MediaProtocolError:
            self.stats.malformed += 1
            self.stats.damaged_frames += 1
            return
        keyframe = bool(seen & NAL_KEY)
        if params is None or (self._waiting_keyframe and not keyframe):
            self.stats.skipped_frames += 1
            self._advance(stamp)
            return
        self._waiting_keyframe = False
        raw_pts, raw_dts = self._advance(stamp)
        decode = self._timeline.map(raw_dts & _WRAP32)
        shift = (raw_pts - raw_dts) & ps.TS_MASK
        if shift > 10 * 90000:  # a PTS before its DTS, or far after it: a broken sender
            shift = 0
        self.stats.frames += 1
        self._emit(
            AccessUnit(
                nalus,
                decode + shift,
                keyframe,
                params,
                decode if shift else None,
                time.monotonic_ns(),
            )
        )

    def _advance(self, stamp: tuple[int, int | None] | None) -> tuple[int, int]:
        """The raw (PTS, DTS) of a frame: as sent, or one frame after the last when it came without."""
        if stamp is None:
            last = self._last_dts
            raw_dts = 0 if last is None else (last + self._step) & ps.TS_MASK
            raw_pts = raw_dts
        else:
            raw_pts = stamp[0]
            raw_dts = stamp[0] if stamp[1] is None else stamp[1]
            if self._last_dts is not None:
                step = (raw_dts - self._last_dts) & ps.TS_MASK
                if 0 < step <= 90000:
                    self._step = step
        self._last_dts = raw_dts
        return raw_pts, raw_dts
