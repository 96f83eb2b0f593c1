"""Masked playback, `/api/v1/playback/masked/{camera_id}/...`: the same HLS VOD, plan, init, chunk and
seek routes as playback_views.py, serving recorded video with the camera's privacy masks filled
(media/mask/recorded.py: decode, fill, encode per chunk, in a thread). `POST /recordings/playback`
sends here whoever plays a masked camera without an approved lift (four eyes, approvals.py).

Its tokens carry their own action (`view_recording_masked`), so a masked token opens none of the
unmasked routes. Recordings keep the original; nothing masked is stored. Cameras hosted by a child node
are not masked here (their playback is refused instead, see approvals.py)."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from xueliang.accounts import service as accounts
from xueliang.accounts.deps import Ctx
from xueliang.accounts.models import User
from xueliang.accounts.policy import Permission
from xueliang.cameras import masks
from xueliang.cameras import service as cameras
from xueliang.core.bounds import MAX_INT64, PathId, StoredDatetime
from xueliang.core.clock import as_utc
from xueliang.core.context import AppContext
from xueliang.core.errors import NotFound, Unauthorized
from xueliang.media import playback, tokens
from xueliang.media.errors import MediaError
from xueliang.media.mask import Polygons, normalise
from xueliang.media.mask.recorded import mask_recorded, masked_codec_string
from xueliang.recordings import service
from xueliang.recordings.access import MAX_PLAYBACK, From, To, node_of
from xueliang.recordings.models import RecordingSegment

MASKED_PREFIX = "/api/v1/playback/masked"
MASKED_ACTION = "view_recording_masked"
router = APIRouter(prefix="/playback/masked", tags=["recordings"])  # under /api/v1 (recordings/views.py)
Offset = Annotated[int, Path(ge=0, le=MAX_INT64)]
_INITS: OrderedDict[tuple[int, Polygons], bytes] = OrderedDict()  # (segment, masks) -> masked init


def issue_masked_token(ctx: AppContext, user_id: int, camera_id: int) -> str:
    ttl = ctx.settings.stream_token_seconds
    return tokens.issue(ctx.secret.encode(), user_id, camera_id, MASKED_ACTION, ttl, ctx.clock.now())


async def _check(ctx: AppContext, token: str, camera_id: int) -> Polygons:
    """The token is genuine, unexpired, for masked playback of this camera, and its user may still
    play it back; returns the camera's masks now."""
    try:
        claims = tokens.verify(ctx.secret.encode(), token, camera_id, MASKED_ACTION, ctx.clock.now())
    except tokens.TokenExpired as exc:
        raise Unauthorized("token expired: ask for a fresh one", code="token_expired") from exc
    except (tokens.TokenError, tokens.TokenScopeError) as exc:
        raise NotFound("not found") from exc
    async with ctx.db.read_session() as session:
        user = await session.get(User, claims.user_id)
        if user is None or user.disabled:
            raise NotFound("not found")
        principal = await accounts.principal_for(session, user)
        await cameras.get_camera(session, principal, camera_id, Permission.view_recording)
        found = await masks.camera_polygons(session, [camera_id])
    return normalise(found.get(camera_id, []))


async def _views(ctx: AppContext, camera_id: int, lo: datetime, hi: datetime) -> list[playback.SegmentView]:
    async with ctx.db.read_session() as session:
        rows = await service.segments_between(session, camera_id, lo, hi)
    return [service.view_of(r) for r in rows]


async def _segment(ctx: AppContext, camera_id: int, segment_id: int) -> playback.SegmentView:
    async with ctx.db.read_session() as session:
        row = await session.get(RecordingSegment, segment_id)
    if row is None or row.camera_id != camera_id or row.frames == 0:
        raise NotFound("not found")
    return service.view_of(row)


def _read_masked(
    path: Any, view: playback.SegmentView, first: int, last: int, polygons: Polygons
) -> tuple[bytes, bytes]:
    init = playback.read_range(path, 0, view.init_size)
    return mask_recorded(init, playback.read_range(path, first, last), polygons)


async def _masked(
    ctx: AppContext, view: playback.SegmentView, first: int, last: int, polygons: Polygons
) -> tuple[bytes, bytes]:
    path = node_of(ctx).root / view.path
    try:
        out = await asyncio.to_thread(_read_masked, path, view, first, last, polygons)
    except OSError as exc:
        raise NotFound("recording file unavailable") from exc
    except MediaError as exc:
        raise NotFound(f"recording not playable masked: {exc}") from exc
    _INITS[(view.id, polygons)] = out[0]
    while len(_INITS) > 256:
        _INITS.popitem(last=False)
    return out


