"""Masked playback, `/api/v1/playback/masked/{camera_id}/...`: the same HLS VOD, plan, init, chunk and
seek routes as playback_views.py, serving recorded video with the camera's privacy masks filled
(media/mask/recorded.py: decode, fill, encode per chunk, in a thread). `POST /recordings/playback`
sends here whoever plays a masked camera without an approved lift (four eyes, approvals.py).

Its tokens carry their own action (`view_recording_masked`), so a masked token opens none of the
unmasked routes. Recordings keep the original; nothing masked is stored. A PTZ camera's frames get the
mask set in force when they were recorded (the positions our PTZ commands recorded, media/mask/presets).

A camera hosted by a child node (federation, `node://`) is masked here too, with the masks its owner
sent up: its segments are read from the child (recordings/remote.py, audited there for our user) and
filled in this node. A relayed PTZ camera's sets in force and positions are the child's: it sends
them up with each chunk (`RemoteRecordings.mask_timeline`); a child that cannot say has the whole
picture filled (fail closed, docs/privacy.md "Limits")."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from datetime import UTC, datetime
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
from xueliang.media.mask import Polygons
from xueliang.media.mask.presets import FULL_FRAME, MaskSets, MaskTimeline, Position, mask_sets
from xueliang.media.mask.recorded import mask_recorded, masked_codec_string
from xueliang.recordings import service
from xueliang.recordings.access import MAX_PLAYBACK, From, To, node_of
from xueliang.recordings.models import RecordingSegment
from xueliang.recordings.remote import RemoteRecordings, remote_for

MASKED_PREFIX = "/api/v1/playback/masked"
MASKED_ACTION = "view_recording_masked"
router = APIRouter(prefix="/playback/masked", tags=["recordings"])  # under /api/v1 (recordings/views.py)
Offset = Annotated[int, Path(ge=0, le=MAX_INT64)]
_INITS: OrderedDict[tuple[int, int, MaskSets], bytes] = OrderedDict()  # (camera, segment, masks) -> init
_WHOLE = MaskSets(FULL_FRAME, {}, False, True)  # every picture filled


def issue_masked_token(ctx: AppContext, user_id: int, camera_id: int) -> str:
    ttl = ctx.settings.stream_token_seconds
    return tokens.issue(ctx.secret.encode(), user_id, camera_id, MASKED_ACTION, ttl, ctx.clock.now())


async def _check(ctx: AppContext, token: str, camera_id: int) -> MaskSets:
    return (await _checked(ctx, token, camera_id))[0]


async def _checked(ctx: AppContext, token: str, camera_id: int) -> tuple[MaskSets, str]:
    """The token is genuine, unexpired, for masked playback of this camera, and its user may still
    play it back; returns the camera's mask sets now and the user's name (for a child's audit)."""
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
        stored = (await masks.stored_sets(session, [camera_id])).get(camera_id)
    if stored is None:
        return MaskSets(), user.username  # its masks were removed since the token was issued
    try:
        return mask_sets(stored.default, stored.presets, stored.ptz, stored.masked), user.username
    except ValueError:  # a malformed stored polygon: hide everything rather than nothing
        return _WHOLE, user.username


async def _timeline(
    ctx: AppContext, camera_id: int, sets: MaskSets, view: playback.SegmentView
) -> MaskTimeline:
    """The sets and, for a PTZ camera, the positions recorded over the segment's time."""
    if not sets.ptz:
        return MaskTimeline(sets)
    lo = datetime.fromtimestamp(view.start, UTC)
    hi = datetime.fromtimestamp(view.end, UTC)
    async with ctx.db.read_session() as session:
        rows = await masks.positions_between(session, camera_id, lo, hi)
    return MaskTimeline(sets, tuple(Position(at.timestamp(), preset, i) for at, preset, i in rows))


async def _views(
    ctx: AppContext, camera_id: int, lo: datetime, hi: datetime, user: str
) -> list[playback.SegmentView]:
    remote = await remote_for(ctx, camera_id)
    if remote is not None:  # hosted by a child node: its segments, audited there for our user
        return await remote.views(camera_id, lo, hi, user)
    async with ctx.db.read_session() as session:
        rows = await service.segments_between(session, camera_id, lo, hi)
    return [service.view_of(r) for r in rows]


async def _segment(ctx: AppContext, camera_id: int, segment_id: int) -> playback.SegmentView:
    remote = await remote_for(ctx, camera_id)
    if remote is not None:  # the child's segment ids, handed back to it
        found = await remote.segment(camera_id, segment_id)
        if found is None:
            raise NotFound("not found")
        return found
    async with ctx.db.read_session() as session:
        row = await session.get(RecordingSegment, segment_id)
    if row is None or row.camera_id != camera_id or row.frames == 0:
        raise NotFound("not found")
    return service.view_of(row)


def _read_masked(
    path: Any, view: playback.SegmentView, first: int, last: int, timeline: MaskTimeline
) -> tuple[bytes, bytes]:
    init = playback.read_range(path, 0, view.init_size)
    return _fill(init, playback.read_range(path, first, last), view, timeline)


def _fill(
    init: bytes, body: bytes, view: playback.SegmentView, timeline: MaskTimeline
) -> tuple[bytes, bytes]:
    def polygons_at(pts: int) -> Polygons:  # the recording's 90 kHz clock -> the frame's Unix time
        return timeline.at(view.start + (pts - view.media_start) / 90_000)

    at = polygons_at if timeline.sets.ptz else None
    return mask_recorded(init, body, timeline.sets.default, polygons_at=at)


async def _read_remote(
    remote: RemoteRecordings,
    camera_id: int,
    view: playback.SegmentView,
    first: int,
    last: int,
    sets: MaskSets,
) -> tuple[bytes, bytes]:
    """A child's chunk masked here. A PTZ camera's sets in force and positions are the child's: asked
    of it for the segment's time; a child that cannot say (or no longer calls it PTZ) has the whole
    picture filled rather than a set that may belong to another preset."""
    init = await remote.read(camera_id, view.id, 0, view.init_size)
    body = await remote.read(camera_id, view.id, first, last)
    timeline = MaskTimeline(sets)
    if sets.ptz:
        lo, hi = datetime.fromtimestamp(view.start, UTC), datetime.fromtimestamp(view.end, UTC)
        owner = await remote.mask_timeline(camera_id, lo, hi)
        timeline = owner if owner is not None and owner.sets.ptz else MaskTimeline(_WHOLE)
    return await asyncio.to_thread(_fill, init, body, view, timeline)


async def _masked(
    ctx: AppContext, camera_id: int, view: playback.SegmentView, first: int, last: int, sets: MaskSets
) -> tuple[bytes, bytes]:
    remote = await remote_for(ctx, camera_id)
    try:
        if remote is not None:  # the child reads its file; the masks are filled here
            out = await _read_remote(remote, camera_id, view, first, last, sets)
        else:
            path = node_of(ctx).root / view.path
            timeline = await _timeline(ctx, camera_id, sets, view)
            out = await asyncio.to_thread(_read_masked, path, view, first, last, timeline)
    except OSError as exc:
        raise NotFound("recording file unavailable") from exc
    except MediaError as exc:
        raise NotFound(f"recording not playable masked: {exc}") from exc
    _INITS[(camera_id, view.id, sets)] = out[0]
    while len(_INITS) > 256:
        _INITS.popitem(last=False)
    return out


@router.get("/{camera_id}/index.m3u8")
async def masked_playlist(ctx: Ctx, camera_id: PathId, lo: From, hi: To, token: str = "") -> Response:
    _, user = await _checked(ctx, token, camera_id)
    lo, hi = service.check_range(lo, hi, MAX_PLAYBACK)
    views = await _views(ctx, camera_id, lo, hi, user)
    target = node_of(ctx).settings.playback_chunk_seconds
    text, _ = playback.render_vod(views, lo.timestamp(), hi.timestamp(), target, f"?token={token}")
    return Response(text, media_type="application/vnd.apple.mpegurl", headers={"Cache-Control": "no-cache"})


@router.get("/{camera_id}/plan.json")
async def masked_plan(ctx: Ctx, camera_id: PathId, lo: From, hi: To, token: str = "") -> dict[str, Any]:
    """The plan of playback_views.py, for the masked variant (H.264 at the sub-stream size)."""
    _, user = await _checked(ctx, token, camera_id)
    lo, hi = service.check_range(lo, hi, MAX_PLAYBACK)
    target = node_of(ctx).settings.playback_chunk_seconds
    base = f"{MASKED_PREFIX}/{camera_id}"
    codec = masked_codec_string()
    segments = []
    for view in await _views(ctx, camera_id, lo, hi, user):
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
    sets = await _check(ctx, token, camera_id)
    view = await _segment(ctx, camera_id, segment_id)
    init = _INITS.get((camera_id, view.id, sets))
    if init is None:
        gop = playback.gop_at(view, view.start)
        if gop is None:
            raise NotFound("not found")
        init, _ = await _masked(ctx, camera_id, view, gop.first, gop.last, sets)
    return Response(init, media_type="video/mp4", headers={"Cache-Control": "private, no-cache"})


@router.get("/{camera_id}/chunk/{segment_id}/{first:int}-{last:int}.m4s")
async def masked_chunk(
    ctx: Ctx, camera_id: PathId, segment_id: PathId, first: Offset, last: Offset, token: str = ""
) -> Response:
    sets = await _check(ctx, token, camera_id)
    view = await _segment(ctx, camera_id, segment_id)
    if not playback.valid_range(view, first, last):
        raise NotFound("no such chunk")
    _, body = await _masked(ctx, camera_id, view, first, last, sets)
    return Response(body, media_type="video/mp4", headers={"Cache-Control": "private, no-cache"})


@router.get("/{camera_id}/at.mp4")
async def masked_seek(ctx: Ctx, camera_id: PathId, t: StoredDatetime, token: str = "") -> Response:
    """The masked init segment and GOP holding time `t`; `X-Start` is the keyframe's Unix time."""
    sets = await _check(ctx, token, camera_id)
    at = as_utc(t)
    remote = await remote_for(ctx, camera_id)
    if remote is not None:
        view = await remote.segment_at(camera_id, at)
    else:
        async with ctx.db.read_session() as session:
            row = await service.segment_at(session, camera_id, at)
        view = service.view_of(row) if row is not None else None
    gop = playback.gop_at(view, at.timestamp()) if view is not None else None
    if view is None or gop is None:
        raise NotFound("no recording at this time")
    init, body = await _masked(ctx, camera_id, view, gop.first, gop.last, sets)
    headers = {"Cache-Control": "private, no-cache", "X-Start": f"{gop.start:.3f}", "X-Segment": str(view.id)}
    return Response(init + body, media_type="video/mp4", headers=headers)
