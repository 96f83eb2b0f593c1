"""Recording queries and changes: timeline, segments in a range, evidence locks, retention, exports.

Every function that takes a principal asks the access policy through `cameras.get_camera` (a camera
the caller may not see is answered as missing, 404), and every change is audited in the same
transaction as the change itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.policy import Permission, Principal, allows
from xueliang.audit import service as audit
from xueliang.audit.models import AuditEvent
from xueliang.audit.service import Actor
from xueliang.cameras import service as cameras
from xueliang.cameras.models import Camera
from xueliang.cameras.policy import camera_filter
from xueliang.core.clock import as_utc
from xueliang.core.errors import NotFound, ValidationFailed
from xueliang.media.playback import SegmentView
from xueliang.recordings.models import (
    EvidenceLock,
    ExportState,
    RecordingExport,
    RecordingGap,
    RecordingSegment,
)
from xueliang.regions.models import Region

LOOKBACK = timedelta(hours=2)  # no segment is longer: lets range queries use (camera_id, starts_at)
SPAN_JOIN = 1.0  # seconds: segments closer than this draw as one recorded span
KEYFRAMES_UP_TO = timedelta(hours=1)  # a timeline of at most this much lists keyframe times


def may_record_anything(p: Principal) -> None:
    """Routes not bound to one camera answer 404 to roles that never see recordings (residents)."""
    if not allows(p, Permission.view_recording):
        raise NotFound("not found")


def check_range(lo: datetime, hi: datetime, limit: timedelta | None = None) -> tuple[datetime, datetime]:
    lo, hi = as_utc(lo), as_utc(hi)
    if hi <= lo:
        raise ValidationFailed("`to` must be after `from`")
    if limit is not None and hi - lo > limit:
        raise ValidationFailed(f"the range may span at most {limit.total_seconds() / 3600:g} h")
    return lo, hi


def view_of(row: RecordingSegment) -> SegmentView:
    return SegmentView(
        id=row.id,
        path=row.path,
        start=row.starts_at.timestamp(),
        end=row.ends_at.timestamp(),
        bytes=row.bytes,
        init_size=row.init_size,
        media_start=row.media_start,
        media_end=row.media_end,
        keyframes=tuple((int(ms), int(off)) for ms, off in row.keyframes),
        codec=row.codec,
    )


async def segments_between(
    session: AsyncSession, camera_id: int, lo: datetime, hi: datetime, limit: int | None = None
) -> list[RecordingSegment]:
    """Segments of the camera overlapping [lo, hi), oldest first, with at least one frame."""
    stmt = (
        select(RecordingSegment)
        .where(
            RecordingSegment.camera_id == camera_id,
            RecordingSegment.starts_at < hi,
            RecordingSegment.starts_at >= lo - LOOKBACK,
            RecordingSegment.ends_at > lo,
            RecordingSegment.frames > 0,
        )
        .order_by(RecordingSegment.starts_at)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(await session.scalars(stmt))


async def segment_at(session: AsyncSession, camera_id: int, at: datetime) -> RecordingSegment | None:
    """The segment holding time `at`: one backwards index probe (this is the seek path)."""
    row = (
        await session.scalars(
            select(RecordingSegment)
            .where(
                RecordingSegment.camera_id == camera_id,
                RecordingSegment.starts_at <= at,
                RecordingSegment.starts_at >= at - LOOKBACK,
            )
            .order_by(RecordingSegment.starts_at.desc())
            .limit(1)
        )
    ).first()
    return row if row is not None and row.ends_at > at and row.frames > 0 else None


async def gaps_between(
    session: AsyncSession, camera_id: int, lo: datetime, hi: datetime
) -> list[RecordingGap]:
    return list(
        await session.scalars(
            select(RecordingGap)
            .where(
                RecordingGap.camera_id == camera_id,
                RecordingGap.starts_at < hi,
                or_(RecordingGap.ends_at.is_(None), RecordingGap.ends_at > lo),
            )
            .order_by(RecordingGap.starts_at)
        )
    )


def lock_overlaps(segment: type[RecordingSegment] = RecordingSegment) -> Any:
    """SQL: an unreleased evidence lock overlaps the segment."""
    return exists().where(
        EvidenceLock.camera_id == segment.camera_id,
        EvidenceLock.released_at.is_(None),
        EvidenceLock.starts_at < segment.ends_at,
        EvidenceLock.ends_at > segment.starts_at,
    )


async def locks_of(
    session: AsyncSession, camera_id: int, lo: datetime | None = None, hi: datetime | None = None
) -> list[EvidenceLock]:
    stmt = select(EvidenceLock).where(EvidenceLock.camera_id == camera_id, EvidenceLock.released_at.is_(None))
    if lo is not None and hi is not None:
        stmt = stmt.where(EvidenceLock.starts_at < hi, EvidenceLock.ends_at > lo)
    return list(await session.scalars(stmt.order_by(EvidenceLock.starts_at)))


@dataclass(frozen=True, slots=True)
class Span:
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Timeline:
    camera_id: int
    lo: datetime
    hi: datetime
    spans: list[Span]
    gaps: list[RecordingGap]
    locks: list[EvidenceLock]
    keyframes: list[float] | None  # Unix times, for ranges up to KEYFRAMES_UP_TO
    segments: int
    bytes: int


async def timeline(
    session: AsyncSession, p: Principal, camera_id: int, lo: datetime, hi: datetime
) -> Timeline:
    lo, hi = check_range(lo, hi, timedelta(days=31))
    await cameras.get_camera(session, p, camera_id, Permission.view_recording)
    rows = await segments_between(session, camera_id, lo, hi)
    spans: list[Span] = []
    for row in rows:
        if spans and (row.starts_at - spans[-1].end).total_seconds() <= SPAN_JOIN:
            spans[-1] = Span(spans[-1].start, max(spans[-1].end, row.ends_at))
        else:
            spans.append(Span(row.starts_at, row.ends_at))
    keyframes = None
    if hi - lo <= KEYFRAMES_UP_TO:
        keyframes = [
            t
            for row in rows
            for ms, off in row.keyframes
            if off < row.bytes
            and lo.timestamp() <= (t := row.starts_at.timestamp() + ms / 1000) < hi.timestamp()
        ]
    return Timeline(
        camera_id=camera_id,
        lo=lo,
        hi=hi,
        spans=spans,
        gaps=await gaps_between(session, camera_id, lo, hi),
        locks=await locks_of(session, camera_id, lo, hi),
        keyframes=keyframes,
        segments=len(rows),
        bytes=sum(r.bytes for r in rows),
    )


async def audited_view(
    session: AsyncSession, user_id: int, camera_id: int, lo: datetime, hi: datetime, view_id: int | None
) -> int:
    """The id of the `recording.view` audit row of this user's view of exactly this camera and range,
    which a token refresh renews (so every token is bound to an audited view); NotFound otherwise."""
    row = None
    if view_id is not None:
        row = await session.scalar(
            select(AuditEvent).where(
                AuditEvent.id == view_id,
                AuditEvent.action == "recording.view",
                AuditEvent.actor_id == user_id,
                AuditEvent.target_type == "camera",
                AuditEvent.target_id == str(camera_id),
            )
        )
    if row is None or _audited_range(row.detail) != (lo, hi):
        raise NotFound("view not found: open the playback again (without `refresh`)")
    return row.id


def _audited_range(detail: dict[str, Any]) -> tuple[datetime, datetime] | None:
    try:
        return as_utc(datetime.fromisoformat(detail["from"])), as_utc(datetime.fromisoformat(detail["to"]))
    except (KeyError, TypeError, ValueError):
        return None


# -- evidence locks ----------------------------------------------------------------------------------


async def create_lock(
    session: AsyncSession,
    p: Principal,
    actor: Actor,
    camera_id: int,
    lo: datetime,
    hi: datetime,
    reason: str,
    now: datetime,
) -> EvidenceLock:
    """Keep the camera's recording in [lo, hi) from retention until released. Audited."""
    lo, hi = check_range(lo, hi, timedelta(days=366))
    if not reason.strip():
        raise ValidationFailed("a reason is required")
    camera, _ = await cameras.get_camera(session, p, camera_id, Permission.export_video)
    lock = EvidenceLock(
        camera_id=camera.id,
        starts_at=lo,
        ends_at=hi,
        reason=reason.strip()[:500],
        created_by=actor.name,
        created_at=now,
        released_at=None,
        released_by="",
    )
    session.add(lock)
    await session.flush()
    await audit.append(
        session, actor, "recording.lock", at=now, target_type="camera", target_id=camera.id,
        detail={"lock": lock.id, "from": lo.isoformat(), "to": hi.isoformat(), "reason": lock.reason},
    )  # fmt: skip
    return lock


