"""The recorder's index in the database, and the start-up repair.

The recorder sends small batches of operations (open a segment, bring it up to date, close it, open
a gap); each batch is one transaction. Gap rows are decided here, where the previous segment of the
camera is known: an open gap (camera offline, storage error, node stopped) is closed by the next
segment, and a hole without one (a crash) becomes a gap with the recorder's reason."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.cameras.models import Camera
from xueliang.core.clock import Clock, SystemClock
from xueliang.core.db import Database
from xueliang.media.recording.index import (
    DropSegment,
    IndexOp,
    OpenGap,
    OpenSegment,
    SegmentState,
    UpdateSegment,
)
from xueliang.media.recording.scan import ScanResult, repair_path
from xueliang.media.recording.segment_io import audio_path
from xueliang.recordings.models import RecordingGap, RecordingSegment
from xueliang.recordings.models import SegmentState as RowState

log = logging.getLogger(__name__)

GAP_TOLERANCE = 2.0  # seconds: a shorter hole between segments is jitter, not a gap
BREAK_TOLERANCE = 0.1  # seconds: after a known break (restart, outage) a hole is a gap unless tiny


def utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _values(state: SegmentState) -> dict[str, object]:
    return {
        "starts_at": utc(state.start),
        "ends_at": utc(state.end),
        "bytes": state.bytes,
        "init_size": state.init_size,
        "media_start": state.media_start,
        "media_end": state.media_end,
        "frames": state.frames,
        "keyframes": [list(k) for k in state.keyframes],
        "codec": state.codec,
    }


async def last_segment_end(session: AsyncSession, camera_id: int, before: datetime) -> datetime | None:
    """End of the camera's latest segment starting before `before` (one index probe, no scan)."""
    return (
        await session.scalars(
            select(RecordingSegment.ends_at)
            .where(RecordingSegment.camera_id == camera_id, RecordingSegment.starts_at < before)
            .order_by(RecordingSegment.starts_at.desc())
            .limit(1)
        )
    ).first()


async def open_gap_of(session: AsyncSession, camera_id: int) -> RecordingGap | None:
    return (
        await session.scalars(
            select(RecordingGap)
            .where(RecordingGap.camera_id == camera_id, RecordingGap.ends_at.is_(None))
            .order_by(RecordingGap.starts_at.desc())
            .limit(1)
        )
    ).first()


