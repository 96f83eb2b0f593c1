"""A small jitter buffer for RTP that arrives over UDP: packets that come out of order (routers and
Wi-Fi links swap neighbours) are put back in sequence order before the frame assembler sees them, so
they are not counted as loss and their frames are not dropped as damaged. Bounded by packets and by
time: a missing packet is waited for at most `delay` seconds (or until `capacity` later packets are
held), then the assembler is handed what follows and sees the gap as the loss it is.

TCP interleaving never reorders: only the UDP ingest uses this."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

_RESTART = 3000  # a jump this far ahead is a sender restart, not reordering: no waiting for the gap


class ReorderBuffer:
    """Feeds `deliver` RTP packets in sequence order; `push` each datagram as it arrives."""

    __slots__ = (
        "_deliver",
        "_expected",
        "_held",
        "_loop",
        "_timer",
        "capacity",
        "delay",
        "reordered",
        "skipped",
    )

    def __init__(
        self,
        deliver: Callable[[bytes], None],
        *,
        capacity: int = 64,
        delay: float = 0.05,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._deliver = deliver
        self._loop = loop or asyncio.get_running_loop()
        self._expected: int | None = None
        self._held: dict[int, tuple[bytes, float]] = {}  # sequence -> (packet, arrival)
        self._timer: asyncio.TimerHandle | None = None
        self.capacity = capacity
        self.delay = delay
        self.reordered = 0  # packets held until their turn (arrived ahead of a missing one)
        self.skipped = 0  # sequence numbers given up on (real loss, or later than `delay`)

    @property
    def held(self) -> int:
        return len(self._held)

    def push(self, data: bytes) -> None:
        if len(data) < 12 or data[0] >> 6 != 2:
            self._deliver(data)  # not RTP: the assembler says what is wrong with it
            return
        seq = (data[2] << 8) | data[3]
        expected = self._expected
        if expected is None:
            self._expected = expected = seq
        ahead = (seq - expected) & 0xFFFF
        if ahead == 0:
            self._expected = (seq + 1) & 0xFFFF
            self._deliver(data)
            if self._held:
                self._drain()
        elif ahead < 0x8000 and ahead < _RESTART:
            if seq not in self._held:
                self._held[seq] = (data, self._loop.time())
            if len(self._held) > self.capacity:
                self._skip()
            elif self._timer is None:
                self._timer = self._loop.call_later(self.delay, self._expire)
        elif ahead < 0x8000:  # far ahead: the sender restarted its sequence
            self._flush()
            self._expected = (seq + 1) & 0xFFFF
            self._deliver(data)
        else:  # behind what was already handed on: late or duplicate, the assembler counts it
            self._deliver(data)

    def close(self) -> None:
        """Stop the timer; held packets are dropped."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._held.clear()

    def _drain(self) -> None:
        """Hand on the held packets that are now next in order."""
        held = self._held
        expected = self._expected
        assert expected is not None
        while expected in held:
            data = held.pop(expected)[0]
            self.reordered += 1
            expected = (expected + 1) & 0xFFFF
            self._expected = expected
            self._deliver(data)
        if not held and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _skip(self) -> None:
        """Give up on the missing packets before the oldest one held."""
        expected = self._expected
        assert expected is not None
        first = min(self._held, key=lambda s: (s - expected) & 0xFFFF)
        self.skipped += (first - expected) & 0xFFFF
        self._expected = first
        self._drain()

    def _flush(self) -> None:
        while self._held:
            self._skip()

    def _expire(self) -> None:
        """The wait for a missing packet is over: skip it if the oldest held packet waited `delay`."""
        self._timer = None
        if not self._held:
            return
        now = self._loop.time()
        while self._held:
            oldest = min(arrival for _, arrival in self._held.values())
            if now - oldest < self.delay:
                self._timer = self._loop.call_later(oldest + self.delay - now, self._expire)
                return
            self._skip()