async def release_lock(
    session: AsyncSession, p: Principal, actor: Actor, lock_id: int, now: datetime
) -> EvidenceLock:
    """Release an active lock on a camera the caller may export; any other (missing, released, out of
    scope or beyond the role) is answered alike: "lock not found"."""
    lock = (
        await session.scalars(
            select(EvidenceLock)
            .join(Camera, Camera.id == EvidenceLock.camera_id)
            .join(Region, Region.id == Camera.region_id)
            .where(
                EvidenceLock.id == lock_id,
                EvidenceLock.released_at.is_(None),
                camera_filter(p, Permission.export_video),
            )
        )
    ).first()
    if lock is None:
        raise NotFound("lock not found")
    lock.released_at, lock.released_by = now, actor.name
    await audit.append(
        session, actor, "recording.unlock", at=now, target_type="camera", target_id=lock.camera_id,
        detail={"lock": lock.id, "from": lock.starts_at.isoformat(), "to": lock.ends_at.isoformat(),
                "reason": lock.reason},
    )  # fmt: skip
    return lock


async def visible_locks(session: AsyncSession, p: Principal, camera_id: int | None) -> list[EvidenceLock]:
    may_record_anything(p)
    stmt = (
        select(EvidenceLock)
        .join(Camera, Camera.id == EvidenceLock.camera_id)
        .join(Region, Region.id == Camera.region_id)
        .where(camera_filter(p, Permission.view_recording), EvidenceLock.released_at.is_(None))
    )
    if camera_id is not None:
        stmt = stmt.where(EvidenceLock.camera_id == camera_id)
    return list(await session.scalars(stmt.order_by(EvidenceLock.starts_at)))


