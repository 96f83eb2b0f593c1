"""GB/T 28181 devices in the database: registration, keepalive, catalog -> cameras, and the admin's
scoped reads and changes. Plain functions on the caller's session; they never commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.models import Role
from xueliang.accounts.policy import Principal
from xueliang.audit import service as audit
from xueliang.audit.service import Actor
from xueliang.cameras import service as cameras
from xueliang.cameras.models import Camera, CameraKind
from xueliang.core.errors import Conflict, NotFound, ValidationFailed
from xueliang.core.ids import GB_ID, gb_type
from xueliang.gb28181.manscdp import CatalogItem
from xueliang.gb28181.models import GbChannel, GbDevice
from xueliang.gb28181.policy import device_filter, may_manage_device
from xueliang.gb28181.sip.digest import ha1
from xueliang.regions.models import Region, RegionLevel

# Catalog items that are video channels (131 camera, 132 IPC); the rest (civil codes, business
# groups, the NVR itself) are the tree around them.
CHANNEL_TYPES = frozenset({131, 132})
# Registry writes made by the registrar itself act as the county (the binding admin chose the region).
REGISTRAR = Principal(user_id=0, username="gb28181", role=Role.admin, region_id=0, region_path="")
MIN_PASSWORD = 8


def registrar_actor(device_id: str, address: str = "") -> Actor:
    return Actor(None, f"gb28181:{device_id}", address[:64])


def stream_url(device_id: str, channel_id: str) -> str:
    return f"gb28181://{device_id}/{channel_id}"


async def device_by_sip_id(session: AsyncSession, device_id: str) -> GbDevice | None:
    return (await session.scalars(select(GbDevice).where(GbDevice.device_id == device_id))).first()


async def camera_ids(session: AsyncSession, device_pk: int) -> list[int]:
    rows = await session.scalars(
        select(GbChannel.camera_id).where(GbChannel.device_pk == device_pk, GbChannel.camera_id.is_not(None))
    )
    return [int(c) for c in rows if c is not None]


async def channel_of_camera(session: AsyncSession, camera_id: int) -> tuple[int, str] | None:
    """(device pk, channel ID) of a camera that is a GB channel; None for other cameras."""
    row = (
        await session.execute(
            select(GbChannel.device_pk, GbChannel.channel_id).where(GbChannel.camera_id == camera_id)
        )
    ).first()
    return (int(row[0]), str(row[1])) if row is not None else None


@dataclass(frozen=True)
class Contact:
    transport: str
    host: str
    port: int


async def register(
    session: AsyncSession,
    device: GbDevice | None,
    device_id: str,
    contact: Contact,
    expires: int,
    call_id: str,
    now: datetime,
) -> tuple[GbDevice, bool]:
    """Stores a registration (or its refresh); returns the device and whether this is a new
    registration (it came online, or registered afresh with a new Call-ID: it restarted) rather than
    a refresh."""
    if device is None:
        device = GbDevice(device_id=device_id, created_at=now, online=False)
        session.add(device)
    was_online = device.online
    fresh = not was_online or device.call_id != call_id[:128]
    device.transport, device.contact_host, device.contact_port = contact.transport, contact.host, contact.port
    device.call_id = call_id[:128]
    device.registered_until = now + timedelta(seconds=expires)
    device.last_keepalive = now  # a registration counts as a sign of life
    device.online = True
    await session.flush()
    if fresh:
        await audit.append(
            session,
            registrar_actor(device_id, contact.host),
            "gb28181.register",
            at=now,
            target_type="gb_device",
            target_id=device.id,
            detail={"transport": contact.transport, "expires": expires},
        )
    return device, fresh


async def unregister(session: AsyncSession, device: GbDevice, now: datetime) -> bool:
    """`Expires: 0`; returns whether it was online."""
    was_online = device.online
    device.registered_until = now
    device.online = False
    await audit.append(
        session,
        registrar_actor(device.device_id, device.contact_host),
        "gb28181.unregister",
        at=now,
        target_type="gb_device",
        target_id=device.id,
    )
    return was_online


def keepalive(device: GbDevice, contact: Contact, now: datetime) -> bool:
    """A keepalive: refreshes the contact (NAT) and the time; returns whether it came back online."""
    was_online = device.online
    device.last_keepalive = now
    device.online = True
    device.transport, device.contact_host, device.contact_port = contact.transport, contact.host, contact.port
    return not was_online


async def expire(session: AsyncSession, now: datetime, offline_after: float) -> list[GbDevice]:
    """Devices online whose last sign of life is older than `offline_after`, or whose registration ran
    out: marked offline, returned (the caller tells camera health after the commit)."""
    stale = now - timedelta(seconds=offline_after)
    rows = (
        await session.scalars(
            select(GbDevice).where(
                GbDevice.online.is_(True),
                or_(
                    GbDevice.last_keepalive.is_(None),
                    GbDevice.last_keepalive < stale,
                    GbDevice.registered_until < now,
                ),
            )
        )
    ).all()
    for device in rows:
        device.online = False
    return list(rows)


async def store_catalog(
    session: AsyncSession, device: GbDevice, items: list[CatalogItem], now: datetime
) -> list[GbChannel]:
    """Upserts the device's video channels (ADD/UPDATE/none = upsert, DEL = unlink and disable its
    camera, ON/OFF = status), then makes cameras of them if the device is bound. Returns the channels
    touched."""
    existing = {
        c.channel_id: c
        for c in (await session.scalars(select(GbChannel).where(GbChannel.device_pk == device.id))).all()
    }
    touched: list[GbChannel] = []
    for item in items:
        if not GB_ID.match(item.device_id) or gb_type(item.device_id) not in CHANNEL_TYPES:
            continue
        channel = existing.get(item.device_id)
        if item.event in ("DEL", "DELETE"):
            if channel is not None:
                if channel.camera_id is not None:
                    camera = await session.get(Camera, channel.camera_id)
                    if camera is not None:
                        camera.enabled = False
                await session.delete(channel)
                existing.pop(item.device_id)
            continue
        if channel is None:
            channel = GbChannel(device_pk=device.id, channel_id=item.device_id, ptz_type=0)
            session.add(channel)
            existing[item.device_id] = channel
        if item.event in ("ON", "OFF", "VLOST", "DEFECT"):
            channel.status = "ON" if item.event == "ON" else "OFF"
        else:
            channel.name = item.name or channel.name or item.device_id
            channel.status = item.status
            channel.ptz_type = item.ptz_type
            channel.lat, channel.lon = item.lat, item.lon
        touched.append(channel)
    await session.flush()
    await ensure_cameras(session, device, now)
    return touched


async def ensure_cameras(session: AsyncSession, device: GbDevice, now: datetime) -> list[int]:
    """Every channel of a bound device has a camera in the device's region (a camera that already has
    the channel's ID is linked, not duplicated). Returns the new cameras' ids."""
    if device.region_id is None:
        return []
    region = await session.get(Region, device.region_id)
    if region is None:
        return []
    created: list[int] = []
    channels = (
        await session.scalars(
            select(GbChannel).where(GbChannel.device_pk == device.id, GbChannel.camera_id.is_(None))
        )
    ).all()
    for channel in channels:
        camera = (await session.scalars(select(Camera).where(Camera.gb_id == channel.channel_id))).first()
        if camera is not None:
            linked = await session.scalar(select(GbChannel.id).where(GbChannel.camera_id == camera.id))
            if linked is None:
                channel.camera_id = camera.id
            continue
        camera = await cameras.create_camera(
            session,
            REGISTRAR,
            registrar_actor(device.device_id),
            gb_id=channel.channel_id,
            region_id=region.id,
            now=now,
            name=(channel.name or channel.channel_id)[:100],
            kind=CameraKind.settlement,
            lat=channel.lat if channel.lat is not None else (region.lat or 0.0),
            lon=channel.lon if channel.lon is not None else (region.lon or 0.0),
            ptz=channel.ptz_type in (1, 4, 5),
            stream_url=stream_url(device.device_id, channel.channel_id),
        )
        channel.camera_id = camera.id
        created.append(camera.id)
    await session.flush()
    return created


# -- the admin API ---------------------------------------------------------------------------------


async def list_devices(session: AsyncSession, p: Principal) -> list[tuple[GbDevice, Region | None]]:
    rows = await session.execute(
        select(GbDevice, Region)
        .outerjoin(Region, Region.id == GbDevice.region_id)
        .where(device_filter(p))
        .order_by(GbDevice.device_id)
    )
    return [(d, r) for d, r in rows.all()]


async def get_device(session: AsyncSession, p: Principal, pk: int) -> tuple[GbDevice, Region | None]:
    """The device if the caller may manage it; otherwise exactly like a missing one."""
    device = await session.get(GbDevice, pk)
    region = await session.get(Region, device.region_id) if device and device.region_id else None
    if device is None or not may_manage_device(p, region.path if region else None):
        raise NotFound("device not found")
    return device, region


async def channels_of(session: AsyncSession, device_pk: int) -> list[GbChannel]:
    return list(
        (
            await session.scalars(
                select(GbChannel).where(GbChannel.device_pk == device_pk).order_by(GbChannel.channel_id)
            )
        ).all()
    )


async def _camera_region(session: AsyncSession, p: Principal, region_id: int) -> Region:
    region = await session.get(Region, region_id)
    if region is None or not may_manage_device(p, region.path):
        raise ValidationFailed("region not found in your scope")
    if region.level not in (RegionLevel.village, RegionLevel.grid):
        raise ValidationFailed(f"a device's cameras belong to a village or grid, not a {region.level.value}")
    return region


async def create_device(
    session: AsyncSession,
    p: Principal,
    actor: Actor,
    *,
    device_id: str,
    region_id: int | None,
    password: str | None,
    realm: str,
    now: datetime,
) -> GbDevice:
    """Provisions a device before it registers (its own password, its region)."""
    if not may_manage_device(p, None) and region_id is None:
        raise ValidationFailed("region_id is required")
    if not GB_ID.match(device_id):
        raise ValidationFailed("device_id must be 20 digits")
    region = await _camera_region(session, p, region_id) if region_id is not None else None
    if await device_by_sip_id(session, device_id) is not None:
        raise Conflict(f"device {device_id} already exists")
    device = GbDevice(
        device_id=device_id, created_at=now, online=False, region_id=region.id if region else None
    )
    if password is not None:
        _set_password(device, password, realm)
    session.add(device)
    await session.flush()
    await audit.append(
        session,
        actor,
        "gb28181.device.create",
        at=now,
        target_type="gb_device",
        target_id=device.id,
        detail={"device_id": device_id, "region": region.code if region else None},
    )
    return device


async def bind_region(
    session: AsyncSession, p: Principal, actor: Actor, pk: int, region_id: int, now: datetime
) -> tuple[GbDevice, Region, list[int]]:
    """Binds the device to a village or grid; its channels become cameras there (existing cameras of
    it move along). Returns the device, the region and the ids of the cameras created or moved."""
    device, _ = await get_device(session, p, pk)
    region = await _camera_region(session, p, region_id)
    device.region_id = region.id
    moved: list[int] = []
    for camera_id in await camera_ids(session, device.id):
        camera = await session.get(Camera, camera_id)
        if camera is not None and camera.region_id != region.id:
            camera.region_id = region.id
            moved.append(camera_id)
    await session.flush()
    created = await ensure_cameras(session, device, now)
    await audit.append(
        session,
        actor,
        "gb28181.device.bind",
        at=now,
        target_type="gb_device",
        target_id=device.id,
        detail={"device_id": device.device_id, "region": region.code, "cameras": len(created) + len(moved)},
    )
    return device, region, created + moved


def _set_password(device: GbDevice, password: str, realm: str) -> None:
    if len(password) < MIN_PASSWORD or len(password) > 128:
        raise ValidationFailed(f"the password needs {MIN_PASSWORD} to 128 characters")
    device.ha1 = ha1(device.device_id, realm, password)
    device.ha1_realm = realm


async def set_password(
    session: AsyncSession, p: Principal, actor: Actor, pk: int, password: str, realm: str, now: datetime
) -> GbDevice:
    device, _ = await get_device(session, p, pk)
    _set_password(device, password, realm)
    await audit.append(
        session,
        actor,
        "gb28181.device.password",
        at=now,
        target_type="gb_device",
        target_id=device.id,
        detail={"device_id": device.device_id},
    )
    return device
