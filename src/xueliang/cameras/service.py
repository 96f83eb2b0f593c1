"""Camera registry: scoped queries and admin changes. The policy decides; this module applies it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.policy import Permission, Principal
from xueliang.audit import service as audit
from xueliang.audit.service import Actor
from xueliang.cameras.models import Camera, CameraKind
from xueliang.cameras.policy import camera_filter
from xueliang.core.errors import Conflict, NotFound, ValidationFailed
from xueliang.core.ids import GB_ID
from xueliang.regions.models import Region, RegionLevel


@dataclass(frozen=True)
class CameraQuery:
    region_id: int | None = None
    kind: CameraKind | None = None
    text: str = ""
    public_view: bool | None = None
    ptz: bool | None = None
    enabled: bool | None = None


async def list_cameras(
    session: AsyncSession, p: Principal, q: CameraQuery, permission: Permission = Permission.list_cameras
) -> list[tuple[Camera, Region]]:
    stmt = (
        select(Camera, Region).join(Region, Region.id == Camera.region_id).where(camera_filter(p, permission))
    )
    if q.region_id is not None:
        under = await session.get(Region, q.region_id)
        if under is None:
            return []
        stmt = stmt.where(Region.path.startswith(under.path, autoescape=True))
    if q.kind is not None:
        stmt = stmt.where(Camera.kind == q.kind)
    if q.text:
        like = f"%{q.text}%"
        stmt = stmt.where(or_(Camera.name.ilike(like), Camera.name_en.ilike(like), Camera.gb_id.like(like)))
    for column, value in (
        (Camera.public_view, q.public_view),
        (Camera.ptz, q.ptz),
        (Camera.enabled, q.enabled),
    ):
        if value is not None:
            stmt = stmt.where(column.is_(value))
    rows = await session.execute(stmt.order_by(Region.path, Camera.gb_id))
    return [(c, r) for c, r in rows.all()]


async def get_camera(
    session: AsyncSession, p: Principal, camera_id: int, permission: Permission = Permission.list_cameras
) -> tuple[Camera, Region]:
    """The camera if the caller has `permission` on it; otherwise NotFound, exactly as if it were missing."""
    row = (
        await session.execute(
            select(Camera, Region)
            .join(Region, Region.id == Camera.region_id)
            .where(Camera.id == camera_id, camera_filter(p, permission))
        )
    ).first()
    if row is None:
        raise NotFound("camera not found")
    return row[0], row[1]


async def allowed_camera_ids(
    session: AsyncSession, p: Principal, camera_ids: Iterable[int], permission: Permission
) -> frozenset[int]:
    """Those of `camera_ids` on which the caller has `permission`, in one query (`get_camera` for many)."""
    ids = list(camera_ids)
    if not ids:
        return frozenset()
    stmt = (
        select(Camera.id)
        .join(Region, Region.id == Camera.region_id)
        .where(Camera.id.in_(ids), camera_filter(p, permission))
    )
    return frozenset((await session.scalars(stmt)).all())


async def open_camera(
    session: AsyncSession, p: Principal, actor: Actor, camera_id: int, now: datetime, purpose: str = "live"
) -> tuple[Camera, Region]:
    """Grant a view of a camera, audited in the caller's transaction (committed before it is answered)."""
    camera, region = await get_camera(session, p, camera_id, Permission.view_live)
    await audit.append(
        session,
        actor,
        "camera.open",
        at=now,
        target_type="camera",
        target_id=camera.id,
        detail={"gb_id": camera.gb_id, "purpose": purpose},
    )
    return camera, region


EDITABLE = (
    "name",
    "name_en",
    "kind",
    "lat",
    "lon",
    "heading",
    "fov_angle",
    "fov_range",
    "ptz",
    "public_view",
    "enabled",
    "record",
    "stream_url",
    "retention_days",
    "audio_enabled",
)