# -- retention settings ------------------------------------------------------------------------------


async def set_retention(
    session: AsyncSession,
    p: Principal,
    actor: Actor,
    camera_id: int,
    now: datetime,
    *,
    days: int | None = None,
    record: bool | None = None,
) -> Camera:
    """Change how long a camera's recordings are kept (1..3650 days) or whether it records. Audited."""
    camera, _ = await cameras.get_camera(session, p, camera_id, Permission.manage_cameras)
    changed: dict[str, Any] = {}
    if days is not None and days != camera.retention_days:
        if not 1 <= days <= 3650:
            raise ValidationFailed("retention days must be between 1 and 3650")
        changed["retention_days"] = {"from": camera.retention_days, "to": days}
        camera.retention_days = days
    if record is not None and record != camera.record:
        changed["record"] = {"from": camera.record, "to": record}
        camera.record = record
    if changed:
        await audit.append(
            session, actor, "recording.retention", at=now, target_type="camera", target_id=camera.id,
            detail={"gb_id": camera.gb_id, **changed},
        )  # fmt: skip
    return camera


# -- exports ------------------------------------------------------------------------------------------


async def create_export(
    session: AsyncSession,
    p: Principal,
    actor: Actor,
    camera_id: int,
    lo: datetime,
    hi: datetime,
    reason: str,
    now: datetime,
    max_hours: float,
) -> RecordingExport:
    """Record the export request (state `running`) and audit it; the export runner does the work."""
    lo, hi = check_range(lo, hi, timedelta(hours=max_hours))
    if not reason.strip():
        raise ValidationFailed("a reason is required")
    camera, _ = await cameras.get_camera(session, p, camera_id, Permission.export_video)
    if not await segments_between(session, camera.id, lo, hi, limit=1):
        raise ValidationFailed("no recording of this camera in this range")
    export = RecordingExport(
        camera_id=camera.id,
        starts_at=lo,
        ends_at=hi,
        reason=reason.strip()[:500],
        user_id=actor.id,
        username=actor.name,
        created_at=now,
        state=ExportState.running,
        error="",
        directory="",
        files=[],
        bytes=0,
    )
    session.add(export)
    await session.flush()
    await audit.append(
        session, actor, "recording.export", at=now, target_type="camera", target_id=camera.id,
        detail={"export": export.id, "gb_id": camera.gb_id, "from": lo.isoformat(), "to": hi.isoformat(),
                "reason": export.reason},
    )  # fmt: skip
    return export


async def visible_exports(session: AsyncSession, p: Principal, limit: int = 100) -> list[RecordingExport]:
    may_record_anything(p)
    stmt = (
        select(RecordingExport)
        .join(Camera, Camera.id == RecordingExport.camera_id)
        .join(Region, Region.id == Camera.region_id)
        .where(camera_filter(p, Permission.export_video))
        .order_by(RecordingExport.id.desc())
        .limit(limit)
    )
    return list(await session.scalars(stmt))


async def get_export(session: AsyncSession, p: Principal, export_id: int) -> tuple[RecordingExport, Camera]:
    """The export if the caller may export its camera's video; otherwise "export not found", exactly as
    for a missing one."""
    row = (
        await session.execute(
            select(RecordingExport, Camera)
            .join(Camera, Camera.id == RecordingExport.camera_id)
            .join(Region, Region.id == Camera.region_id)
            .where(RecordingExport.id == export_id, camera_filter(p, Permission.export_video))
        )
    ).first()
    if row is None:
        raise NotFound("export not found")
    return row[0], row[1]


async def camera_segments(
    session: AsyncSession, camera_id: int | None, lo: datetime | None, hi: datetime | None, limit: int
) -> list[RecordingSegment]:
    """For the command line (no principal: the operator at the console owns the node)."""
    stmt = select(RecordingSegment)
    if camera_id is not None:
        stmt = stmt.where(RecordingSegment.camera_id == camera_id)
    if lo is not None:
        stmt = stmt.where(RecordingSegment.ends_at > lo)
    if hi is not None:
        stmt = stmt.where(RecordingSegment.starts_at < hi)
    return list(await session.scalars(stmt.order_by(RecordingSegment.starts_at.desc()).limit(limit)))
