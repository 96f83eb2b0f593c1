"""Segment files as the recorder writes them: a segment's bytes waiting in memory, and the I/O thread's
jobs (create, append, `fdatasync`, close), which cut a file back to its last complete fragment when a
write fails, so no torn fragment stays on disk."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from xueliang.media.recording.index import SegmentState

TIMESCALE = 90_000


@dataclass(slots=True)
class Pending:
    size: int
    decode_time: int
    duration: int
    keyframe: bool
    offset: int


@dataclass(slots=True)
class Segment:
    key: int
    camera_id: int
    path: str
    day: str
    epoch: int
    init: bytes
    codec: str
    start: float
    media_start: int
    hole_reason: str
    after_break: bool = False
    chunks: list[bytes] = field(default_factory=list)
    metas: list[Pending] = field(default_factory=list)
    buffered: int = 0  # bytes appended so far, init included (file size once all is written)
    buffered_end: int = 0  # media time after the last appended fragment
    row_id: int | None = None
    open_sent: bool = False
    fd: int | None = None
    written: int = 0
    frames: int = 0
    media_end: int = 0
    keyframes: list[tuple[int, int]] = field(default_factory=list)
    closing: bool = False
    end_cap: float | None = None
    synced_at: float = 0.0
    progress_at: float = 0.0
    progress_frames: int = 0
    # The camera's sound beside this segment (docs/media-audio.md): its AAC fMP4 bytes waiting for the
    # sibling file `audio_path(path)`; `audio_init` is the init those fragments need (None: no sound yet).
    audio_init: bytes | None = None
    audio_chunks: list[bytes] = field(default_factory=list)
    audio_written: int = 0
    audio_broken: bool = False  # the sound changed codec mid-segment or a write failed: none until the next

    def wall_at(self, media_time: int) -> float:
        return self.start + (media_time - self.media_start) / TIMESCALE

    def state(self) -> SegmentState:
        end = self.wall_at(self.media_end) if self.frames else self.start
        if self.end_cap is not None:
            end = max(self.start, min(end, self.end_cap))
        return SegmentState(
            camera_id=self.camera_id,
            path=self.path,
            start=self.start,
            end=end,
            bytes=self.written,
            init_size=len(self.init),
            media_start=self.media_start,
            media_end=self.media_end if self.frames else self.media_start,
            frames=self.frames,
            keyframes=tuple(self.keyframes),
            codec=self.codec,
        )


@dataclass(slots=True)
class IoJob:
    segment: Segment
    path: Path
    create: bool
    data: bytes
    metas: list[Pending]
    sync: bool
    close: bool
    error: OSError | None = None


def utc_day(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).strftime("%Y-%m-%d")


def segment_path(camera_id: int, start: float) -> str:
    """`<camera>/<UTC day>/<HHMMSS>-<ms>.mp4`: one folder per camera per day, names sort by time."""
    moment = datetime.fromtimestamp(start, UTC)
    return f"{camera_id}/{moment:%Y-%m-%d}/{moment:%H%M%S}-{moment.microsecond // 1000:03d}.mp4"


def audio_path(path: str) -> str:
    """The sibling file holding a segment's sound: `<HHMMSS>-<ms>.m4a` beside `<HHMMSS>-<ms>.mp4`. Its
    media clock and the video's start together with the camera's stream, so a sample at `t` seconds of
    it plays at the video's `t * 90000` ticks (what export and playback rely on)."""
    return path[: -len(".mp4")] + ".m4a" if path.endswith(".mp4") else path + ".m4a"


def write_audio(root: Path, jobs: list[tuple[Segment, bytes]]) -> list[tuple[Segment, OSError]]:
    """In the I/O thread: append each segment's sound to its sibling file; a failure costs only the sound
    (the file is cut back to what was written before, so no torn fragment stays)."""
    failed: list[tuple[Segment, OSError]] = []
    for seg, data in jobs:
        path = root / audio_path(seg.path)
        try:
            with open(path, "r+b" if seg.audio_written else "wb") as fh:
                fh.seek(seg.audio_written)
                fh.write(data)
                fh.flush()
                os.fdatasync(fh.fileno())
            seg.audio_written += len(data)
        except OSError as exc:
            failed.append((seg, exc))
            with contextlib.suppress(OSError):
                os.truncate(path, seg.audio_written)
    return failed


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def run_io(jobs: list[IoJob]) -> None:
    """In the I/O thread: create, append, sync, close. A failed job leaves its file cut back to the
    bytes written before it (so no torn fragment stays on disk) and closed."""
    for job in jobs:
        seg = job.segment
        fd = seg.fd
        try:
            if job.create:
                job.path.parent.mkdir(parents=True, exist_ok=True)
                fd = seg.fd = os.open(job.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
            if fd is None:
                raise OSError(f"segment {seg.path} has no open file")
            if job.data:
                _write_all(fd, job.data)
            if job.sync:
                os.fdatasync(fd)
            if job.close:
                os.close(fd)
                seg.fd = None
        except OSError as exc:
            job.error = exc
            _abandon(seg, job.path, fd)


def _abandon(seg: Segment, path: Path, fd: int | None) -> None:
    with contextlib.suppress(OSError):
        if fd is not None:
            if seg.frames:
                os.ftruncate(fd, seg.written)  # shrinking needs no space, even on a full disk
                os.fdatasync(fd)
            os.close(fd)
    seg.fd = None
    if not seg.frames:
        with contextlib.suppress(OSError):
            path.unlink()