@router.get("/{camera_id}/index.m3u8")
async def masked_playlist(ctx: Ctx, camera_id: PathId, lo: From, hi: To, token: str = "") -> Response:
    await _check(ctx, token, camera_id)
    lo, hi = service.check_range(lo, hi, MAX_PLAYBACK)
    views = await _views(ctx, camera_id, lo, hi)
    target = node_of(ctx).settings.playback_chunk_seconds
    text, _ = playback.render_vod(views, lo.timestamp(), hi.timestamp(), target, f"?token={token}")
    return Response(text, media_type="application/vnd.apple.mpegurl", headers={"Cache-Control": "no-cache"})


@router.get("/{camera_id}/plan.json")
async def masked_plan(ctx: Ctx, camera_id: PathId, lo: From, hi: To, token: str = "") -> dict[str, Any]:
    """The plan of playback_views.py, for the masked variant (H.264 at the sub-stream size)."""
    await _check(ctx, token, camera_id)
    lo, hi = service.check_range(lo, hi, MAX_PLAYBACK)
    target = node_of(ctx).settings.playback_chunk_seconds
    base = f"{MASKED_PREFIX}/{camera_id}"
    codec = masked_codec_string()
    segments = []
    for view in await _views(ctx, camera_id, lo, hi):
        chunks = playback.segment_chunks(view, target, lo.timestamp(), hi.timestamp())
        if not chunks:
            continue
        segments.append({
            "id": view.id, "start": view.start, "end": view.end, "media_start": view.media_start,
            "codec": codec, "mime": f'video/mp4; codecs="{codec}"', "masked": True,
            "init": f"{base}/init/{view.id}.mp4?token={token}",
            "keyframes": [view.start + ms / 1000 for ms, off in view.keyframes if off < view.bytes],
            "chunks": [{"url": f"{base}/chunk/{view.id}/{c.first}-{c.last}.m4s?token={token}",
                        "start": c.start, "end": c.end} for c in chunks],
        })  # fmt: skip
    return {"camera_id": camera_id, "from": lo.timestamp(), "to": hi.timestamp(), "masked": True,
            "segments": segments}  # fmt: skip


@router.get("/{camera_id}/init/{segment_id}.mp4")
async def masked_init(ctx: Ctx, camera_id: PathId, segment_id: PathId, token: str = "") -> Response:
    """The masked variant's init segment: made by masking the segment's first GOP (libx264 writes the
    same parameter sets for every chunk of one size)."""
    polygons = await _check(ctx, token, camera_id)
    view = await _segment(ctx, camera_id, segment_id)
    init = _INITS.get((view.id, polygons))
    if init is None:
        gop = playback.gop_at(view, view.start)
        if gop is None:
            raise NotFound("not found")
        init, _ = await _masked(ctx, view, gop.first, gop.last, polygons)
    return Response(init, media_type="video/mp4", headers={"Cache-Control": "private, no-cache"})


@router.get("/{camera_id}/chunk/{segment_id}/{first:int}-{last:int}.m4s")
async def masked_chunk(
    ctx: Ctx, camera_id: PathId, segment_id: PathId, first: Offset, last: Offset, token: str = ""
) -> Response:
    polygons = await _check(ctx, token, camera_id)
    view = await _segment(ctx, camera_id, segment_id)
    if not playback.valid_range(view, first, last):
        raise NotFound("no such chunk")
    _, body = await _masked(ctx, view, first, last, polygons)
    return Response(body, media_type="video/mp4", headers={"Cache-Control": "private, no-cache"})


@router.get("/{camera_id}/at.mp4")
async def masked_seek(ctx: Ctx, camera_id: PathId, t: StoredDatetime, token: str = "") -> Response:
    """The masked init segment and GOP holding time `t`; `X-Start` is the keyframe's Unix time."""
    polygons = await _check(ctx, token, camera_id)
    at = as_utc(t)
    async with ctx.db.read_session() as session:
        row = await service.segment_at(session, camera_id, at)
    view = service.view_of(row) if row is not None else None
    gop = playback.gop_at(view, at.timestamp()) if view is not None else None
    if view is None or gop is None:
        raise NotFound("no recording at this time")
    init, body = await _masked(ctx, view, gop.first, gop.last, polygons)
    headers = {"Cache-Control": "private, no-cache", "X-Start": f"{gop.start:.3f}", "X-Segment": str(view.id)}
    return Response(init + body, media_type="video/mp4", headers=headers)
