"""Playback of recorded segments: chunks cut at keyframes, an HLS VOD playlist, byte reads.

Why chunks are byte ranges of the segment files: a segment file is the init segment followed by
moof+mdat fragments, and the recorder's index holds the byte offset of every keyframe. So any run of
whole GOPs is a valid fMP4 media segment as it lies on disk: serving it is one `pread`, with no
demuxing and no remuxing, and seeking to a time is one index probe plus one read of the GOP that
holds it. Each chunk keeps the tfdt the live path wrote; a player maps it to wall-clock time with the
segment's `start` and `media_start` (`EXT-X-PROGRAM-DATE-TIME`, or MSE `timestampOffset`)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

TIMESCALE = 90_000


@dataclass(frozen=True, slots=True)
class SegmentView:
    """What playback needs of one index row (times are Unix seconds)."""

    id: int
    path: str
    start: float
    end: float
    bytes: int
    init_size: int
    media_start: int
    media_end: int
    keyframes: tuple[tuple[int, int], ...]  # (ms from start, byte offset)
    codec: str


@dataclass(frozen=True, slots=True)
class Chunk:
    """Whole GOPs of one segment: bytes [first, last) of its file, shown from `start` to `end`."""

    segment_id: int
    first: int
    last: int
    start: float
    end: float
    keyframes: int  # GOPs in the chunk

    @property
    def duration(self) -> float:
        return max(0.0, self.end - self.start)


def _boundaries(seg: SegmentView) -> list[tuple[float, int]]:
    """(wall time, byte offset) of each keyframe that lies wholly within the bytes indexed."""
    out = [(seg.start + ms / 1000, off) for ms, off in seg.keyframes if seg.init_size <= off < seg.bytes]
    return out


def segment_chunks(
    seg: SegmentView, target: float, lo: float | None = None, hi: float | None = None
) -> list[Chunk]:
    """The segment cut into chunks of whole GOPs of at least `target` seconds (the last may be
    shorter), keeping only those that overlap [lo, hi)."""
    marks = _boundaries(seg)
    chunks: list[Chunk] = []
    index = 0
    while index < len(marks):
        start, first = marks[index]
        stop = index + 1
        while stop < len(marks) and marks[stop][0] - start < target:
            stop += 1
        end, last = marks[stop] if stop < len(marks) else (seg.end, seg.bytes)
        if (lo is None or end > lo) and (hi is None or start < hi) and last > first:
            chunks.append(Chunk(seg.id, first, last, start, max(start, end), stop - index))
        index = stop
    return chunks


def gop_at(seg: SegmentView, at: float) -> Chunk | None:
    """The GOP that holds time `at`: where a seek starts decoding."""
    marks = _boundaries(seg)
    found = None
    for index, (start, first) in enumerate(marks):
        if start > at and found is not None:
            break
        end, last = marks[index + 1] if index + 1 < len(marks) else (seg.end, seg.bytes)
        found = Chunk(seg.id, first, last, start, end, 1)
    return found


def continuous(previous: SegmentView, seg: SegmentView, tolerance: float = 0.1) -> bool:
    """Whether `seg` follows `previous` on the same media timeline with no hole (no discontinuity)."""
    return (
        previous.media_end == seg.media_start
        and previous.codec == seg.codec
        and abs(previous.end - seg.start) <= tolerance
    )


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def render_vod(
    segments: Sequence[SegmentView], lo: float, hi: float, target: float, query: str = ""
) -> tuple[str, list[Chunk]]:
    """An HLS VOD playlist of [lo, hi) and the chunks it lists. URIs are relative to the playlist:
    `init/{segment}.mp4` and `chunk/{segment}/{first}-{last}.m4s`, each with `query` (the token)."""
    listed: list[tuple[SegmentView, list[Chunk]]] = []
    for seg in segments:
        chunks = segment_chunks(seg, target, lo, hi)
        if chunks:
            listed.append((seg, chunks))
    longest = max((c.duration for _, chunks in listed for c in chunks), default=target)
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        f"#EXT-X-TARGETDURATION:{max(1, math.ceil(longest))}",
        "#EXT-X-PLAYLIST-TYPE:VOD",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    every: list[Chunk] = []
    previous: SegmentView | None = None
    for seg, chunks in listed:
        if previous is not None and not continuous(previous, seg):
            lines.append("#EXT-X-DISCONTINUITY")
        lines.append(f'#EXT-X-MAP:URI="init/{seg.id}.mp4{query}"')
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{_iso(chunks[0].start)}")
        for chunk in chunks:
            lines.append(f"#EXTINF:{chunk.duration:.3f},")
            lines.append(f"chunk/{seg.id}/{chunk.first}-{chunk.last}.m4s{query}")
        every.extend(chunks)
        previous = seg
    lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n", every


def read_range(path: Path, first: int, last: int) -> bytes:
    """Bytes [first, last) of a segment file; raises OSError if the file is shorter (never expected:
    the index only lists bytes that are on disk)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        data = os.pread(fd, last - first, first)
    finally:
        os.close(fd)
    if len(data) != last - first:
        raise OSError(f"{path.name}: {len(data)} bytes at {first}, expected {last - first}")
    return data


def valid_range(seg: SegmentView, first: int, last: int) -> bool:
    """A chunk starts at a keyframe of the segment and ends within what is indexed (a playlist made
    while the segment was still open names the end it had then)."""
    return first < last <= seg.bytes and any(off == first for _, off in seg.keyframes)
