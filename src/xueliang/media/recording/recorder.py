"""The recorder: the channel's own fMP4 fragments, written as ~60 s segment files, indexed as it goes.

Why it looks like this:
- It is a channel listener, so it records the very bytes live viewers get: no second pull of the
  camera and no second mux. A segment file is the init segment followed by the fragments from one
  keyframe to the first keyframe after `segment_seconds` (one folder per camera per UTC day).
- The listener runs inside `Channel.push`, so it only appends to memory. A flush task hands the
  bytes to one I/O thread every `flush_interval` (0.5 s) and `fdatasync`s every `sync_interval`
  (1 s): a killed process loses at most what the last half second buffered, a lost machine at most
  one second. The event loop never waits on the disk.
- The index row is committed *before* its file is created, and a row is only marked closed after the
  file's last bytes are synced, so after any crash the rows left `open` are exactly the files to
  repair (`RecordingIndex.recover`): the index never points at a missing or torn file.
- A failed write (disk full, I/O error) cuts the file back to its last complete fragment, closes the
  segment there, reports a storage event and drops video until `retry_seconds` later, then tries a
  new segment at the next keyframe. Live viewers never notice: nothing here can block `push`.
- Wall-clock times come from each fragment's arrival; inside a segment the media clock (tfdt) is
  exact, and each segment is re-anchored to the wall clock, so drift cannot accumulate. A hole in
  arrival longer than `hole_seconds`, a camera going offline, a storage failure or a restart ends
  the segment; the index records the hole as a gap with its reason."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from xueliang.media.audio.channel import AudioChannel, AudioItem
from xueliang.media.audio.fmp4 import AudioInit
from xueliang.media.channel import Channel, Fragment, InitSegment
from xueliang.media.recording.index import (
    DropSegment,
    IndexOp,
    OpenGap,
    OpenSegment,
    RecordingIndex,
    UpdateSegment,
)
from xueliang.media.recording.segment_io import (
    TIMESCALE,
    IoJob,
    Pending,
    Segment,
    run_io,
    segment_path,
    utc_day,
    write_audio,
)

log = logging.getLogger(__name__)


class StorageStatus(enum.StrEnum):
    recording = "recording"
    storage_error = "storage_error"


@dataclass(frozen=True, slots=True)
class StorageEvent:
    """A camera's recording failed (disk full, write error, index unreachable) or resumed."""

    camera_id: int
    status: StorageStatus
    reason: str
    at: float  # Unix time
    kind: str = "storage"


@dataclass(frozen=True, slots=True)
class RecorderConfig:
    segment_seconds: float = 60.0
    flush_interval: float = 0.5
    sync_interval: float = 1.0
    progress_interval: float = 5.0  # open segments' rows are brought up to date this often
    hole_seconds: float = 3.0  # arrival this much later than the media clock says: a hole
    resync_seconds: float = 1.0  # a new segment continues the previous one if within this
    retry_seconds: float = 5.0
    max_pending_bytes: int = 64 << 20  # per camera, while the index cannot take new rows


@dataclass(slots=True)
class _Track:
    camera_id: int
    detach: Callable[[], None]
    init: InitSegment | None = None
    current: Segment | None = None
    closing: list[Segment] = field(default_factory=list)
    last_end: float | None = None
    hole_reason: str = ""
    gaps: list[OpenGap] = field(default_factory=list)
    error: str | None = None
    error_since: float = 0.0
    retry_at: float = 0.0
    dropped: int = 0
    detach_audio: Callable[[], None] = lambda: None
    audio_init: AudioInit | None = None

    def segments(self) -> list[Segment]:
        return [*self.closing, self.current] if self.current is not None else list(self.closing)


@dataclass(frozen=True, slots=True)
class CameraRecording:
    camera_id: int
    status: StorageStatus
    reason: str
    since: float
    dropped_frames: int
    segment_path: str | None


