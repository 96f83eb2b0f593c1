"""The recorder's index as the recorder sees it: what a segment on disk looks like, the operations it
asks of the index, and the protocol an index implements (`recordings.store.DbIndex` in the app)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class SegmentState:
    """A segment as far as its bytes are on disk: what the index row says about it."""

    camera_id: int
    path: str  # relative to the recordings root
    start: float  # Unix time of the first frame
    end: float  # Unix time after the last frame
    bytes: int
    init_size: int
    media_start: int  # tfdt of the first fragment, 90 kHz
    media_end: int
    frames: int
    keyframes: tuple[tuple[int, int], ...]  # (ms from start, byte offset)
    codec: str


@dataclass(frozen=True, slots=True)
class OpenSegment:
    """Insert a row in state `open` before the file exists; `hole_reason` explains any hole before it.
    `after_break`: the recorder knows the stream was interrupted (restart, outage, stall), so any hole
    is a gap, not jitter."""

    key: int
    state: SegmentState
    hole_reason: str
    after_break: bool = False


@dataclass(frozen=True, slots=True)
class UpdateSegment:
    row_id: int
    state: SegmentState
    final: bool  # closed: the file is complete and synced


@dataclass(frozen=True, slots=True)
class DropSegment:
    """A segment that never got a whole fragment onto disk: row and file go."""

    row_id: int
    path: str


@dataclass(frozen=True, slots=True)
class OpenGap:
    """Recording stopped for `reason` at `start` (None: where the camera's last segment ended)."""

    camera_id: int
    start: float | None
    reason: str


IndexOp = OpenSegment | UpdateSegment | DropSegment | OpenGap


class RecordingIndex(Protocol):
    """Where the recorder keeps its index (the database in the app)."""

    async def recover(self) -> None:
        """Repair what a crash left: rows still `open` and their files."""

    async def apply(self, ops: Sequence[IndexOp]) -> dict[int, int]:
        """Apply in order, in one transaction; returns the row id of each OpenSegment by its key."""
