"""Recording routes: index, timeline, opening a playback (the media it plays: `playback_views`), locks,
retention, exports and storage health.

Access: every route asks the policy for `view_recording` (or `export_video` / `manage_cameras`) on the
camera, and a caller without it (a resident, above all) gets 404 as if nothing were there. Media
routes (`/api/v1/playback/...`, export downloads) carry a short-lived token bound to user, camera and
action, because players and download links cannot send headers; the policy is asked again for the
token's user at least every 30 s. A bad token is answered 404 too; only an expired genuine one gets
401, so a player knows to ask for a fresh one."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse
from sqlalchemy import select

from xueliang.accounts.deps import Ctx, CurrentCaller, Session
from xueliang.accounts.policy import Permission
from xueliang.audit import service as audit
from xueliang.cameras import service as cameras
from xueliang.cameras.models import Camera
from xueliang.cameras.policy import camera_filter
from xueliang.core.bounds import PathId, QueryId
from xueliang.core.clock import as_utc
from xueliang.core.context import AppContext
from xueliang.core.errors import NotFound
from xueliang.media.plane import MediaPlane
from xueliang.recordings import approvals, lifts, service
from xueliang.recordings import export as exporting
from xueliang.recordings.access import MAX_PLAYBACK, From, To, issue_token, node_of, token_actor, token_claims
from xueliang.recordings.approval_models import ApprovalAction
from xueliang.recordings.approval_views import router as approval_router
from xueliang.recordings.masked_playback import MASKED_PREFIX, issue_masked_token
from xueliang.recordings.masked_playback import router as masked_router
from xueliang.recordings.models import EvidenceLock, ExportState, RecordingExport, RecordingSegment
from xueliang.recordings.playback_views import PLAYBACK_PREFIX
from xueliang.recordings.remote import remote_for
from xueliang.recordings.schemas import (
    CameraStorageOut,
    ExportFileOut,
    ExportIn,
    ExportOut,
    GapOut,
    HealthOut,
    LockIn,
    LockOut,
    PlaybackIn,
    PlaybackOut,
    RetentionIn,
    RetentionOut,
    SegmentOut,
    SpanOut,
    StorageEventOut,
    TimelineOut,
)
from xueliang.regions.models import Region

router = APIRouter(tags=["recordings"])
router.include_router(approval_router)  # four-eyes requests and decisions (approval_views.py)
router.include_router(masked_router)  # masked playback of masked cameras (masked_playback.py)


# -- index and timeline ------------------------------------------------------------------------------


def _segment_out(row: RecordingSegment) -> SegmentOut:
    return SegmentOut(
        id=row.id,
        camera_id=row.camera_id,
        start=row.starts_at,
        end=row.ends_at,
        bytes=row.bytes,
        frames=row.frames,
        state=row.state.value,
        path=row.path,
        repaired=row.repaired,
    )


def _lock_out(lock: EvidenceLock) -> LockOut:
    return LockOut(
        id=lock.id,
        camera_id=lock.camera_id,
        start=lock.starts_at,
        end=lock.ends_at,
        reason=lock.reason,
        created_by=lock.created_by,
        created_at=lock.created_at,
    )


@router.get("/recordings", response_model=list[SegmentOut])
async def list_recordings(
    caller: CurrentCaller,
    session: Session,
    camera_id: QueryId,
    lo: From,
    hi: To,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> list[SegmentOut]:
    """Segments of one camera overlapping the range, oldest first."""
    await cameras.get_camera(session, caller.principal, camera_id, Permission.view_recording)
    lo, hi = service.check_range(lo, hi, timedelta(days=31))
    return [_segment_out(r) for r in await service.segments_between(session, camera_id, lo, hi, limit)]


@router.get("/recordings/health", response_model=HealthOut)
async def storage_health(caller: CurrentCaller, session: Session, ctx: Ctx) -> HealthOut:
    """Disk space, the guard, cameras whose recording fails now, and recent storage events (of cameras
    the caller may see)."""
    service.may_record_anything(caller.principal)
    visible = set(
        await session.scalars(
            select(Camera.id)
            .join(Region, Region.id == Camera.region_id)
            .where(camera_filter(caller.principal, Permission.view_recording))
        )
    )
    health = node_of(ctx).health()
    failing = [CameraStorageOut(**f) for f in health.failing if f["camera_id"] in visible]
    events = [
        StorageEventOut(camera_id=e.camera_id, status=e.status.value, reason=e.reason, at=e.at)
        for e in health.events
        if e.camera_id in visible
    ]
    return HealthOut(
        ok=health.ok and not failing,
        total_bytes=health.total_bytes,
        free_bytes=health.free_bytes,
        guard_bytes=health.guard_bytes,
        recorder_running=health.recorder_running,
        recording=health.recording,
        failing=failing,
        events=events,
        last_retention=health.last_retention,
    )


@router.get("/cameras/{camera_id}/timeline", response_model=TimelineOut)
async def camera_timeline(
    caller: CurrentCaller, session: Session, ctx: Ctx, camera_id: PathId, lo: From, hi: To
) -> TimelineOut:
    """Recorded spans, gaps with their reasons and evidence locks in the range; keyframe times too
    when the range is at most an hour (for stepping). A camera hosted by a child node: the child's."""
    remote = await remote_for(ctx, camera_id)
    if remote is not None:  # our scope first (out of it answers as missing), then the child's answer
        await cameras.get_camera(session, caller.principal, camera_id, Permission.view_recording)
        lo, hi = service.check_range(lo, hi, timedelta(days=31))
        data = await remote.timeline(camera_id, lo, hi, caller.user.username)
        return TimelineOut.model_validate({**data, "camera_id": camera_id})
    line = await service.timeline(session, caller.principal, camera_id, lo, hi)
    latest = await service.segments_between(session, camera_id, line.hi - timedelta(hours=2), line.hi)
    return TimelineOut(
        camera_id=camera_id,
        start=line.lo,
        end=line.hi,
        spans=[SpanOut(start=s.start, end=s.end) for s in line.spans],
        gaps=[GapOut(start=g.starts_at, end=g.ends_at, reason=g.reason) for g in line.gaps],
        locks=[_lock_out(lock) for lock in line.locks],
        keyframes=line.keyframes,
        segments=line.segments,
        bytes=line.bytes,
        codec=latest[-1].codec if latest else None,
    )