class Recorder:
    """Records the channels it is attached to. `start()`, `attach()`/`detach()`, `stop()`."""

    def __init__(
        self,
        index: RecordingIndex,
        root: Path,
        config: RecorderConfig | None = None,
        *,
        wall: Callable[[], float] = time.time,
        mono_ns: Callable[[], int] = time.monotonic_ns,
    ) -> None:
        self.index = index
        self.root = root
        self.config = config or RecorderConfig()
        self._wall = wall
        self._mono_ns = mono_ns
        self._tracks: dict[int, _Track] = {}
        self._dropped_tracks: list[_Track] = []  # detached, with segments or gaps still to settle
        self._keys = 0
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="recorder-io")
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._retry_ops: list[IndexOp] = []
        self.listeners: list[Callable[[StorageEvent], None]] = []
        self.on_write_error: Callable[[OSError], None] | None = None
        self.bytes_written = 0
        self.write_errors = 0

    # -- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Repair what an earlier run left, then flush every `flush_interval`."""
        self.root.mkdir(parents=True, exist_ok=True)
        await self.index.recover()
        self._task = asyncio.create_task(self._run(), name="recorder-flush")

    async def stop(self) -> None:
        """Close every segment cleanly (synced, row closed) and mark the hole that follows as a gap."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for camera_id in list(self._tracks):
            self.detach(camera_id, gap_reason="recorder stopped")
        for _ in range(3):  # open rows, write and close files, then close rows
            await self.flush()
            if not any(t.segments() or t.gaps for t in self._dropped_tracks) and not self._retry_ops:
                break
        self._dropped_tracks.clear()
        self._io.shutdown(wait=True)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.config.flush_interval)
            try:
                await self.flush()
            except Exception:
                log.exception("recorder flush failed")

    # -- cameras -------------------------------------------------------------------------------------

    def attach(self, camera_id: int, channel: Channel, hole_reason: str = "recorder started") -> None:
        """Start recording a channel (from its cached GOP, so the first segment starts at a keyframe);
        `hole_reason` names the gap before it, should there be one since the camera's last segment."""
        if camera_id in self._tracks:
            self.detach(camera_id)
        track = _Track(camera_id, detach=lambda: None, hole_reason=hole_reason)
        self._tracks[camera_id] = track
        track.detach = channel.add_listener(lambda item: self._on_item(track, item))

    def attach_audio(self, camera_id: int, channel: AudioChannel) -> None:
        """Record the camera's sound too (its audio is on), beside each video segment in a sibling file
        (`segment_io.audio_path`). Call after `attach`; the video is recorded the same either way."""
        track = self._tracks.get(camera_id)
        if track is None:
            return
        track.detach_audio()
        track.detach_audio = channel.add_listener(lambda item: self._on_audio(track, item))

    def detach(self, camera_id: int, gap_reason: str = "") -> None:
        """Stop recording a camera; its open segment is closed at the next flush."""
        track = self._tracks.pop(camera_id, None)
        if track is None:
            return
        track.detach()
        track.detach_audio()
        if track.current is not None:
            self._close(track, track.current)
        if gap_reason:
            track.gaps.append(OpenGap(camera_id, track.last_end, gap_reason))
        if track.segments() or track.gaps:
            self._dropped_tracks.append(track)

    def camera_offline(self, camera_id: int, reason: str) -> None:
        """The engine lost the camera: end the segment now and record a gap with the reason."""
        track = self._tracks.get(camera_id)
        if track is None:
            return
        if track.current is not None:
            self._close(track, track.current)
        track.hole_reason = f"camera offline: {reason}"
        track.gaps.append(OpenGap(camera_id, track.last_end, track.hole_reason))

    def recording(self) -> list[CameraRecording]:
        """Per attached camera: recording or failing, and why."""
        out = []
        for track in self._tracks.values():
            failing = track.error is not None
            out.append(
                CameraRecording(
                    camera_id=track.camera_id,
                    status=StorageStatus.storage_error if failing else StorageStatus.recording,
                    reason=track.error or "",
                    since=track.error_since,
                    dropped_frames=track.dropped,
                    segment_path=track.current.path if track.current is not None else None,
                )
            )
        return out

    # -- the listener (inside Channel.push: memory only) -----------------------------------------------

    def _arrival(self, arrived_ns: int) -> float:
        now = self._wall()
        if arrived_ns <= 0:
            return now
        return now - max(0, self._mono_ns() - arrived_ns) / 1e9

    def _on_item(self, track: _Track, item: InitSegment | Fragment) -> None:
        try:
            if type(item) is InitSegment:
                track.init = item
            elif type(item) is Fragment:
                self._on_fragment(track, item)
        except Exception:  # a bug here must not detach the recorder from the channel for good
            log.exception("camera %s: recorder listener failed", track.camera_id)

    def _on_audio(self, track: _Track, item: AudioItem) -> None:
        """Sound goes into the current video segment's sibling; none is kept while no segment is open."""
        if isinstance(item, AudioInit):
            track.audio_init = item
            return
        seg, init = track.current, track.audio_init
        if seg is None or init is None or seg.audio_broken:
            return
        if seg.audio_init is None:
            seg.audio_init = init.data
            seg.audio_chunks.append(init.data)
        elif seg.audio_init != init.data:  # a new sound config mid-segment: the next segment has it
            seg.audio_broken = True
            return
        seg.audio_chunks.append(item.data)

    def _on_fragment(self, track: _Track, frag: Fragment) -> None:
        config = self.config
        wall = self._arrival(frag.arrived_ns)
        seg = track.current
        if seg is not None:
            lag = wall - seg.wall_at(frag.decode_time)
            if frag.epoch != seg.epoch:
                self._close(track, seg)
            elif lag > config.hole_seconds:
                self._close(track, seg)
                track.hole_reason = f"no video for {lag:.1f} s"
            elif frag.keyframe and (
                frag.decode_time - seg.media_start >= config.segment_seconds * TIMESCALE
                or utc_day(wall) != seg.day
                or lag < -config.hole_seconds
            ):
                self._close(track, seg)
            seg = track.current
        if seg is None:
            seg = self._open(track, frag, wall)
            if seg is None:
                return
        if seg.buffered - seg.written > config.max_pending_bytes:
            self._fail(track, seg, "index unavailable: too much video waiting for its row", wall)
            return
        seg.metas.append(
            Pending(len(frag.data), frag.decode_time, frag.duration, frag.keyframe, seg.buffered)
        )
        seg.chunks.append(frag.data)
        seg.buffered += len(frag.data)
        seg.buffered_end = frag.decode_time + frag.duration
        track.last_end = seg.wall_at(seg.buffered_end)

    def _open(self, track: _Track, frag: Fragment, wall: float) -> Segment | None:
        init = track.init
        if not frag.keyframe or init is None or init.epoch != frag.epoch:
            return None
        if track.error is not None and wall < track.retry_at:
            track.dropped += 1
            return None
        start = wall
        prev_end = track.last_end
        if prev_end is not None and abs(wall - prev_end) <= self.config.resync_seconds:
            start = prev_end  # continues the previous segment without a hole or an overlap
        elif prev_end is not None and wall < prev_end and track.closing:
            track.closing[-1].end_cap = wall  # media clock ran fast: the previous segment ends here
        self._keys += 1
        seg = Segment(
            key=self._keys,
            camera_id=track.camera_id,
            path=segment_path(track.camera_id, start),
            day=utc_day(start),
            epoch=init.epoch,
            init=init.data,
            codec=init.track.codec,
            start=start,
            media_start=frag.decode_time,
            hole_reason=track.hole_reason or "not recording",
            after_break=bool(track.hole_reason),
            buffered=len(init.data),
        )
        seg.chunks.append(init.data)
        track.hole_reason = ""
        track.current = seg
        return seg

    def _close(self, track: _Track, seg: Segment) -> None:
        seg.closing = True
        track.closing.append(seg)
        if track.current is seg:
            track.current = None

    # -- flushing (event loop + one I/O thread) -------------------------------------------------------

    def _all_tracks(self) -> list[_Track]:
        return [*self._tracks.values(), *self._dropped_tracks]

    async def flush(self) -> None:
        """Open rows for new segments, write what is buffered, close finished segments' rows."""
        async with self._lock:
            await self._open_rows()
            await self._finish(await self._write())

    async def _open_rows(self) -> None:
        ops: list[IndexOp] = []
        opening: list[Segment] = []
        gaps: list[_Track] = []
        for track in self._all_tracks():
            if track.gaps:
                ops.extend(track.gaps)
                gaps.append(track)
            for seg in track.segments():
                if seg.row_id is None and not seg.open_sent:
                    ops.append(OpenSegment(seg.key, seg.state(), seg.hole_reason, seg.after_break))
                    opening.append(seg)
        if not ops:
            return
        try:
            ids = await self.index.apply(ops)
        except Exception as exc:
            log.warning("recorder: index unavailable, keeping video in memory: %s", exc)
            return
        for track in gaps:
            track.gaps.clear()
        for seg in opening:
            seg.row_id = ids.get(seg.key)
            seg.open_sent = seg.row_id is not None

    async def _write(self) -> list[IoJob]:
        now = self._wall()
        jobs: list[IoJob] = []
        for track in self._all_tracks():
            for seg in track.segments():
                if seg.row_id is None:
                    continue
                data = b"".join(seg.chunks) if seg.chunks else b""
                sync = seg.closing or now - seg.synced_at >= self.config.sync_interval
                if not data and not seg.closing and not (sync and seg.fd is not None and seg.written > 0):
                    continue
                metas, seg.metas, seg.chunks = seg.metas, [], []
                job = IoJob(seg, self.root / seg.path, seg.fd is None and seg.written == 0, data, metas, sync,
                          seg.closing)  # fmt: skip
                jobs.append(job)
        if jobs:
            await asyncio.get_running_loop().run_in_executor(self._io, run_io, jobs)
        await self._write_audio()
        return jobs

    async def _write_audio(self) -> None:
        """Sound after the video (the video's row and file come first); only for segments with a row."""
        jobs: list[tuple[Segment, bytes]] = []
        for track in self._all_tracks():
            for seg in track.segments():
                if seg.row_id is not None and seg.audio_chunks and not seg.audio_broken:
                    jobs.append((seg, b"".join(seg.audio_chunks)))
                    seg.audio_chunks = []
        if not jobs:
            return
        failed = await asyncio.get_running_loop().run_in_executor(self._io, write_audio, self.root, jobs)
        for seg, exc in failed:
            log.warning("camera %s: sound not recorded in %s: %s", seg.camera_id, seg.path, exc)
            seg.audio_broken = True

    async def _finish(self, jobs: list[IoJob]) -> None:
        now = self._wall()
        ops: list[IndexOp] = self._retry_ops
        self._retry_ops = []
        for job in jobs:
            seg = job.segment
            track = self._track_of(seg)
            if job.error is None:
                self._commit(seg, job, now)
                if seg.closing and seg.fd is None:
                    assert seg.row_id is not None
                    ops.append(UpdateSegment(seg.row_id, seg.state(), final=True))
                    if track is not None:
                        track.closing.remove(seg)
                elif (
                    now - seg.progress_at >= self.config.progress_interval
                    and seg.frames != seg.progress_frames
                ):
                    assert seg.row_id is not None
                    seg.progress_at, seg.progress_frames = now, seg.frames
                    ops.append(UpdateSegment(seg.row_id, seg.state(), final=False))
                if track is not None and track.error is not None and seg.frames:
                    self._recovered(track, now)
            else:
                ops.extend(self._write_failed(track, seg, job.error, now))
        for track in list(self._dropped_tracks):
            if not track.segments() and not track.gaps:
                self._dropped_tracks.remove(track)
        if ops:
            try:
                await self.index.apply(ops)
            except Exception as exc:
                log.warning("recorder: could not update the index, will retry: %s", exc)
                self._retry_ops = [op for op in ops if not isinstance(op, OpenSegment)]

    def _commit(self, seg: Segment, job: IoJob, now: float) -> None:
        seg.written += len(job.data)
        self.bytes_written += len(job.data)
        for meta in job.metas:
            if seg.frames == 0:
                seg.media_start = meta.decode_time
            seg.frames += 1
            seg.media_end = meta.decode_time + meta.duration
            if meta.keyframe:
                seg.keyframes.append(((meta.decode_time - seg.media_start) * 1000 // TIMESCALE, meta.offset))
        if job.sync:
            seg.synced_at = now

    def _track_of(self, seg: Segment) -> _Track | None:
        for track in self._all_tracks():
            if track.camera_id == seg.camera_id and (seg in track.closing or track.current is seg):
                return track
        return None

    def _write_failed(self, track: _Track | None, seg: Segment, error: OSError, now: float) -> list[IndexOp]:
        """The file is already cut back to its last complete fragment: close or drop it there."""
        self.write_errors += 1
        reason = f"storage: {error.strerror or error}"
        log.warning("camera %s: recording write failed: %s", seg.camera_id, reason)
        ops: list[IndexOp] = []
        assert seg.row_id is not None
        if seg.frames:
            ops.append(UpdateSegment(seg.row_id, seg.state(), final=True))
        else:
            ops.append(DropSegment(seg.row_id, seg.path))
        if track is not None:
            if seg in track.closing:
                track.closing.remove(seg)
            if track.current is seg:
                track.current = None
            gap_start = seg.wall_at(seg.media_end) if seg.frames else None
            ops.append(OpenGap(seg.camera_id, gap_start, reason))
            track.hole_reason = reason
            self._set_error(track, reason, now)
        if self.on_write_error is not None:
            with contextlib.suppress(Exception):
                self.on_write_error(error)
        return ops

    def _fail(self, track: _Track, seg: Segment, reason: str, now: float) -> None:
        """Give up a segment that cannot get its row: its buffered video is dropped."""
        seg.chunks, seg.metas = [], []
        if seg.row_id is None and not seg.open_sent:
            track.current = None if track.current is seg else track.current
            if seg in track.closing:
                track.closing.remove(seg)
        else:
            self._close(track, seg)
        track.hole_reason = reason
        self._set_error(track, reason, now)

    def _set_error(self, track: _Track, reason: str, now: float) -> None:
        track.retry_at = now + self.config.retry_seconds
        if track.error is None:
            track.error, track.error_since = reason, now
            self._emit(StorageEvent(track.camera_id, StorageStatus.storage_error, reason, now))
        else:
            track.error = reason

    def _recovered(self, track: _Track, now: float) -> None:
        reason = f"recording again after {now - track.error_since:.0f} s ({track.error})"
        track.error, track.error_since = None, now
        self._emit(StorageEvent(track.camera_id, StorageStatus.recording, reason, now))

    def _emit(self, event: StorageEvent) -> None:
        for listener in list(self.listeners):
            try:
                listener(event)
            except Exception:
                log.exception("storage event listener failed")
