"""Retention: each camera keeps its last N days, and the disk never fills.

Two rules, run every minute and at once when a write fails:
1. Age: a closed segment that ended more than the camera's `retention_days` ago is deleted.
2. Free space: while the recordings disk has less free than the guard (the larger of
   `min_free_percent` of the disk and `min_free_bytes`), the oldest segments of any camera go first.
Neither touches a segment overlapping an unreleased evidence lock, an open segment, or one an export
is reading. Rows are deleted (and committed) before their files, so the index never points at a
missing file; a crash in between leaves only an orphan file. Every run that deletes anything is
audited with what it deleted and why."""

from __future__ import annotations

import contextlib
import logging
import shutil
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from sqlalchemy import ColumnElement, delete, not_, select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.audit import service as audit
from xueliang.cameras.models import Camera
from xueliang.core.db import Database
from xueliang.media.recording.segment_io import audio_path
from xueliang.recordings.models import RecordingGap, RecordingSegment, SegmentState
from xueliang.recordings.service import lock_overlaps

log = logging.getLogger(__name__)

BATCH = 200
IN_CHUNK = 500  # camera ids per statement: far below SQLite's and PostgreSQL's parameter limits


class DiskUsage(NamedTuple):
    total: int
    used: int
    free: int


@dataclass(frozen=True, slots=True)
class Busy:
    """A camera's time range that must not be deleted now (an export is reading it)."""

    camera_id: int
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Guard:
    min_free_percent: float = 5.0
    min_free_bytes: int = 10 << 30

    def needed(self, usage: DiskUsage) -> int:
        return max(int(usage.total * self.min_free_percent / 100), self.min_free_bytes)


@dataclass(slots=True)
class RetentionReport:
    by_age: int = 0
    by_space: int = 0
    bytes: int = 0
    gaps: int = 0
    cameras: set[int] = field(default_factory=set)
    free_bytes: int = 0
    needed_bytes: int = 0
    short_of_space: bool = False  # the guard could not be met: everything left is locked or open

    @property
    def deleted(self) -> int:
        return self.by_age + self.by_space


Progress = Callable[[int], None]


def disk_usage(root: Path) -> DiskUsage:
    usage = shutil.disk_usage(root)
    return DiskUsage(usage.total, usage.used, usage.free)


def _deletable(busy: Sequence[Busy]) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [
        RecordingSegment.state == SegmentState.closed,
        not_(lock_overlaps()),
    ]
    for item in busy:
        conditions.append(
            not_(
                (RecordingSegment.camera_id == item.camera_id)
                & (RecordingSegment.starts_at < item.end)
                & (RecordingSegment.ends_at > item.start)
            )
        )
    return conditions


async def _delete_rows(session: AsyncSession, rows: Sequence[tuple[int, int, str, int]]) -> None:
    await session.execute(delete(RecordingSegment).where(RecordingSegment.id.in_([r[0] for r in rows])))
    await session.commit()


def _unlink(root: Path, rows: Sequence[tuple[int, int, str, int]]) -> None:
    for _, _, path, _ in rows:
        file = root / path
        with contextlib.suppress(FileNotFoundError):
            file.unlink()
        with contextlib.suppress(FileNotFoundError):
            (root / audio_path(path)).unlink()  # the segment's sound, when it was recorded
        with contextlib.suppress(OSError):
            file.parent.rmdir()  # the day folder, once it is empty


async def prune_by_age(
    db: Database, root: Path, now: datetime, busy: Sequence[Busy] = (), progress: Progress | None = None
) -> RetentionReport:
    """Cameras that keep the same number of days share their statements: a county's cameras mostly
    keep the default, so a run that finds nothing is a few queries, not three per camera each minute
    (59 cameras: 37 ms of CPU a run before, measured with bench/media.py's seeded county)."""
    report = RetentionReport()
    async with db.session() as session:
        by_days: dict[int, list[int]] = defaultdict(list)
        for camera_id, days in await session.execute(select(Camera.id, Camera.retention_days)):
            by_days[days].append(camera_id)
        for days, all_ids in sorted(by_days.items()):
            cutoff = now - timedelta(days=days)
            for at in range(0, len(all_ids), IN_CHUNK):
                ids = all_ids[at : at + IN_CHUNK]
                await _prune_cameras(session, root, ids, cutoff, busy, progress, report)
    return report


