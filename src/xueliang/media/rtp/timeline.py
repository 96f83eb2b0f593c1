"""One forward-only 90 kHz timeline across sessions: unwraps 32-bit RTP timestamps and re-bases each
new session (reconnect, SSRC change, file loop) just after the last timestamp handed out, so players
and muxers downstream never see time run backwards."""

from __future__ import annotations

import heapq

_WRAP = 1 << 32
_HALF = 1 << 31


class Timeline:
    """Map successive 32-bit timestamps to 64-bit ones; `new_session()` before each new stream."""

    __slots__ = ("_last_out", "_max_back", "_max_jump", "_max_out", "_prev", "_step", "clock")

    def __init__(self, default_step: int = 3600, max_jump: int = 10 * 90000, max_back: int = 90000) -> None:
        self._prev: int | None = None  # last raw timestamp of this session
        self._last_out = 0
        self._max_out: int | None = None  # highest timestamp handed out, across sessions
        self._step = default_step  # last frame duration seen: the gap left at a re-base
        self._max_jump = max_jump
        self._max_back = max_back
        self.clock: DecodeClock | None = None  # decode times of a stream with B-frames, kept across sessions

    def new_session(self) -> None:
        """The next timestamp starts a new stream; it maps to one frame after the latest so far."""
        self._prev = None
        if self.clock is not None:
            self.clock.new_session()

    def map(self, ts: int) -> int:
        if self._prev is None:
            out = 0 if self._max_out is None else self._max_out + self._step
        else:
            delta = ((ts - self._prev + _HALF) % _WRAP) - _HALF
            if -self._max_back <= delta <= self._max_jump:
                out = self._last_out + delta
                if delta > 0:
                    self._step = delta
            else:  # the sender's clock jumped: treat as a new stream
                out = (self._max_out if self._max_out is not None else self._last_out) + self._step
        self._prev = ts
        self._last_out = out
        if self._max_out is None or out > self._max_out:
            self._max_out = out
        return out


_MAX_DEPTH = 16  # H.264/H.265 never reorder more than a full DPB


class DecodeClock:
    """Decode timestamps for a stream with B-frames, where RTP carries only presentation times.

    Frames arrive in decode order. A decoder that may hold `depth` frames for reordering shows a frame
    once it has `depth + 1`: the smallest presentation time among them. That output time, taken when
    frame i arrives, is frame i's decode time: it never exceeds frame i's own presentation time and
    only grows, with no waiting for later frames (no added latency). The first `depth` frames of a
    session get times one frame apart before the first presentation time; every time is shifted by a
    constant (only ever raised, at a session start) so that decode time never runs backwards across
    reconnects. A stream that reorders deeper than it declared deepens the clock instead of
    producing a decode time after its presentation time."""

    __slots__ = ("_count", "_first", "_heap", "_last", "_shift", "_step", "depth")

    def __init__(self, depth: int, step: int = 3600) -> None:
        self.depth = min(depth, _MAX_DEPTH)
        self._step = step
        self._shift = depth * step  # the first frame's decode time is its presentation time
        self._heap: list[int] = []
        self._first: int | None = None
        self._count = 0
        self._last: int | None = None  # last decode time handed out

    def new_session(self) -> None:
        """The next frame starts a new stream (its decoder starts empty)."""
        self._heap, self._first, self._count = [], None, 0

    def stamp(self, pts: int) -> tuple[int, int]:
        """(presentation, decode) times for the next frame in decode order."""
        last = self._last
        if self._first is None:
            lead = pts + self._shift - self.depth * self._step
            if last is not None and lead <= last:
                self._shift += last + 1 - lead
            self._first = pts + self._shift
        pts += self._shift
        heap = self._heap
        heapq.heappush(heap, pts)
        if len(heap) > self.depth:
            dts = heapq.heappop(heap)
        else:
            dts = min(self._first - (self.depth - self._count) * self._step, pts)
        self._count += 1
        if last is not None and dts <= last:  # shown before a frame already decoded: deeper than said
            dts = last + 1
            pts = max(pts, dts)
            if self.depth < _MAX_DEPTH:  # start over one frame deeper, as after a reconnect
                self.depth += 1
                self.new_session()
        self._last = dts
        return pts, dts