class DbIndex:
    """`RecordingIndex` over the app's database; file paths are relative to `root`."""

    def __init__(
        self, db: Database, root: Path, gap_tolerance: float = GAP_TOLERANCE, clock: Clock | None = None
    ) -> None:
        self.db = db
        self.clock = clock or SystemClock()
        self.root = root
        self.gap_tolerance = timedelta(seconds=gap_tolerance)
        self.repaired: list[tuple[str, str]] = []  # (path, what was done), for logs and tests
        self.per_camera_recovery = False  # set where camera leases share the cameras out (recover)

    # -- operations ----------------------------------------------------------------------------------

    async def apply(self, ops: Sequence[IndexOp]) -> dict[int, int]:
        ids: dict[int, int] = {}
        unlink: list[str] = []
        async with self.db.session() as session:
            for op in ops:
                if isinstance(op, OpenSegment):
                    ids[op.key] = await self._open_segment(session, op)
                elif isinstance(op, UpdateSegment):
                    values = _values(op.state)
                    if op.final:
                        values["state"] = RowState.closed
                    await session.execute(
                        update(RecordingSegment).where(RecordingSegment.id == op.row_id).values(**values)
                    )
                elif isinstance(op, DropSegment):
                    await session.execute(delete(RecordingSegment).where(RecordingSegment.id == op.row_id))
                    unlink.append(op.path)
                else:
                    await self._open_gap(session, op)
                # SQLite statements run inline on the loop: let live video and alarms through between
                # ops (an outage of 59 cameras was one batch that held the loop ~30 ms).
                await asyncio.sleep(0)
            await session.commit()
        for path in unlink:
            with contextlib.suppress(OSError):
                (self.root / path).unlink()
            with contextlib.suppress(OSError):
                (self.root / audio_path(path)).unlink()
        return ids

    async def _open_segment(self, session: AsyncSession, op: OpenSegment) -> int:
        state = op.state
        start = utc(state.start)
        gap = await open_gap_of(session, state.camera_id)
        if gap is not None:
            gap.ends_at = max(start, gap.starts_at)
        else:
            previous = await last_segment_end(session, state.camera_id, start)
            tolerance = timedelta(seconds=BREAK_TOLERANCE) if op.after_break else self.gap_tolerance
            if previous is not None and start - previous > tolerance:
                session.add(
                    RecordingGap(
                        camera_id=state.camera_id,
                        starts_at=previous,
                        ends_at=start,
                        reason=op.hole_reason[:200],
                    )
                )
        row = RecordingSegment(
            camera_id=state.camera_id, path=state.path, state=RowState.open, repaired=False
        )
        for key, value in _values(state).items():
            setattr(row, key, value)
        session.add(row)
        await session.flush()
        return row.id

    async def _open_gap(self, session: AsyncSession, op: OpenGap) -> None:
        if await open_gap_of(session, op.camera_id) is not None:
            return
        now = self.clock.now()
        start = utc(op.start) if op.start is not None else await last_segment_end(session, op.camera_id, now)
        session.add(
            RecordingGap(camera_id=op.camera_id, starts_at=start or now, ends_at=None, reason=op.reason[:200])
        )

    # -- repair --------------------------------------------------------------------------------------

    async def recover(self, camera_ids: Collection[int] | None = None) -> None:
        """Close every row a crash left open, cutting its file back to the last complete fragment (or
        dropping row and file when nothing complete is left); then check each camera's latest closed
        segment, the one a crash during its close could have left short. With `camera_ids`, only
        those cameras: a media process sharing cameras with others repairs a camera when it takes
        it over (another may be writing the rest), and skips the whole-index pass at start
        (`per_camera_recovery`)."""
        if camera_ids is None and self.per_camera_recovery:
            return
        async with self.db.session() as session:
            q = select(RecordingSegment).where(RecordingSegment.state == RowState.open)
            ids = select(Camera.id)
            if camera_ids is not None:
                q = q.where(RecordingSegment.camera_id.in_(list(camera_ids)))
                ids = ids.where(Camera.id.in_(list(camera_ids)))
            rows = list(await session.scalars(q))
            for camera_id in list(await session.scalars(ids)):
                newest = (
                    await session.scalars(
                        select(RecordingSegment)
                        .where(RecordingSegment.camera_id == camera_id)
                        .order_by(RecordingSegment.starts_at.desc())
                        .limit(1)
                    )
                ).first()  # one index probe per camera, whatever the size of the index
                if newest is not None and newest.state is RowState.closed:
                    rows.append(newest)
        for row in rows:
            await self._repair_row(row)

    async def _repair_row(self, row: RecordingSegment) -> None:
        path = self.root / row.path
        was_open = row.state is RowState.open
        if not was_open:
            try:
                if path.stat().st_size == row.bytes:
                    return
            except OSError:
                pass
        scan = await asyncio.to_thread(_scan_for_repair, path)
        async with self.db.session() as session:
            if scan is None or not scan.fragments:
                await session.execute(delete(RecordingSegment).where(RecordingSegment.id == row.id))
                await session.commit()
                with contextlib.suppress(OSError):
                    path.unlink()
                self.repaired.append((row.path, "dropped: no complete fragment"))
                log.warning("recording %s: nothing usable after a crash; row and file dropped", row.path)
                return
            duration = (scan.media_end - scan.media_start) / 90_000
            starts = row.starts_at
            await session.execute(
                update(RecordingSegment)
                .where(RecordingSegment.id == row.id)
                .values(
                    ends_at=starts + timedelta(seconds=duration),
                    bytes=scan.valid_size,
                    init_size=scan.init_size,
                    media_start=scan.media_start,
                    media_end=scan.media_end,
                    frames=len(scan.fragments),
                    keyframes=[list(k) for k in scan.keyframes()],
                    state=RowState.closed,
                    repaired=True,
                )
            )
            await session.commit()
        what = f"closed at {duration:.2f} s" + (f" ({scan.problem})" if scan.problem else "")
        self.repaired.append((row.path, what))
        log.info("recording %s repaired: %s", row.path, what)


def _scan_for_repair(path: Path) -> ScanResult | None:
    try:
        return repair_path(path)
    except OSError:
        return None
