"""The cascade's admin API under /api/v1/gb28181/uppers: the county's upper platforms and which
cameras each may see. County admins only (the link is the county's); cameras are shared only within
the admin's scope, and a camera out of scope is answered exactly like a missing one."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import func, select

from xueliang.accounts.deps import Ctx, CurrentCaller, Session
from xueliang.accounts.models import Role
from xueliang.accounts.policy import Permission
from xueliang.audit import service as audit
from xueliang.cameras import service as cameras
from xueliang.cameras.models import Camera
from xueliang.core.bounds import PathId
from xueliang.core.errors import Forbidden
from xueliang.gb28181.cascade import service
from xueliang.gb28181.cascade.cascade import Cascade
from xueliang.gb28181.cascade.models import GbUpper, GbUpperAlarm, GbUpperChannel
from xueliang.gb28181.cascade.schemas import SharedOut, ShareIn, UpperIn, UpperOut, UpperPatch
from xueliang.gb28181.config import Gb28181Settings

router = APIRouter(prefix="/uppers", tags=["gb28181"])  # included by gb28181/views.py


def _require_admin(caller: CurrentCaller) -> None:
    if caller.principal.role is not Role.admin:
        raise Forbidden("only admins manage upper platforms", code="forbidden")


async def _out(session: Session, upper: GbUpper) -> UpperOut:
    shared = await session.scalar(
        select(func.count())
        .select_from(GbUpperChannel)
        .where(GbUpperChannel.upper_id == upper.id, GbUpperChannel.shared.is_(True))
    )
    pending = await session.scalar(
        select(func.count())
        .select_from(GbUpperAlarm)
        .where(GbUpperAlarm.upper_id == upper.id, GbUpperAlarm.sent_at.is_(None))
    )
    return UpperOut(
        id=upper.id,
        name=upper.name,
        sip_id=upper.sip_id,
        domain=upper.domain,
        host=upper.host,
        port=upper.port,
        transport=upper.transport,
        has_password=bool(upper.password),
        local_id=upper.local_id,
        register_expires=upper.register_expires,
        keepalive_period=upper.keepalive_period,
        charset=upper.charset,
        catalog_page=upper.catalog_page,
        enabled=upper.enabled,
        state=upper.state,
        registered_at=upper.registered_at,
        last_keepalive=upper.last_keepalive,
        last_error=upper.last_error,
        last_error_at=upper.last_error_at,
        catalog_at=upper.catalog_at,
        shared=int(shared or 0),
        alarms_pending=int(pending or 0),
    )


def _node_id(ctx: Ctx) -> str:
    settings = ctx.services.get(Gb28181Settings)
    return settings.sip_id if settings is not None else Gb28181Settings().sip_id


async def _reload(ctx: Ctx, upper_id: int) -> None:
    cascade = ctx.services.get(Cascade)
    if cascade is not None:
        await cascade.reload(upper_id)


@router.get("", response_model=list[UpperOut])
async def list_uppers(caller: CurrentCaller, session: Session) -> list[UpperOut]:
    """Each upper platform with its link's state, last keepalive, last error and catalog age."""
    _require_admin(caller)
    return [await _out(session, u) for u in await service.list_uppers(session)]


@router.get("/{upper_id}", response_model=UpperOut)
async def get_upper(upper_id: PathId, caller: CurrentCaller, session: Session) -> UpperOut:
    _require_admin(caller)
    return await _out(session, await service.get_upper(session, upper_id))


@router.post("", response_model=UpperOut, status_code=201)
async def create_upper(body: UpperIn, caller: CurrentCaller, ctx: Ctx, session: Session) -> UpperOut:
    _require_admin(caller)
    now = ctx.clock.now()
    upper = await service.create_upper(session, body.model_dump(), now)
    await audit.append(
        session,
        caller.actor,
        "gb28181.upper.create",
        at=now,
        target_type="gb_upper",
        target_id=upper.id,
        detail={"sip_id": upper.sip_id, "host": upper.host, "port": upper.port},
    )
    await session.commit()
    await _reload(ctx, upper.id)
    return await _out(session, upper)


@router.patch("/{upper_id}", response_model=UpperOut)
async def update_upper(
    upper_id: PathId, body: UpperPatch, caller: CurrentCaller, ctx: Ctx, session: Session
) -> UpperOut:
    _require_admin(caller)
    upper = await service.get_upper(session, upper_id)
    values = body.model_dump(exclude_none=True)
    await service.update_upper(session, upper, values)
    await audit.append(
        session,
        caller.actor,
        "gb28181.upper.update",
        at=ctx.clock.now(),
        target_type="gb_upper",
        target_id=upper.id,
        detail={k: ("***" if k == "password" else v) for k, v in values.items()},
    )
    await session.commit()
    await _reload(ctx, upper.id)
    await session.refresh(upper)
    return await _out(session, upper)


@router.delete("/{upper_id}", status_code=204)
async def delete_upper(upper_id: PathId, caller: CurrentCaller, ctx: Ctx, session: Session) -> None:
    _require_admin(caller)
    upper = await service.get_upper(session, upper_id)
    await audit.append(
        session,
        caller.actor,
        "gb28181.upper.delete",
        at=ctx.clock.now(),
        target_type="gb_upper",
        target_id=upper.id,
        detail={"sip_id": upper.sip_id},
    )
    await session.delete(upper)
    await session.commit()
    await _reload(ctx, upper_id)


@router.get("/{upper_id}/channels", response_model=list[SharedOut])
async def list_shared(upper_id: PathId, caller: CurrentCaller, session: Session) -> list[SharedOut]:
    """Every camera ever shared with this upper (unshared ones keep their channel ID)."""
    _require_admin(caller)
    await service.get_upper(session, upper_id)
    rows = await session.execute(
        select(GbUpperChannel, Camera.name)
        .join(Camera, Camera.id == GbUpperChannel.camera_id)
        .where(GbUpperChannel.upper_id == upper_id)
        .order_by(GbUpperChannel.channel_id)
    )
    return [
        SharedOut(camera_id=r.camera_id, camera_name=name, channel_id=r.channel_id, shared=r.shared)
        for r, name in rows.all()
    ]


@router.put("/{upper_id}/channels/{camera_id}", response_model=SharedOut)
async def share_camera(
    upper_id: PathId, camera_id: PathId, body: ShareIn, caller: CurrentCaller, ctx: Ctx, session: Session
) -> SharedOut:
    """Shares a camera with the upper (its channel ID is chosen once and kept), or stops sharing it."""
    _require_admin(caller)
    upper = await service.get_upper(session, upper_id)
    camera, _ = await cameras.get_camera(session, caller.principal, camera_id, Permission.manage_cameras)
    now = ctx.clock.now()
    row, event = await service.share(session, upper, camera.id, body.shared, _node_id(ctx), now)
    if event:
        await audit.append(
            session,
            caller.actor,
            "gb28181.upper.share" if body.shared else "gb28181.upper.unshare",
            at=now,
            target_type="camera",
            target_id=camera.id,
            detail={"upper": upper.sip_id, "channel": row.channel_id},
        )
    out = SharedOut(
        camera_id=camera.id, camera_name=camera.name, channel_id=row.channel_id, shared=row.shared
    )
    await session.commit()
    cascade = ctx.services.get(Cascade)
    if cascade is not None and event:
        if body.shared:
            cascade.shared.setdefault(upper.id, {})[camera.id] = out.channel_id
        cascade.catalog_changed(upper.id, camera.id, event)
    return out