# -- playback ----------------------------------------------------------------------------------------


@router.post("/recordings/playback", response_model=PlaybackOut)
async def open_playback(body: PlaybackIn, caller: CurrentCaller, session: Session, ctx: Ctx) -> PlaybackOut:
    """A token and the URLs to play a camera's recording of a range (HLS VOD, or the console's plan).
    Opening is audited (`recording.view`, whose row id is the answer's `view`); `refresh` with that
    `view` renews the token of the caller's view of the same camera and range without a new audit
    row, and is refused (404) for any other."""
    camera, _ = await cameras.get_camera(session, caller.principal, body.camera_id, Permission.view_recording)
    lo, hi = service.check_range(body.lo, body.hi, MAX_PLAYBACK)
    # A masked camera without an approved lift plays masked (masked_playback.py); a lift is checked.
    masked = body.approval is None and await approvals.masked_by_default(session, camera.id)
    granted = None if masked else await approvals.require_grant(
        session, caller.principal, caller.actor, camera.id, ApprovalAction.playback, lo, hi,
        body.approval, ctx.clock.now(), record=not body.refresh,
    )  # fmt: skip
    if body.refresh:
        view = await service.audited_view(session, caller.user.id, camera.id, lo, hi, body.view)
    else:
        opened = await audit.append(
            session,
            caller.actor,
            "recording.view",
            at=ctx.clock.now(),
            target_type="camera",
            target_id=camera.id,
            detail={"gb_id": camera.gb_id, "from": lo.isoformat(), "to": hi.isoformat()}
            | ({"approval": granted} if granted is not None else {})
            | ({"masked": True} if masked else {}),
        )
        await session.commit()
        view = opened.id
    if masked:
        token, base = issue_masked_token(ctx, caller.user.id, camera.id), f"{MASKED_PREFIX}/{camera.id}"
    else:
        token = lifts.issue(ctx, caller.user.id, camera.id, granted)  # bound to the grant, if any
        base = f"{PLAYBACK_PREFIX}/{camera.id}"
    query = f"from={_q(lo)}&to={_q(hi)}&token={token}"
    return PlaybackOut(
        camera_id=camera.id,
        view=view,
        token=token,
        expires_in=ctx.settings.stream_token_seconds,
        hls=f"{base}/index.m3u8?{query}",
        plan=f"{base}/plan.json?{query}",
        masked=masked,
        approval=granted,
    )


