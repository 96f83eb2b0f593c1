"""Upper platforms and shared cameras in the database: plain functions on the caller's session (they
never commit). The channel ID a camera gets towards an upper is chosen once and kept for good."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.cameras.models import Camera
from xueliang.core.errors import Conflict, NotFound, ValidationFailed
from xueliang.core.ids import GB_ID, gb_id, gb_type
from xueliang.gb28181.cascade.models import GbUpper, GbUpperChannel
from xueliang.regions.models import Region

CHANNEL_TYPES = frozenset({131, 132})  # camera, network camera (IPC)
EDITABLE = (
    "name",
    "sip_id",
    "domain",
    "host",
    "port",
    "transport",
    "password",
    "local_id",
    "register_expires",
    "keepalive_period",
    "charset",
    "catalog_page",
    "enabled",
)


async def list_uppers(session: AsyncSession) -> list[GbUpper]:
    return list((await session.scalars(select(GbUpper).order_by(GbUpper.id))).all())


async def get_upper(session: AsyncSession, upper_id: int) -> GbUpper:
    upper = await session.get(GbUpper, upper_id)
    if upper is None:
        raise NotFound("upper platform not found")
    return upper


async def create_upper(session: AsyncSession, values: dict[str, object], now: datetime) -> GbUpper:
    if await session.scalar(select(GbUpper.id).where(GbUpper.sip_id == values["sip_id"])):
        raise Conflict("an upper platform with this SIP ID exists", code="duplicate")
    upper = GbUpper(created_at=now, **{k: v for k, v in values.items() if k in EDITABLE})
    session.add(upper)
    await session.flush()
    return upper


async def update_upper(session: AsyncSession, upper: GbUpper, values: dict[str, object]) -> None:
    sip_id = values.get("sip_id")
    taken = select(GbUpper.id).where(GbUpper.sip_id == sip_id)
    if sip_id and sip_id != upper.sip_id and await session.scalar(taken):
        raise Conflict("an upper platform with this SIP ID exists", code="duplicate")
    for key, value in values.items():
        if key in EDITABLE:
            setattr(upper, key, value)
    await session.flush()


async def _taken(session: AsyncSession, upper_id: int) -> set[str]:
    rows = await session.scalars(select(GbUpperChannel.channel_id).where(GbUpperChannel.upper_id == upper_id))
    return set(rows)


def _candidate(camera: Camera, node_id: str, attempt: int) -> str:
    """The camera's own GB ID when it is a camera code (131/132); else one of ours: the node's centre
    and industry code, type 132, the camera's row id as serial (moved on by `attempt` if taken)."""
    if attempt == 0 and GB_ID.match(camera.gb_id) and gb_type(camera.gb_id) in CHANNEL_TYPES:
        return camera.gb_id
    serial = (camera.id + (attempt - 1) * 1_000_003) % 1_000_000 if attempt else camera.id % 1_000_000
    return gb_id(node_id[:8], 132, serial, industry=node_id[8:10])


async def share(
    session: AsyncSession, upper: GbUpper, camera_id: int, shared: bool, node_id: str, now: datetime
) -> tuple[GbUpperChannel, str]:
    """Shares (or stops sharing) a camera with an upper; returns the row and the catalog event it makes
    ("ADD", "DEL" or "" when nothing changed). The channel ID is allocated on the first share only."""
    camera = await session.get(Camera, camera_id)
    if camera is None:
        raise NotFound("camera not found")
    row = (
        await session.scalars(
            select(GbUpperChannel).where(
                GbUpperChannel.upper_id == upper.id, GbUpperChannel.camera_id == camera_id
            )
        )
    ).first()
    if row is None:
        if not shared:
            raise NotFound("camera is not shared with this upper platform")
        taken = await _taken(session, upper.id)
        others = set(await session.scalars(select(Camera.gb_id).where(Camera.id != camera.id)))
        for attempt in range(100):
            channel_id = _candidate(camera, node_id, attempt)
            if channel_id not in taken and (channel_id == camera.gb_id or channel_id not in others):
                break
        else:  # pragma: no cover - a hundred serials all taken
            raise Conflict("no free channel ID", code="no_channel_id")
        row = GbUpperChannel(
            upper_id=upper.id, camera_id=camera_id, channel_id=channel_id, shared=True, created_at=now
        )
        session.add(row)
        await session.flush()
        return row, "ADD"
    if row.shared == shared:
        return row, ""
    row.shared = shared
    await session.flush()
    return row, "ADD" if shared else "DEL"


@dataclass
class SharedCamera:
    channel_id: str
    camera: Camera
    region: Region


async def shared_cameras(session: AsyncSession, upper_id: int) -> list[SharedCamera]:
    rows = await session.execute(
        select(GbUpperChannel.channel_id, Camera, Region)
        .join(Camera, Camera.id == GbUpperChannel.camera_id)
        .join(Region, Region.id == Camera.region_id)
        .where(GbUpperChannel.upper_id == upper_id, GbUpperChannel.shared.is_(True))
        .order_by(GbUpperChannel.channel_id)
    )
    return [SharedCamera(str(c), cam, reg) for c, cam, reg in rows.all()]


async def shared_channel(session: AsyncSession, upper_id: int, channel_id: str) -> Camera | None:
    """The camera behind a channel ID, only while it is shared with this upper."""
    return (
        await session.scalars(
            select(Camera)
            .join(GbUpperChannel, GbUpperChannel.camera_id == Camera.id)
            .where(
                GbUpperChannel.upper_id == upper_id,
                GbUpperChannel.channel_id == channel_id,
                GbUpperChannel.shared.is_(True),
            )
        )
    ).first()


async def channel_of(session: AsyncSession, upper_id: int, camera_id: int) -> str | None:
    return await session.scalar(
        select(GbUpperChannel.channel_id).where(
            GbUpperChannel.upper_id == upper_id,
            GbUpperChannel.camera_id == camera_id,
            GbUpperChannel.shared.is_(True),
        )
    )


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine), metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000 * math.asin(min(1.0, math.sqrt(a)))


async def nearest_channels(
    session: AsyncSession, upper_id: int, lat: float | None, lon: float | None, first: int | None, n: int = 3
) -> list[str]:
    """The channel IDs (shared with this upper) to open for an alarm: its own camera's first, then the
    nearest by distance."""
    rows = (
        await session.execute(
            select(GbUpperChannel.channel_id, Camera.id, Camera.lat, Camera.lon)
            .join(Camera, Camera.id == GbUpperChannel.camera_id)
            .where(GbUpperChannel.upper_id == upper_id, GbUpperChannel.shared.is_(True))
        )
    ).all()
    own = [str(r[0]) for r in rows if first is not None and r[1] == first]
    rest = [r for r in rows if first is None or r[1] != first]
    if lat is not None and lon is not None:
        rest.sort(key=lambda r: distance_m(lat, lon, r[2], r[3]))
    else:
        rest = []
    return (own + [str(r[0]) for r in rest])[:n]


def validate_ids(sip_id: str, domain: str, local_id: str) -> None:
    if not GB_ID.match(sip_id):
        raise ValidationFailed("sip_id must be 20 digits")
    if len(domain) != 10 or not domain.isdigit():
        raise ValidationFailed("domain must be 10 digits")
    if local_id and not GB_ID.match(local_id):
        raise ValidationFailed("local_id must be 20 digits")
