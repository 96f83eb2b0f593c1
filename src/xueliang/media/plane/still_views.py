"""`GET /api/v1/cameras/{id}/still.jpg`: a recent picture of a camera for its tile, on every terminal.

A still is a view of the camera, so it is served under exactly the live view's rule (`view_live`, region
scope, and for residents only enabled cameras flagged `public_view`; out of scope answers like missing)
and audited. Tiles refresh every ~10 s, so auditing each request would flood the trail: the plane
writes one `camera.still` row per user and camera per `STILL_AUDIT_EVERY` (10 minutes, counted in this
process; a restart may write one more), which still says who looked at which camera and when."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Response

from xueliang.accounts.deps import Ctx, CurrentCaller, Session
from xueliang.accounts.policy import Permission
from xueliang.audit import service as audit
from xueliang.cameras import masks
from xueliang.cameras import service as cameras
from xueliang.core.bounds import PathId
from xueliang.core.errors import AppError
from xueliang.media.plane.plane import MediaPlane
from xueliang.media.still import NoPicture

router = APIRouter(tags=["cameras"])

STILL_AUDIT_EVERY = timedelta(minutes=10)
STILL_MAX_AGE = 5  # seconds a browser may reuse a still (the server's cache holds it as long)
_AUDIT_MEMORY = 10_000  # (user, camera) pairs remembered before the expired ones are pruned


class NoStill(AppError):
    """The camera is visible to the caller but has no picture now (offline, starting, not pulled)."""

    status = 404
    code = "no_picture"


class MediaDisabled(AppError):
    """This node does not pull cameras (media engine off), so there are no pictures at all."""

    status = 503
    code = "media_disabled"


AuditMemory = dict[tuple[int, int], datetime]


def due_for_audit(seen: AuditMemory, user_id: int, camera_id: int, now: datetime) -> bool:
    """Whether this user's view of this camera starts a new audit window."""
    last = seen.get((user_id, camera_id))
    return last is None or now - last >= STILL_AUDIT_EVERY


def remember_audit(seen: AuditMemory, user_id: int, camera_id: int, now: datetime) -> None:
    """Note a committed `camera.still` row; expired pairs are pruned once the memory is full."""
    if len(seen) >= _AUDIT_MEMORY:
        for old in [k for k, at in seen.items() if now - at >= STILL_AUDIT_EVERY]:
            del seen[old]
    seen[(user_id, camera_id)] = now


@router.get(
    "/cameras/{camera_id}/still.jpg",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}}, "description": "a JPEG at most 320 px wide"}},
)
async def camera_still(camera_id: PathId, caller: CurrentCaller, ctx: Ctx, session: Session) -> Response:
    """The camera's latest keyframe as a small JPEG (cached a few seconds); 404 `not_found` out of scope,
    404 `no_picture` with no keyframe yet, 503 `media_disabled` on a node without the media engine."""
    camera, _region = await cameras.get_camera(session, caller.principal, camera_id, Permission.view_live)
    plane = ctx.services.get(MediaPlane)
    if plane is None:
        raise MediaDisabled("live video is not enabled on this node / 本节点未启用视频")
    masked = await masks.masked_for(session, caller.principal, camera.id)  # masked on the server
    try:
        still = await (plane.masks.still(camera.id) if masked else plane.stills.get(camera.id))
    except NoPicture as exc:
        raise NoStill(f"no picture of this camera now / 暂无画面: {exc.reason}") from None
    now = ctx.clock.now()
    if due_for_audit(plane.still_audits, caller.user.id, camera.id, now):
        await audit.append(
            session,
            caller.actor,
            "camera.still",
            at=now,
            target_type="camera",
            target_id=camera.id,
            detail={
                "gb_id": camera.gb_id,
                "window_s": int(STILL_AUDIT_EVERY.total_seconds()),
                "masked": masked,
            },
        )
        await session.commit()  # audited before the picture leaves
        remember_audit(plane.still_audits, caller.user.id, camera.id, now)
    headers = {"Cache-Control": f"private, max-age={STILL_MAX_AGE}"}
    if still.keyframe_at is not None:
        headers["X-Keyframe-At"] = f"{still.keyframe_at:.3f}"
    return Response(still.jpeg, media_type="image/jpeg", headers=headers)
