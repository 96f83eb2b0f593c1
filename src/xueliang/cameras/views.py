"""Camera routes. Every one goes through the scoped service queries, so out-of-scope means 404."""

from __future__ import annotations

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.deps import Caller, Ctx, CurrentCaller, Session, require
from xueliang.accounts.policy import Permission, allows
from xueliang.cameras import masks, service
from xueliang.cameras.events import CameraChanged
from xueliang.cameras.mask_views import router as mask_router
from xueliang.cameras.models import Camera, CameraKind
from xueliang.cameras.remote import remote_for
from xueliang.cameras.schemas import CameraAdminOut, CameraCreate, CameraFields, CameraOut, OpenOut
from xueliang.cameras.streams import LiveStreams
from xueliang.core.bounds import PathId, QueryId
from xueliang.core.context import AppContext
from xueliang.regions.models import Region

router = APIRouter(tags=["cameras"])
router.include_router(mask_router)  # privacy masks and the privacy page's facts (mask_views.py)


def camera_out(camera: Camera, region: Region, admin: bool = False) -> CameraOut:
    data = {
        "id": camera.id,
        "gb_id": camera.gb_id,
        "name": camera.name,
        "name_en": camera.name_en,
        "region_id": region.id,
        "region_code": region.code,
        "region_name": region.name,
        "kind": camera.kind,
        "lat": camera.lat,
        "lon": camera.lon,
        "heading": camera.heading,
        "fov_angle": camera.fov_angle,
        "fov_range": camera.fov_range,
        "ptz": camera.ptz,
        "public_view": camera.public_view,
        "enabled": camera.enabled,
        "record": camera.record,
    }
    if admin:
        return CameraAdminOut(
            **data,
            stream_url=camera.stream_url,
            retention_days=camera.retention_days,
            audio_enabled=camera.audio_enabled,
        )
    return CameraOut(**data)


@router.get("/cameras", response_model=list[CameraOut | CameraAdminOut])
async def list_cameras(
    caller: CurrentCaller,
    session: Session,
    region_id: QueryId | None = None,
    kind: CameraKind | None = None,
    q: str = Query(default="", max_length=100),
    public_view: bool | None = None,
    ptz: bool | None = None,
    enabled: bool | None = None,
) -> list[CameraOut]:
    require(caller, Permission.list_cameras)
    query = service.CameraQuery(
        region_id=region_id, kind=kind, text=q, public_view=public_view, ptz=ptz, enabled=enabled
    )
    admin = allows(caller.principal, Permission.manage_cameras)
    return [camera_out(c, r, admin) for c, r in await service.list_cameras(session, caller.principal, query)]


@router.get("/cameras/{camera_id}", response_model=CameraOut | CameraAdminOut)
async def get_camera(camera_id: PathId, caller: CurrentCaller, session: Session) -> CameraOut:
    camera, region = await service.get_camera(session, caller.principal, camera_id)
    return camera_out(camera, region, allows(caller.principal, Permission.manage_cameras))


@router.post("/cameras/{camera_id}/open", response_model=OpenOut)
async def open_camera(camera_id: PathId, caller: CurrentCaller, ctx: Ctx, session: Session) -> OpenOut:
    """Grants a live view: audited, and answered with stream URLs carrying short-lived signed tokens."""
    camera, region = await service.open_camera(
        session, caller.principal, caller.actor, camera_id, ctx.clock.now()
    )
    await session.commit()  # the view is audited before any stream URL leaves
    return OpenOut(
        camera=camera_out(camera, region),
        streams=await _streams(ctx, session, caller, camera.id),
        expires_in=ctx.settings.stream_token_seconds,
    )


@router.post("/cameras/{camera_id}/token", response_model=OpenOut)
async def refresh_stream_token(
    camera_id: PathId, caller: CurrentCaller, ctx: Ctx, session: Session
) -> OpenOut:
    """Fresh stream URLs for a view already open (the policy is asked again; no new `camera.open`)."""
    camera, region = await service.get_camera(session, caller.principal, camera_id, Permission.view_live)
    return OpenOut(
        camera=camera_out(camera, region),
        streams=await _streams(ctx, session, caller, camera.id),
        expires_in=ctx.settings.stream_token_seconds,
    )


async def _streams(ctx: AppContext, session: AsyncSession, caller: Caller, camera_id: int) -> dict[str, str]:
    """The URLs of the camera's live video, or of its masked variant for those who must see it masked."""
    streams = ctx.services.get(LiveStreams)
    if streams is None:
        return {}
    if await masks.masked_for(session, caller.principal, camera_id):
        return streams.masked_stream_urls(caller.user.id, camera_id)
    return streams.stream_urls(caller.user.id, camera_id)


@router.post("/cameras", response_model=CameraAdminOut, status_code=201)
async def create_camera(body: CameraCreate, caller: CurrentCaller, ctx: Ctx, session: Session) -> CameraOut:
    require(caller, Permission.manage_cameras)
    fields = body.model_dump(exclude_none=True, exclude={"gb_id", "region_id"})
    camera = await service.create_camera(
        session,
        caller.principal,
        caller.actor,
        gb_id=body.gb_id,
        region_id=body.region_id,
        now=ctx.clock.now(),
        **fields,
    )
    ctx.events.publish(session, CameraChanged(camera.id))
    await session.commit()
    await ctx.events.delivered(session)
    region = await session.get(Region, camera.region_id)
    assert region is not None
    return camera_out(camera, region, admin=True)


@router.patch("/cameras/{camera_id}", response_model=CameraAdminOut)
async def patch_camera(
    camera_id: PathId, body: CameraFields, caller: CurrentCaller, ctx: Ctx, session: Session
) -> CameraOut:
    require(caller, Permission.manage_cameras)
    fields = body.model_dump(exclude_none=True)
    if (remote := await remote_for(ctx, camera_id)) is not None:  # a child's camera: its owner decides
        await service.get_camera(session, caller.principal, camera_id, Permission.manage_cameras)
        service.validate_fields(fields)  # bad input is ours to answer (422), not the owner's
        await remote.update(camera_id, fields, caller.actor.name)
        fields.pop("record", None)  # the owner records; this copy never does
    camera = await service.update_camera(
        session, caller.principal, caller.actor, camera_id, ctx.clock.now(), **fields
    )
    ctx.events.publish(session, CameraChanged(camera.id))
    await session.commit()
    await ctx.events.delivered(session)
    region = await session.get(Region, camera.region_id)
    assert region is not None
    return camera_out(camera, region, admin=True)


@router.delete("/cameras/{camera_id}", status_code=204)
async def delete_camera(camera_id: PathId, caller: CurrentCaller, ctx: Ctx, session: Session) -> None:
    require(caller, Permission.manage_cameras)
    if (remote := await remote_for(ctx, camera_id)) is not None:  # deleted at its owner first
        await service.get_camera(session, caller.principal, camera_id, Permission.manage_cameras)
        await remote.delete(camera_id, caller.actor.name)
    await service.delete_camera(session, caller.principal, caller.actor, camera_id, ctx.clock.now())
    ctx.events.publish(session, CameraChanged(camera_id))
    await session.commit()
    await ctx.events.delivered(session)
