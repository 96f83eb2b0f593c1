"""One forward-only 90 kHz timeline across sessions: unwraps 32-bit RTP timestamps and re-bases each
new session (reconnect, SSRC change, file loop) just after the last timestamp handed out, so players
and muxers downstream never see time run backwards."""

from __future__ import annotations

_WRAP = 1 << 32
_HALF = 1 << 31


class Timeline:
    """Map successive 32-bit timestamps to 64-bit ones; `new_session()` before each new stream."""

    __slots__ = ("_last_out", "_max_back", "_max_jump", "_max_out", "_prev", "_step")

    def __init__(self, default_step: int = 3600, max_jump: int = 10 * 90000, max_back: int = 90000) -> None:
        self._prev: int | None = None  # last raw timestamp of this session
        self._last_out = 0
        self._max_out: int | None = None  # highest timestamp handed out, across sessions
        self._step = default_step  # last frame duration seen: the gap left at a re-base
        self._max_jump = max_jump
        self._max_back = max_back

    def new_session(self) -> None:
        """The next timestamp starts a new stream; it maps to one frame after the latest so far."""
        self._prev = None

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
