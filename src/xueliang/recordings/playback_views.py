"""Recorded media for players, `/api/v1/playback/{camera_id}/...`: HLS VOD of a range, the console's plan
of the same chunks, init segments and chunks, and the GOP at a time (seek). Players cannot send headers,
so every route takes the stream token that `POST /api/v1/recordings/playback` issued
(`recordings.access`): a bad token is answered 404, an expired genuine one 401. A token opened with an
approved lift of a masked camera's masks serves only what overlaps the approved range (lifts.py)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from xueliang.accounts.deps import Ctx
from xueliang.accounts.models import User
from xueliang.core.bounds import MAX_INT64, PathId, StoredDatetime
from xueliang.core.clock import as_utc
from xueliang.core.context import AppContext
from xueliang.core.errors import NotFound
from xueliang.media import playback
from xueliang.media.recording.segment_io import audio_path
from xueliang.recordings import lifts, service
from xueliang.recordings.access import MAX_PLAYBACK, From, To, node_of
from xueliang.recordings.models import RecordingSegment
from xueliang.recordings.remote import RemoteRecordings, remote_for
from xueliang.recordings.runtime import RecordingsNode

playback_router = APIRouter(prefix="/api/v1/playback", tags=["recordings"])

PLAYBACK_PREFIX = "/api/v1/playback"
Offset = Annotated[int, Path(ge=0, le=MAX_INT64)]  # a byte offset in a segment file


async def _views(
    ctx: AppContext, camera_id: int, lo: datetime, hi: datetime, user_id: int
) -> list[playback.SegmentView]:
    remote = await remote_for(ctx, camera_id)
    if remote is not None:  # hosted by a child node: its segments, audited there for our user
        async with ctx.db.read_session() as session:
            user = await session.get(User, user_id)
        return await remote.views(camera_id, lo, hi, user.username if user is not None else f"#{user_id}")
    async with ctx.db.read_session() as session:
        rows = await service.segments_between(session, camera_id, lo, hi)
    return [service.view_of(r) for r in rows]


@playback_router.get("/{camera_id}/index.m3u8")
async def vod_playlist(ctx: Ctx, camera_id: PathId, lo: From, hi: To, token: str = "") -> Response:
    """HLS VOD of the range: whole GOPs of the recorded files as they lie on disk."""
    claims, lift = await lifts.claims(ctx, token, camera_id)
    lo, hi = service.check_range(lo, hi, MAX_PLAYBACK)
    if lift is not None:
        lift.check(lo.timestamp(), hi.timestamp(), whole=True)
    views = await _views(ctx, camera_id, lo, hi, claims.user_id)
    target = node_of(ctx).settings.playback_chunk_seconds
    text, _ = playback.render_vod(views, lo.timestamp(), hi.timestamp(), target, f"?token={token}")
    return Response(text, media_type="application/vnd.apple.mpegurl", headers={"Cache-Control": "no-cache"})


@playback_router.get("/{camera_id}/plan.json")
async def playback_plan(ctx: Ctx, camera_id: PathId, lo: From, hi: To, token: str = "") -> dict[str, Any]:
    """The same chunks as the playlist, with wall-clock times and keyframes, for the console's player
    (which maps tfdt to wall time with each segment's `start` and `media_start`)."""
    claims, lift = await lifts.claims(ctx, token, camera_id)
    lo, hi = service.check_range(lo, hi, MAX_PLAYBACK)
    if lift is not None:
        lift.check(lo.timestamp(), hi.timestamp(), whole=True)
    views = await _views(ctx, camera_id, lo, hi, claims.user_id)
    node = node_of(ctx)
    target = node.settings.playback_chunk_seconds
    base = f"{PLAYBACK_PREFIX}/{camera_id}"
    local = await remote_for(ctx, camera_id) is None
    sounds: dict[int, str] = {}
    segments = []
    for view in views:
        chunks = playback.segment_chunks(view, target, lo.timestamp(), hi.timestamp())
        if not chunks:
            continue
        if local and (node.root / audio_path(view.path)).exists():  # the sound recorded beside it
            sounds[view.id] = f"{base}/audio/{view.id}.m4a?token={token}"
        segments.append({
            "id": view.id, "start": view.start, "end": view.end, "media_start": view.media_start,
            "codec": view.codec, "mime": f'video/mp4; codecs="{view.codec}"',
            "init": f"{base}/init/{view.id}.mp4?token={token}",
            "keyframes": [view.start + ms / 1000 for ms, off in view.keyframes if off < view.bytes],
            "chunks": [{"url": f"{base}/chunk/{view.id}/{c.first}-{c.last}.m4s?token={token}",
                        "start": c.start, "end": c.end} for c in chunks],
            "audio": sounds.get(view.id),
        })  # fmt: skip
    return {
        "camera_id": camera_id,
        "from": lo.timestamp(),
        "to": hi.timestamp(),
        "expires": claims.expires,
        "segments": segments,
    }


async def _segment(
    ctx: AppContext, camera_id: int, segment_id: int
) -> tuple[playback.SegmentView, RecordingsNode]:
    remote = await remote_for(ctx, camera_id)
    if remote is not None:
        view = await remote.segment(camera_id, segment_id)
        if view is None:
            raise NotFound("not found")
        return view, node_of(ctx)
    async with ctx.db.read_session() as session:
        row = await session.get(RecordingSegment, segment_id)
    if row is None or row.camera_id != camera_id or row.frames == 0:
        raise NotFound("not found")
    return service.view_of(row), node_of(ctx)


async def _read(
    node: RecordingsNode,
    view: playback.SegmentView,
    first: int,
    last: int,
    remote: tuple[RemoteRecordings, int] | None = None,
) -> bytes:
    if remote is not None:  # (keeper, camera id): the child reads its file
        return await remote[0].read(remote[1], view.id, first, last)
    try:
        return await asyncio.to_thread(playback.read_range, node.root / view.path, first, last)
    except OSError as exc:
        raise NotFound("recording file unavailable") from exc


async def _remote(ctx: AppContext, camera_id: int) -> tuple[RemoteRecordings, int] | None:
    remote = await remote_for(ctx, camera_id)
    return (remote, camera_id) if remote is not None else None


@playback_router.get("/{camera_id}/init/{segment_id}.mp4")
async def vod_init(ctx: Ctx, camera_id: PathId, segment_id: PathId, token: str = "") -> Response:
    _, lift = await lifts.claims(ctx, token, camera_id)
    view, node = await _segment(ctx, camera_id, segment_id)
    if lift is not None:
        lift.check(view.start, view.end, whole=False)
    data = await _read(node, view, 0, view.init_size, await _remote(ctx, camera_id))
    return Response(data, media_type="video/mp4", headers={"Cache-Control": "private, max-age=3600"})


@playback_router.get("/{camera_id}/chunk/{segment_id}/{first:int}-{last:int}.m4s")
async def vod_chunk(
    ctx: Ctx, camera_id: PathId, segment_id: PathId, first: Offset, last: Offset, token: str = ""
) -> Response:
    _, lift = await lifts.claims(ctx, token, camera_id)
    view, node = await _segment(ctx, camera_id, segment_id)
    if not playback.valid_range(view, first, last):
        raise NotFound("no such chunk")
    if lift is not None:
        lift.check(*lifts.chunk_times(view, first, last), whole=False)
    data = await _read(node, view, first, last, await _remote(ctx, camera_id))
    return Response(data, media_type="video/mp4", headers={"Cache-Control": "private, max-age=3600"})


@playback_router.get("/{camera_id}/audio/{segment_id}.m4a")
async def vod_audio(ctx: Ctx, camera_id: PathId, segment_id: PathId, token: str = "") -> Response:
    """The sound recorded beside a segment (docs/media-audio.md): an AAC fMP4 on the segment's clock,
    so the player gives it the segment's timestampOffset. 404 when the camera's sound was off."""
    _, lift = await lifts.claims(ctx, token, camera_id)
    view, node = await _segment(ctx, camera_id, segment_id)
    if lift is not None:
        lift.check(view.start, view.end, whole=False)
    if await remote_for(ctx, camera_id) is not None:
        raise NotFound("no recorded sound")  # a child node's recordings: the picture only, for now
    try:
        data = await asyncio.to_thread((node.root / audio_path(view.path)).read_bytes)
    except OSError as exc:
        raise NotFound("no recorded sound") from exc
    return Response(data, media_type="audio/mp4", headers={"Cache-Control": "private, max-age=3600"})


@playback_router.get("/{camera_id}/at.mp4")
async def seek_gop(ctx: Ctx, camera_id: PathId, t: StoredDatetime, token: str = "") -> Response:
    """Seek: the init segment and the GOP holding time `t`, playable on their own (a preview, or the
    first thing a player appends). `X-Start` is the Unix time of the GOP's keyframe."""
    _, lift = await lifts.claims(ctx, token, camera_id)
    at = as_utc(t)
    if lift is not None:
        lift.check(at.timestamp(), at.timestamp(), whole=True)
    remote = await _remote(ctx, camera_id)
    if remote is not None:
        view = await remote[0].segment_at(camera_id, at)
    else:
        async with ctx.db.read_session() as session:
            row = await service.segment_at(session, camera_id, at)
        view = service.view_of(row) if row is not None else None
    if view is None:
        raise NotFound("no recording at this time")
    gop = playback.gop_at(view, at.timestamp())
    if gop is None:
        raise NotFound("no recording at this time")
    node = node_of(ctx)
    data = await _read(node, view, 0, view.init_size, remote) + await _read(
        node, view, gop.first, gop.last, remote
    )
    return Response(
        data,
        media_type="video/mp4",
        headers={
            "Cache-Control": "private, max-age=3600",
            "X-Start": f"{gop.start:.3f}",
            "X-Segment": str(view.id),
        },
    )