def _q(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- evidence locks and retention --------------------------------------------------------------------


@router.get("/recordings/locks", response_model=list[LockOut])
async def list_locks(
    caller: CurrentCaller, session: Session, camera_id: QueryId | None = None
) -> list[LockOut]:
    return [_lock_out(lock) for lock in await service.visible_locks(session, caller.principal, camera_id)]


@router.post("/recordings/locks", response_model=LockOut, status_code=201)
async def lock_range(body: LockIn, caller: CurrentCaller, session: Session, ctx: Ctx) -> LockOut:
    """Keep a camera's recording of a range from retention (evidence); audited."""
    lock = await service.create_lock(
        session,
        caller.principal,
        caller.actor,
        body.camera_id,
        body.lo,
        body.hi,
        body.reason,
        ctx.clock.now(),
    )
    await session.commit()
    return _lock_out(lock)


@router.delete("/recordings/locks/{lock_id}", response_model=LockOut)
async def unlock_range(lock_id: PathId, caller: CurrentCaller, session: Session, ctx: Ctx) -> LockOut:
    lock = await service.release_lock(session, caller.principal, caller.actor, lock_id, ctx.clock.now())
    await session.commit()
    return _lock_out(lock)


@router.put("/recordings/cameras/{camera_id}/retention", response_model=RetentionOut)
async def set_retention(
    camera_id: PathId, body: RetentionIn, caller: CurrentCaller, session: Session, ctx: Ctx
) -> RetentionOut:
    """Days to keep a camera's recordings, and whether it records at all; audited."""
    camera = await service.set_retention(
        session,
        caller.principal,
        caller.actor,
        camera_id,
        ctx.clock.now(),
        days=body.days,
        record=body.record,
    )
    await session.commit()
    node = node_of(ctx)
    plane = ctx.services.get(MediaPlane)
    if body.record is not None and plane is not None:
        await node.camera_changed(plane, camera.id, camera)
    node.wake_retention()
    return RetentionOut(camera_id=camera.id, retention_days=camera.retention_days, record=camera.record)


# -- exports -----------------------------------------------------------------------------------------


def _export_out(ctx: AppContext, export: RecordingExport, user_id: int | None = None) -> ExportOut:
    files = [
        ExportFileOut(name=str(f["name"]), bytes=int(f["bytes"]), sha256=str(f["sha256"]))
        for f in export.files
    ]
    expires_in = None
    if user_id is not None and export.state is ExportState.ready:
        token = issue_token(ctx, user_id, export.camera_id, Permission.export_video)
        directory = node_of(ctx).export_dir(export)
        for name in (exporting.MANIFEST, exporting.SIGNATURE):
            path = directory / name
            if path.is_file():
                data = path.read_bytes()
                files.append(
                    ExportFileOut(name=name, bytes=len(data), sha256=hashlib.sha256(data).hexdigest())
                )
        base = f"/api/v1/recordings/exports/{export.id}/files"
        files = [f.model_copy(update={"url": f"{base}/{f.name}?token={token}"}) for f in files]
        expires_in = ctx.settings.stream_token_seconds
    return ExportOut(
        id=export.id,
        masked=export.masked,
        camera_id=export.camera_id,
        start=export.starts_at,
        end=export.ends_at,
        reason=export.reason,
        username=export.username,
        created_at=export.created_at,
        state=export.state.value,
        error=export.error,
        bytes=export.bytes,
        files=files,
        expires_in=expires_in,
    )


@router.post("/recordings/exports", response_model=ExportOut, status_code=202)
async def create_export(body: ExportIn, caller: CurrentCaller, session: Session, ctx: Ctx) -> ExportOut:
    """Start an evidence export (MP4 + signed manifest) of a camera's range; audited. Poll
    GET /recordings/exports/{id} until `state` is `ready`: it then lists the files with download
    links that carry a short-lived token."""
    node = node_of(ctx)
    camera, _ = await cameras.get_camera(session, caller.principal, body.camera_id, Permission.export_video)
    lo, hi = service.check_range(body.lo, body.hi)
    # A masked camera without an approved lift exports masked; a sensitive one needs approval anyway.
    masked = body.approval is None and await approvals.masked_export(session, camera.id)
    if not masked:
        await approvals.require_grant(
            session, caller.principal, caller.actor, camera.id, ApprovalAction.export, lo, hi,
            body.approval, ctx.clock.now(),
        )  # fmt: skip
    export = await service.create_export(
        session, caller.principal, caller.actor, body.camera_id, body.lo, body.hi, body.reason,
        ctx.clock.now(), node.settings.max_export_hours,
    )  # fmt: skip
    export.masked = masked
    await session.commit()
    node.submit_export(export.id)
    return _export_out(ctx, export)


@router.get("/recordings/exports", response_model=list[ExportOut])
async def list_exports(caller: CurrentCaller, session: Session, ctx: Ctx) -> list[ExportOut]:
    return [_export_out(ctx, e) for e in await service.visible_exports(session, caller.principal)]


@router.get("/recordings/exports/{export_id}", response_model=ExportOut)
async def get_export(export_id: PathId, caller: CurrentCaller, session: Session, ctx: Ctx) -> ExportOut:
    export, _ = await service.get_export(session, caller.principal, export_id)
    return _export_out(ctx, export, caller.user.id)


@router.get("/recordings/exports/{export_id}/files/{name}")
async def download_export_file(
    request: Request, ctx: Ctx, export_id: PathId, name: str, token: str = ""
) -> Response:
    """One file of a ready export, by a link with a short-lived token; each download is audited. The
    lookups before the token is checked only read: anonymous requests never take the writer turn."""
    async with ctx.db.read_session() as session:
        export = await session.get(RecordingExport, export_id)
    if export is None or export.state is not ExportState.ready:
        raise NotFound("not found")
    claims = await token_claims(ctx, token, export.camera_id, Permission.export_video)
    names = {str(f["name"]) for f in export.files} | {exporting.MANIFEST, exporting.SIGNATURE}
    path = node_of(ctx).export_dir(export) / name
    if name not in names or not path.is_file():
        raise NotFound("not found")
    actor = await token_actor(ctx, request, claims)
    async with ctx.db.session() as session:
        await audit.append(
            session, actor, "recording.export.download", at=ctx.clock.now(), target_type="camera",
            target_id=export.camera_id, detail={"export": export.id, "file": name},
        )  # fmt: skip
        await session.commit()
    media = "video/mp4" if name.endswith(".mp4") else "application/octet-stream"
    return FileResponse(path, media_type=media, filename=name)