async def _prune_cameras(
    session: AsyncSession,
    root: Path,
    camera_ids: list[int],
    cutoff: datetime,
    busy: Sequence[Busy],
    progress: Progress | None,
    report: RetentionReport,
) -> None:
    """The age rule for cameras that share `cutoff`: oldest first, in batches, then their old gaps."""
    while True:
        rows = list(
            await session.execute(
                select(RecordingSegment.id, RecordingSegment.camera_id, RecordingSegment.path,
                       RecordingSegment.bytes)
                .where(RecordingSegment.camera_id.in_(camera_ids), RecordingSegment.starts_at < cutoff,
                       RecordingSegment.ends_at <= cutoff, *_deletable(busy))
                .order_by(RecordingSegment.starts_at, RecordingSegment.id)
                .limit(BATCH)
            )
        )  # fmt: skip
        if not rows:
            break
        typed = [(r[0], r[1], r[2], r[3]) for r in rows]
        await _delete_rows(session, typed)
        _unlink(root, typed)
        report.by_age += len(typed)
        report.bytes += sum(r[3] for r in typed)
        report.cameras.update(r[1] for r in typed)
        if progress is not None:
            progress(len(typed))
    result = await session.execute(
        delete(RecordingGap).where(
            RecordingGap.camera_id.in_(camera_ids),
            RecordingGap.ends_at.is_not(None),
            RecordingGap.ends_at < cutoff,
        )
    )
    report.gaps += int(getattr(result, "rowcount", 0) or 0)
    await session.commit()


async def guard_free_space(
    db: Database,
    root: Path,
    guard: Guard,
    busy: Sequence[Busy] = (),
    usage: Callable[[Path], DiskUsage] = disk_usage,
    progress: Progress | None = None,
) -> RetentionReport:
    """Delete the oldest unlocked segments, of any camera, until the guard is met."""
    report = RetentionReport()
    current = usage(root)
    report.needed_bytes = guard.needed(current)
    async with db.session() as session:
        while current.free < report.needed_bytes:
            missing = report.needed_bytes - current.free
            rows = list(
                await session.execute(
                    select(RecordingSegment.id, RecordingSegment.camera_id, RecordingSegment.path,
                           RecordingSegment.bytes)
                    .where(*_deletable(busy))
                    .order_by(RecordingSegment.starts_at)
                    .limit(BATCH)
                )
            )  # fmt: skip
            if not rows:
                report.short_of_space = True
                log.warning("recordings disk short of %d bytes and nothing left that may be deleted", missing)
                break
            chosen: list[tuple[int, int, str, int]] = []
            total = 0
            for row in rows:  # just enough of the oldest, not the whole batch
                chosen.append((row[0], row[1], row[2], row[3]))
                total += row[3]
                if total >= missing:
                    break
            await _delete_rows(session, chosen)
            _unlink(root, chosen)
            report.by_space += len(chosen)
            report.bytes += total
            report.cameras.update(r[1] for r in chosen)
            if progress is not None:
                progress(len(chosen))
            current = usage(root)
    report.free_bytes = current.free
    return report


async def run_retention(
    db: Database,
    root: Path,
    guard: Guard,
    now: datetime,
    busy: Sequence[Busy] = (),
    usage: Callable[[Path], DiskUsage] = disk_usage,
    progress: Progress | None = None,
) -> RetentionReport:
    """Both rules, then one audit row if anything was deleted. `root` must exist."""
    aged = await prune_by_age(db, root, now, busy, progress)
    spaced = await guard_free_space(db, root, guard, busy, usage, progress)
    report = RetentionReport(
        by_age=aged.by_age,
        by_space=spaced.by_space,
        bytes=aged.bytes + spaced.bytes,
        gaps=aged.gaps,
        cameras=aged.cameras | spaced.cameras,
        free_bytes=spaced.free_bytes,
        needed_bytes=spaced.needed_bytes,
        short_of_space=spaced.short_of_space,
    )
    if report.deleted:
        async with db.session() as session:
            await audit.append(
                session, audit.SYSTEM, "recording.retention.delete", at=now, target_type="recordings",
                detail={"by_age": report.by_age, "by_space": report.by_space, "bytes": report.bytes,
                        "cameras": sorted(report.cameras), "free_bytes": report.free_bytes},
            )  # fmt: skip
            await session.commit()
        log.info(
            "retention deleted %d segments (%d by age, %d for space), %d bytes",
            report.deleted, report.by_age, report.by_space, report.bytes,
        )  # fmt: skip
    return report
