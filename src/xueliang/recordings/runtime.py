"""What a running node does for recordings: the recorder on the media plane, the retention loop, the
export runner and the storage health that the API and the console show.

`RecordingsNode` is built with the app (`ctx.services.require(RecordingsNode)`) whether or not the media
engine runs, because playback, export and retention need no camera; the recorder joins when the media
plane starts (it is one of the plane's hooks), so it attaches to the very channels live view uses."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.cameras import masks
from xueliang.cameras.models import Camera
from xueliang.core.context import AppContext
from xueliang.core.lifecycle import StartupHook, Stop
from xueliang.media.engine import CameraStatus, MediaEngine
from xueliang.media.mask.presets import FULL_FRAME, MaskSets, MaskTimeline, Position, mask_sets
from xueliang.media.mask.recorded import mask_mp4_file
from xueliang.media.plane import MediaPlane
from xueliang.media.recording.recorder import Recorder, StorageEvent, StorageStatus
from xueliang.recordings import export as exporting
from xueliang.recordings import service, signing
from xueliang.recordings.config import RecordingSettings
from xueliang.recordings.models import ExportState, RecordingExport
from xueliang.recordings.retention import Busy, Guard, RetentionReport, disk_usage, run_retention
from xueliang.recordings.store import DbIndex

if TYPE_CHECKING:
    from xueliang.recordings.lifts import Lift

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StorageHealth:
    ok: bool
    root: str
    total_bytes: int
    free_bytes: int
    guard_bytes: int
    recorder_running: bool
    failing: list[dict[str, Any]]
    recording: int  # cameras being recorded
    last_retention: dict[str, Any] | None
    events: list[StorageEvent]


class RecordingsNode:
    def __init__(self, ctx: AppContext, settings: RecordingSettings) -> None:
        self.ctx = ctx
        self.settings = settings
        self.root = settings.root(ctx.settings)
        self.exports_root = settings.exports_root(ctx.settings)
        self.guard = Guard(settings.min_free_percent, settings.min_free_bytes)
        self.index = DbIndex(ctx.db, self.root, clock=ctx.clock)
        self.recorder: Recorder | None = None
        self.plane: MediaPlane | None = None
        self.events: collections.deque[StorageEvent] = collections.deque(maxlen=200)
        self.busy: list[Busy] = []
        self.last_retention: RetentionReport | None = None
        self.last_retention_at: float | None = None
        self._wake: asyncio.Event | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._exports: asyncio.Queue[int] | None = None
        self._health_task: asyncio.Task[None] | None = None
        self.rechecked: dict[tuple[int, int, str], float] = {}  # token recheck cache (see views)
        self.lifts: dict[tuple[int, int, str], Lift] = {}  # grants behind unmasked playback tokens (lifts.py)

    # -- app lifespan ----------------------------------------------------------------------------------

    async def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.exports_root.mkdir(parents=True, exist_ok=True)
        self._wake = asyncio.Event()
        role = self.ctx.settings.role
        if role in ("web", "media"):  # a split node: the worker runs retention and exports
            return
        self._exports = asyncio.Queue()
        if role == "all":
            async with self.ctx.db.session() as session:
                await session.execute(
                    update(RecordingExport)
                    .where(RecordingExport.state == ExportState.running)
                    .values(state=ExportState.failed, error="interrupted: the node stopped during the export")
                )
                await session.commit()
        self._tasks = [
            asyncio.create_task(self._retention_loop(), name="recordings-retention"),
            asyncio.create_task(self._export_loop(), name="recordings-exports"),
        ]
        if role == "worker":  # web processes commit export rows; the worker finds them
            self._tasks.append(asyncio.create_task(self._pick_up_exports(), name="recordings-pickup"))

    async def _pick_up_exports(self, every: float = 2.0) -> None:
        """Worker role: run the exports web processes accepted (rows still `running`), each once; one
        left half-done by a worker that died is run again from the start."""
        seen: set[int] = set()
        assert self._exports is not None
        while True:
            try:
                async with self.ctx.db.read_session() as session:
                    ids = await session.scalars(
                        select(RecordingExport.id).where(RecordingExport.state == ExportState.running)
                    )
                    for export_id in ids:
                        if export_id not in seen:
                            seen.add(export_id)
                            self._exports.put_nowait(export_id)
            except Exception:
                log.exception("looking for exports failed")
            await asyncio.sleep(every)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    # -- media plane hook ------------------------------------------------------------------------------

    async def plane_started(self, plane: MediaPlane, cameras: Sequence[Camera]) -> None:
        self.plane = plane
        if not self.settings.enabled:
            return
        # A media process sharing cameras by lease repairs a camera when it takes it over, not the
        # whole index at start: another process may be writing the other cameras' segments.
        self.index.per_camera_recovery = plane.ctx.settings.role == "media"
        recorder = Recorder(self.index, self.root, self.settings.recorder())
        recorder.listeners.append(self._storage_event)
        recorder.on_write_error = lambda _exc: self.wake_retention()
        await recorder.start()
        self.recorder = recorder
        for camera in cameras:
            if camera.record and plane.engine.has_camera(camera.id):
                recorder.attach(camera.id, plane.engine.channel(camera.id), "node restarted")
                self._attach_sound(plane, camera.id)
        self._health_task = asyncio.create_task(self._watch(plane.engine), name="recorder-health")

    async def camera_changed(self, plane: MediaPlane, camera_id: int, camera: Camera | None) -> None:
        recorder = self.recorder
        if recorder is None:
            return
        note = plane.notes.pop(camera_id, None)  # a lease handover names itself (media/plane/leases.py)
        if camera is not None and camera.enabled and camera.record and plane.engine.has_camera(camera_id):
            if self.index.per_camera_recovery and note is not None:
                await self.index.recover([camera_id])  # what a killed owner left open
            recorder.attach(camera_id, plane.engine.channel(camera_id), note or "camera settings changed")
            self._attach_sound(plane, camera_id)
        else:
            reason = "recording turned off" if camera is not None and camera.enabled else "camera disabled"
            recorder.detach(camera_id, gap_reason=(note or reason) if camera is not None else "")
            if note is not None:  # handed over: segment closed and gap written before the lease goes
                for _ in range(2):
                    await recorder.flush()

    def _attach_sound(self, plane: MediaPlane, camera_id: int) -> None:
        """A camera whose sound is on has it recorded beside its video (docs/media-audio.md)."""
        sound = plane.engine.audio(camera_id)
        if sound is not None and self.recorder is not None:
            self.recorder.attach_audio(camera_id, sound)

    async def plane_stopping(self, plane: MediaPlane) -> None:
        if self._health_task is not None:
            self._health_task.cancel()
            await asyncio.gather(self._health_task, return_exceptions=True)
        if self.recorder is not None:
            await self.recorder.stop()
            self.recorder = None

    async def _watch(self, engine: MediaEngine) -> None:
        """Offline events end the camera's segment at once and open a gap with the engine's reason."""
        async with engine.subscribe() as events:
            async for event in events:
                if event.status is CameraStatus.offline and self.recorder is not None:
                    self.recorder.camera_offline(event.camera_id, event.reason)

    def _storage_event(self, event: StorageEvent) -> None:
        self.events.append(event)
        if self.plane is not None:
            self.plane.publish(event)

    # -- storage health -------------------------------------------------------------------------------

    def health(self) -> StorageHealth:
        """Disk space against the guard, cameras whose recording fails now, the last retention run."""
        try:
            usage = disk_usage(self.root)
            total, free, guard = usage.total, usage.free, self.guard.needed(usage)
        except OSError:
            total = free = guard = 0
        recorder = self.recorder
        states = recorder.recording() if recorder is not None else []
        failing = [
            {
                "camera_id": s.camera_id,
                "reason": s.reason,
                "since": s.since,
                "dropped_frames": s.dropped_frames,
            }
            for s in states
            if s.status is StorageStatus.storage_error
        ]
        last = None
        report = self.last_retention
        if report is not None:
            last = {
                "at": self.last_retention_at,
                "by_age": report.by_age,
                "by_space": report.by_space,
                "bytes": report.bytes,
                "short_of_space": report.short_of_space,
            }
        short = report is not None and report.short_of_space
        return StorageHealth(
            ok=not failing and free >= guard and not short,
            root=str(self.root),
            total_bytes=total,
            free_bytes=free,
            guard_bytes=guard,
            recorder_running=recorder is not None,
            failing=failing,
            recording=len(states),
            last_retention=last,
            events=list(self.events),
        )

    # -- retention ------------------------------------------------------------------------------------

    def wake_retention(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def retention_once(self) -> RetentionReport:
        report = await run_retention(
            self.ctx.db, self.root, self.guard, self.ctx.clock.now(), list(self.busy)
        )
        self.last_retention, self.last_retention_at = report, time.time()
        return report

    async def _retention_loop(self) -> None:
        assert self._wake is not None
        while True:
            try:
                await self.retention_once()
            except Exception:
                log.exception("retention run failed")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.retention_every):  # wait_for can eat a cancel
                    await self._wake.wait()

    # -- exports --------------------------------------------------------------------------------------

    def submit_export(self, export_id: int) -> None:
        """Queue an export whose row is committed; it runs in the background, one at a time."""
        if self.ctx.settings.role != "all":
            return  # a split node: the worker process picks the committed row up (_pick_up_exports)
        assert self._exports is not None, "the recordings node is not started"
        self._exports.put_nowait(export_id)

    async def _export_loop(self) -> None:
        assert self._exports is not None
        while True:
            export_id = await self._exports.get()
            try:
                await self.run_export(export_id)
            except Exception:
                log.exception("export %s failed", export_id)

    async def run_export(self, export_id: int) -> RecordingExport:
        db = self.ctx.db
        async with db.session() as session:
            export = await session.get(RecordingExport, export_id)
            if export is None:
                raise LookupError(f"no export {export_id}")
            camera = await session.get(Camera, export.camera_id)
            assert camera is not None
            rows = await service.segments_between(session, camera.id, export.starts_at, export.ends_at)
            # A masked export (privacy masks, no approved lift): the masks as they are now, filled in;
            # a PTZ camera's frames get the set in force when they were recorded.
            masked = (
                await _export_masks(session, camera.id, export.starts_at, export.ends_at)
                if export.masked
                else None
            )
        lo, hi = export.starts_at, export.ends_at
        directory = f"{export.id:06d}-{camera.gb_id}-{lo:%Y%m%dT%H%M%SZ}"
        out_dir = self.exports_root / directory
        base = f"{camera.gb_id}_{lo:%Y%m%dT%H%M%SZ}_{hi:%Y%m%dT%H%M%SZ}"
        sources = [
            exporting.Source(self.root / r.path, r.starts_at.timestamp(), r.ends_at.timestamp(), r.bytes,
                             r.media_start)
            for r in rows
        ]  # fmt: skip
        meta = {
            "export_id": export.id,
            "camera": {
                "id": camera.id,
                "gb_id": camera.gb_id,
                "name": camera.name,
                "name_en": camera.name_en,
            },
            "operator": {"id": export.user_id, "username": export.username},
            "reason": export.reason,
            "created_at": export.created_at.isoformat(),
        }
        if masked is not None:
            sets = masked.sets
            meta["privacy_masks"] = {
                "masked": True,
                "areas": len(sets.default) + sum(len(p) for p in sets.presets.values()),
                "per_preset": sets.ptz,
            }
        if self.ctx.settings.role == "worker":  # a run a dead worker left half-done starts afresh
            shutil.rmtree(out_dir, ignore_errors=True)
        busy = Busy(camera.id, lo, hi)
        self.busy.append(busy)
        try:
            files = await asyncio.to_thread(
                self._produce, sources, lo.timestamp(), hi.timestamp(), out_dir, base, meta, masked
            )
        except Exception as exc:
            shutil.rmtree(out_dir, ignore_errors=True)
            await self._finish_export(export_id, ExportState.failed, error=str(exc) or type(exc).__name__)
            raise
        finally:
            self.busy.remove(busy)
        return await self._finish_export(export_id, ExportState.ready, directory=directory, files=files)

    def _produce(
        self,
        sources: list[exporting.Source],
        lo: float,
        hi: float,
        out_dir: Path,
        base: str,
        meta: dict[str, Any],
        masked: MaskTimeline | None = None,
    ) -> list[dict[str, Any]]:
        out_dir.mkdir(parents=True, exist_ok=False)
        result = exporting.remux(sources, lo, hi, out_dir, base)
        if masked is not None:  # before the manifest: its hashes are of the masked files
            timeline = masked
            for path, origin in zip(result.files, result.origins, strict=True):
                at = (lambda seconds, o=origin: timeline.at(o + seconds)) if timeline.sets.ptz else None
                mask_mp4_file(path, timeline.sets.default, polygons_at=at)
        key = signing.load_or_create(self.ctx.settings.data_dir)
        manifest = exporting.write_manifest(
            out_dir, result.files, {**meta, **exporting.range_meta(lo, hi, result)}, key
        )
        files: list[dict[str, Any]] = manifest["files"]
        return files

    async def _finish_export(
        self,
        export_id: int,
        state: ExportState,
        *,
        error: str = "",
        directory: str = "",
        files: list[dict[str, Any]] | None = None,
    ) -> RecordingExport:
        async with self.ctx.db.session() as session:
            export = (
                await session.scalars(select(RecordingExport).where(RecordingExport.id == export_id))
            ).one()
            export.state, export.error, export.directory = state, error[:2000], directory
            export.files = files or []
            export.bytes = sum(int(f["bytes"]) for f in export.files)
            await session.commit()
            return export

    def export_dir(self, export: RecordingExport) -> Path:
        return self.exports_root / export.directory


def install(ctx: AppContext, settings: RecordingSettings) -> list[StartupHook]:
    """Called by `create_app` after the media runtime: the recorder follows the plane's cameras when
    this node runs the media engine; playback, export and retention run either way."""
    node = ctx.services.add(RecordingsNode(ctx, settings))
    plane = ctx.services.get(MediaPlane)
    if plane is not None:
        plane.hooks.append(node)

    async def start(_ctx: AppContext) -> Stop:
        await node.start()
        return node.stop

    return [start]


async def _export_masks(session: AsyncSession, camera_id: int, lo: datetime, hi: datetime) -> MaskTimeline:
    """The masks of a masked export: the sets now and, for a PTZ camera, the positions recorded over
    the range (from a minute before it: the export starts at the keyframe before `lo`)."""
    stored = (await masks.stored_sets(session, [camera_id])).get(camera_id)
    if stored is None:
        return MaskTimeline(MaskSets())
    try:
        sets = mask_sets(stored.default, stored.presets, stored.ptz, stored.masked)
    except ValueError:  # a malformed stored polygon: hide everything rather than nothing
        return MaskTimeline(MaskSets(FULL_FRAME, {}, False, True))
    if not sets.ptz:
        return MaskTimeline(sets)
    rows = await masks.positions_between(session, camera_id, lo - timedelta(minutes=1), hi)
    return MaskTimeline(sets, tuple(Position(at.timestamp(), preset, i) for at, preset, i in rows))
