"""The gb28181 API under /api/v1/gb28181: GB devices for admins and township operators in scope.

Listing, provisioning, binding a device to a village (its channels become cameras there) and setting
its own Digest password. A device outside the caller's scope is answered exactly like a missing one."""

from __future__ import annotations

from fastapi import APIRouter

from xueliang.accounts.deps import Ctx, CurrentCaller, Session
from xueliang.accounts.policy import Permission
from xueliang.audit import service as audit
from xueliang.cameras import service as cameras
from xueliang.cameras.events import CameraChanged, CameraStatusChanged
from xueliang.core.bounds import PathId
from xueliang.core.errors import Conflict, Forbidden, ValidationFailed
from xueliang.gb28181 import ptz_masks, service
from xueliang.gb28181.cascade.views import router as cascade_router
from xueliang.gb28181.config import Gb28181Settings
from xueliang.gb28181.models import GbChannel, GbDevice
from xueliang.gb28181.platform import GbPlatform
from xueliang.gb28181.policy import MANAGERS
from xueliang.gb28181.ptz import ptz_cmd
from xueliang.gb28181.schemas import (
    ChannelOut,
    DeviceBind,
    DeviceCreate,
    DeviceOut,
    DevicePassword,
    PtzIn,
    PtzOut,
)
from xueliang.regions.models import Region

router = APIRouter(prefix="/gb28181", tags=["gb28181"])
router.include_router(cascade_router)  # /gb28181/uppers: the cascade (gb28181/cascade/views.py)


def _out(device: GbDevice, region: Region | None, channels: list[GbChannel] | None = None) -> DeviceOut:
    return DeviceOut(
        id=device.id,
        device_id=device.device_id,
        name=device.name,
        region_id=region.id if region else None,
        region_code=region.code if region else None,
        has_password=device.ha1 is not None,
        transport=device.transport,
        contact=f"{device.contact_host}:{device.contact_port}" if device.contact_host else "",
        online=device.online,
        registered_until=device.registered_until,
        last_keepalive=device.last_keepalive,
        manufacturer=device.manufacturer,
        model=device.model,
        firmware=device.firmware,
        charset=device.charset,
        channels=[
            ChannelOut(channel_id=c.channel_id, name=c.name, status=c.status, camera_id=c.camera_id)
            for c in channels or []
        ],
    )


def _require_manager(caller: CurrentCaller) -> None:
    if caller.principal.role not in MANAGERS:
        raise Forbidden("only admins and station operators manage GB/T 28181 devices", code="forbidden")


def _realm(ctx: Ctx) -> str:
    return ctx.services.require(Gb28181Settings).domain


@router.get("/devices", response_model=list[DeviceOut])
async def list_devices(caller: CurrentCaller, session: Session) -> list[DeviceOut]:
    _require_manager(caller)
    return [_out(d, r) for d, r in await service.list_devices(session, caller.principal)]


@router.get("/devices/{device_pk}", response_model=DeviceOut)
async def get_device(device_pk: PathId, caller: CurrentCaller, session: Session) -> DeviceOut:
    _require_manager(caller)
    device, region = await service.get_device(session, caller.principal, device_pk)
    return _out(device, region, await service.channels_of(session, device.id))


@router.post("/devices", response_model=DeviceOut, status_code=201)
async def create_device(body: DeviceCreate, caller: CurrentCaller, ctx: Ctx, session: Session) -> DeviceOut:
    _require_manager(caller)
    device = await service.create_device(
        session,
        caller.principal,
        caller.actor,
        device_id=body.device_id,
        region_id=body.region_id,
        password=body.password,
        realm=_realm(ctx),
        now=ctx.clock.now(),
    )
    await session.commit()
    region = await session.get(Region, device.region_id) if device.region_id else None
    return _out(device, region)


@router.put("/devices/{device_pk}/region", response_model=DeviceOut)
async def bind_device(
    device_pk: PathId, body: DeviceBind, caller: CurrentCaller, ctx: Ctx, session: Session
) -> DeviceOut:
    """Binds the device to a village or grid: its channels become (or move as) cameras there."""
    _require_manager(caller)
    device, region, cameras = await service.bind_region(
        session, caller.principal, caller.actor, device_pk, body.region_id, ctx.clock.now()
    )
    for camera_id in cameras:
        ctx.events.publish(session, CameraChanged(camera_id))
        if device.online:  # the device is up: so are its cameras (health as the media plane tells it)
            ctx.events.publish(session, CameraStatusChanged(camera_id, "online", "gb28181: bound"))
    await session.commit()
    await ctx.events.delivered(session)
    return _out(device, region, await service.channels_of(session, device.id))


@router.put("/devices/{device_pk}/password", status_code=204)
async def set_password(
    device_pk: PathId, body: DevicePassword, caller: CurrentCaller, ctx: Ctx, session: Session
) -> None:
    """The device's own Digest password (stored as HA1 for the node's realm); it wins over the shared one."""
    _require_manager(caller)
    await service.set_password(
        session, caller.principal, caller.actor, device_pk, body.password, _realm(ctx), ctx.clock.now()
    )
    await session.commit()


@router.post("/cameras/{camera_id}/ptz", response_model=PtzOut)
async def move_camera(
    camera_id: PathId, body: PtzIn, caller: CurrentCaller, ctx: Ctx, session: Session
) -> PtzOut:
    """Pan, tilt, zoom or a preset of a GB camera flagged `ptz`, for callers who may control it in
    scope. The first caller holds the camera for 60 s (renewed by each command); another is refused
    with 409 naming the holder. Every command is audited, then sent (DeviceControl/PTZCmd)."""
    camera, _ = await cameras.get_camera(session, caller.principal, camera_id, Permission.control_ptz)
    link = await service.channel_of_camera(session, camera.id)
    if link is None or not camera.ptz:
        raise ValidationFailed("this camera has no GB/T 28181 PTZ")
    platform = ctx.services.get(GbPlatform)
    if platform is None:
        raise Conflict("GB/T 28181 is not enabled on this node", code="gb28181_disabled")
    try:
        command = ptz_cmd(body.action, body.speed, body.preset)
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from exc
    now = ctx.clock.now()
    granted, holder = platform.ptz.take(camera.id, caller.user.id, caller.user.username, now)
    if not granted:
        raise Conflict(
            f"{holder.username} controls this camera until {holder.until.isoformat()}", code="ptz_held"
        )
    await audit.append(
        session,
        caller.actor,
        "camera.ptz",
        at=now,
        target_type="camera",
        target_id=camera.id,
        detail={"action": body.action, "speed": body.speed, "preset": body.preset, "command": command},
    )
    # audited, and masks fail closed for a move, before it moves (commits)
    await ptz_masks.before_command(ctx, session, camera.id, command, caller.user.username)
    device_pk, channel_id = link
    try:
        answer = await platform.device_control(device_pk, channel_id, PTZCmd=command)
    except (TimeoutError, ConnectionError, OSError) as exc:
        raise Conflict(
            f"the device did not take the command: {exc or 'no answer'}", code="device_unavailable"
        ) from exc
    if answer.status >= 300:
        raise Conflict(f"the device refused the command: {answer.status}", code="device_refused")
    await ptz_masks.after_command(ctx, session, camera.id, command, caller.user.username)
    return PtzOut(command=command, held_by=holder.username, until=holder.until)