def validate_fields(fields: dict[str, Any]) -> None:
    if "lat" in fields and not -90 <= float(fields["lat"]) <= 90:
        raise ValidationFailed("lat must be between -90 and 90")
    if "lon" in fields and not -180 <= float(fields["lon"]) <= 180:
        raise ValidationFailed("lon must be between -180 and 180")
    if "heading" in fields and not 0 <= float(fields["heading"]) < 360:
        raise ValidationFailed("heading must be in [0, 360)")
    if "fov_angle" in fields and not 0 < float(fields["fov_angle"]) <= 360:
        raise ValidationFailed("fov_angle must be in (0, 360]")
    if "fov_range" in fields and not 0 < float(fields["fov_range"]) <= 5000:
        raise ValidationFailed("fov_range must be in (0, 5000] metres")
    if "retention_days" in fields and not 1 <= int(fields["retention_days"]) <= 3650:
        raise ValidationFailed("retention_days must be between 1 and 3650")
    url = fields.get("stream_url")
    if url is not None and not str(url).startswith(
        ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "file:", "gb28181:")
    ):
        raise ValidationFailed("stream_url must be an rtsp://, rtmp://, http(s)://, file: or gb28181: URL")


async def create_camera(
    session: AsyncSession,
    p: Principal,
    actor: Actor,
    *,
    gb_id: str,
    region_id: int,
    now: datetime,
    audit_it: bool = True,
    **fields: Any,
) -> Camera:
    if not GB_ID.match(gb_id):
        raise ValidationFailed(f"gb_id must be 20 digits, got {gb_id!r}")
    region = await session.get(Region, region_id)
    if region is None or not region.path.startswith(p.region_path):
        raise ValidationFailed("region not found in your scope")
    if region.level not in (RegionLevel.village, RegionLevel.grid):
        raise ValidationFailed(f"cameras belong to a village or grid, not a {region.level.value}")
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValidationFailed(f"unknown camera fields: {', '.join(sorted(unknown))}")
    for required in ("name", "kind", "lat", "lon", "stream_url"):
        if fields.get(required) in (None, ""):
            raise ValidationFailed(f"{required} is required")
    validate_fields(fields)
    if (await session.scalars(select(Camera.id).where(Camera.gb_id == gb_id))).first() is not None:
        raise Conflict(f"camera {gb_id} already exists")
    camera = Camera(gb_id=gb_id, region_id=region.id, **fields)
    session.add(camera)
    await session.flush()
    if audit_it:
        await audit.append(
            session,
            actor,
            "camera.create",
            at=now,
            target_type="camera",
            target_id=camera.id,
            detail={"gb_id": gb_id, "region": region.code},
        )
    return camera


async def update_camera(
    session: AsyncSession, p: Principal, actor: Actor, camera_id: int, now: datetime, **fields: Any
) -> Camera:
    camera, _ = await get_camera(session, p, camera_id, Permission.manage_cameras)
    unknown = set(fields) - set(EDITABLE)
    if unknown:
        raise ValidationFailed(f"unknown camera fields: {', '.join(sorted(unknown))}")
    validate_fields(fields)
    changed = {k: v for k, v in fields.items() if getattr(camera, k) != v}
    for key, value in changed.items():
        setattr(camera, key, value)
    if changed:
        await audit.append(
            session,
            actor,
            "camera.update",
            at=now,
            target_type="camera",
            target_id=camera.id,
            detail={"gb_id": camera.gb_id, **{k: str(v) for k, v in changed.items()}},
        )
    return camera


async def delete_camera(
    session: AsyncSession, p: Principal, actor: Actor, camera_id: int, now: datetime
) -> None:
    camera, _ = await get_camera(session, p, camera_id, Permission.manage_cameras)
    await session.delete(camera)
    await audit.append(
        session,
        actor,
        "camera.delete",
        at=now,
        target_type="camera",
        target_id=camera_id,
        detail={"gb_id": camera.gb_id},
    )
