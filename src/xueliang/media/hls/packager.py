"""LL-HLS from the channel's per-frame fragments: parts of about `part_target` seconds grouped into
segments cut at the first keyframe after `segment_target` seconds, a sliding window kept in memory.

A part is the concatenation of its fragments (moof+mdat pairs), and a segment is the concatenation of
its parts, so the same bytes serve LL-HLS clients (parts) and plain HLS clients (segments). The
packager is a synchronous channel listener; only the blocking waits are asynchronous."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from xueliang.media.channel import Fragment, InitSegment
from xueliang.media.fmp4 import TIMESCALE


@dataclass(frozen=True, slots=True)
class HlsConfig:
    segment_target: float = 2.0
    part_target: float = 0.5
    window: int = 6  # complete segments listed and kept
    parts_shown: int = 2  # complete segments that still list their parts (plus the open one)


@dataclass(slots=True)
class Part:
    index: int
    start: int
    independent: bool
    chunks: list[bytes] = field(default_factory=list)
    duration: int = 0
    data: bytes = b""


@dataclass(slots=True)
class Segment:
    msn: int
    epoch: int
    start: int
    discontinuity: bool
    parts: list[Part] = field(default_factory=list)  # closed parts only
    duration: int = 0
    complete: bool = False

    def data(self) -> bytes:
        return b"".join(part.data for part in self.parts)


class HlsPackager:
    """Keeps the window of segments and parts for one camera and answers what a playlist needs."""

    def __init__(self, config: HlsConfig | None = None) -> None:
        self.config = config or HlsConfig()
        self._segment_ticks = int(self.config.segment_target * TIMESCALE * 0.9)
        self._part_ticks = int(self.config.part_target * TIMESCALE)
        self.inits: dict[int, InitSegment] = {}
        self.segments: list[Segment] = []  # complete, oldest first
        self.current: Segment | None = None
        self.part: Part | None = None
        self.next_msn = 0
        self.discontinuity_sequence = 0
        self.target_duration = max(1, math.ceil(self.config.segment_target))
        self._last_duration = 0
        self._changed = asyncio.Event()
        self.closed = False

    # -- building ------------------------------------------------------------------------------------

    def on_item(self, item: InitSegment | Fragment) -> None:
        """Channel listener: remember init segments, place fragments into parts and segments."""
        if type(item) is InitSegment:
            self.inits[item.epoch] = item
            return
        assert type(item) is Fragment
        t = item.decode_time
        segment = self.current
        if segment is None or self.part is None:
            if not item.keyframe or item.epoch not in self.inits:
                return
            self._open_segment(t, item.epoch, discontinuity=bool(self.segments))
        elif item.epoch != segment.epoch:
            if not item.keyframe:
                return
            self._close_segment(t)
            self._open_segment(t, item.epoch, discontinuity=True)
        elif item.keyframe and t - segment.start >= self._segment_ticks:
            self._close_segment(t)
            self._open_segment(t, item.epoch, discontinuity=False)
        elif self.part.chunks and (
            item.keyframe or t + self._last_duration - self.part.start > self._part_ticks
        ):
            self._close_part(t)
            self.part = Part(len(segment.parts), t, item.keyframe)
        assert self.part is not None
        self.part.chunks.append(item.data)
        self._last_duration = item.duration

    def _open_segment(self, t: int, epoch: int, discontinuity: bool) -> None:
        self.current = Segment(self.next_msn, epoch, t, discontinuity)
        self.next_msn += 1
        self.part = Part(0, t, True)

    def _close_part(self, t: int) -> None:
        part, segment = self.part, self.current
        assert part is not None and segment is not None
        part.duration = t - part.start
        part.data = b"".join(part.chunks)
        part.chunks = []
        segment.parts.append(part)
        self.part = None
        self._notify()

    def _close_segment(self, t: int) -> None:
        self._close_part(t)
        segment = self.current
        assert segment is not None
        segment.duration = t - segment.start
        segment.complete = True
        self.segments.append(segment)
        self.current = None
        self.target_duration = max(self.target_duration, math.ceil(segment.duration / TIMESCALE))
        while len(self.segments) > self.config.window:
            self.segments.pop(0)
            if self.segments[0].discontinuity:  # its EXT-X-DISCONTINUITY tag leaves the playlist
                self.discontinuity_sequence += 1
        live = {s.epoch for s in self.segments} | {segment.epoch}
        for epoch in [e for e in self.inits if e not in live and e < max(self.inits)]:
            del self.inits[epoch]

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def close(self) -> None:
        """Wake every blocked request; the packager gets no more fragments."""
        self.closed = True
        self._notify()

    # -- lookups -------------------------------------------------------------------------------------

    def find(self, msn: int) -> Segment | None:
        if self.current is not None and self.current.msn == msn:
            return self.current
        if self.segments:
            offset = msn - self.segments[0].msn
            if 0 <= offset < len(self.segments):
                return self.segments[offset]
        return None

    def has(self, msn: int, part: int | None) -> bool:
        """Whether segment `msn` is complete (part None) or its part `part` is closed."""
        if self.segments and self.segments[-1].msn >= msn:
            return True
        segment = self.current
        if segment is None or part is None:
            return False
        return segment.msn > msn or (segment.msn == msn and len(segment.parts) > part)

    def last_msn(self) -> int:
        """The media sequence number of the newest segment listed (complete or open), -1 if none."""
        return self.next_msn - 1

    def has_complete_segment(self) -> bool:
        return bool(self.segments)

    async def wait_for(self, msn: int, part: int | None, within: float) -> bool:
        """Block until `has(msn, part)`; False on timeout or when the packager closes first."""
        return await self._wait(lambda: self.has(msn, part), within)

    async def wait_for_complete_segment(self, within: float) -> bool:
        """Block until a whole segment is listed: what a plain (not low-latency) HLS player needs from its
        first playlist, or it finds no segment and gives up."""
        return await self._wait(self.has_complete_segment, within)

    async def _wait(self, ready: Callable[[], bool], within: float) -> bool:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not ready():
            remaining = deadline - loop.time()
            if self.closed or remaining <= 0:
                return False
            try:
                async with asyncio.timeout(remaining):  # not wait_for: 3.11's can eat a cancel
                    await self._changed.wait()
            except TimeoutError:
                return ready()
        return True

    def segment_data(self, msn: int) -> bytes | None:
        segment = self.find(msn)
        return segment.data() if segment is not None and segment.complete else None

    def part_data(self, msn: int, index: int) -> bytes | None:
        segment = self.find(msn)
        if segment is None or index >= len(segment.parts):
            return None
        return segment.parts[index].data
