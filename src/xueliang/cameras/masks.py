"""Privacy masks and the privacy page's facts: who sees a camera masked, who may draw masks, and the
scoped reads and audited changes behind the routes (cameras/mask_views.py).

The rule: only county admins see live video unmasked. Everyone else who may watch a camera with masks
(residents always, operators, duty officers and grid workers by default) gets the masked variant,
made on the server, so no unmasked pixel reaches them. Lifting a mask on recordings needs a second
person's approval (recordings/approvals.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.models import Role
from xueliang.accounts.policy import Permission, Principal
from xueliang.audit import service as audit
from xueliang.audit.service import Actor
from xueliang.cameras import service as cameras
from xueliang.cameras.mask_models import CameraMask, CameraPrivacy
from xueliang.cameras.models import Camera
from xueliang.core.errors import Forbidden, ValidationFailed
from xueliang.core.events import DomainEvent
from xueliang.regions.models import Region

# Roles that watch live video unmasked; everyone else gets the masked variant of a masked camera.
UNMASKED_LIVE = frozenset({Role.admin})
# Roles that may draw and remove masks (on cameras in their scope).
MASK_EDITORS = frozenset({Role.admin, Role.operator})
MAX_POINTS, MAX_MASKS = 64, 32


@dataclass(frozen=True, slots=True)
class MasksChanged(DomainEvent):
    """A camera's masks were replaced (published in the editor's transaction); the plane re-reads them."""

    camera_id: int


def sees_masked(p: Principal) -> bool:
    return p.role not in UNMASKED_LIVE


def may_edit_masks(p: Principal) -> bool:
    return p.role in MASK_EDITORS


async def camera_polygons(
    session: AsyncSession, camera_ids: Sequence[int] | None = None
) -> dict[int, list[Any]]:
    """Camera id -> its polygons (lists of [x, y]), for the given cameras or all of them."""
    stmt = select(CameraMask.camera_id, CameraMask.points).order_by(CameraMask.camera_id, CameraMask.id)
    if camera_ids is not None:
        stmt = stmt.where(CameraMask.camera_id.in_(list(camera_ids)))
    out: dict[int, list[Any]] = {}
    for camera_id, points in (await session.execute(stmt)).all():
        out.setdefault(camera_id, []).append(points)
    return out


async def _count(session: AsyncSession, camera_id: int) -> int:
    stmt = select(func.count()).select_from(CameraMask).where(CameraMask.camera_id == camera_id)
    return int(await session.scalar(stmt) or 0)


async def has_masks(session: AsyncSession, camera_id: int) -> bool:
    found = await session.scalar(select(CameraMask.id).where(CameraMask.camera_id == camera_id).limit(1))
    return found is not None


async def masked_for(session: AsyncSession, p: Principal, camera_id: int) -> bool:
    """Whether this caller must get the masked variant of this camera's live video and stills."""
    return sees_masked(p) and await has_masks(session, camera_id)


async def list_masks(session: AsyncSession, p: Principal, camera_id: int) -> tuple[Camera, list[CameraMask]]:
    """The camera's masks, for those who may edit them (others: 404 out of scope, 403 in scope)."""
    camera, _ = await cameras.get_camera(session, p, camera_id, Permission.view_live)
    if not may_edit_masks(p):
        raise Forbidden("only admins and operators see and draw privacy masks")
    rows = await session.scalars(
        select(CameraMask).where(CameraMask.camera_id == camera.id).order_by(CameraMask.id)
    )
    return camera, list(rows)


def check_polygon(points: Sequence[Sequence[float]]) -> list[list[float]]:
    """Normalised points (0..1); a polygon needs 3..64 points and an area."""
    if not 3 <= len(points) <= MAX_POINTS:
        raise ValidationFailed(f"a mask has 3..{MAX_POINTS} points")
    out = [[round(float(x), 5), round(float(y), 5)] for x, y in points]
    if any(not (0.0 <= v <= 1.0) for pt in out for v in pt):
        raise ValidationFailed("mask coordinates are fractions of the picture, 0..1")
    area = sum(a[0] * b[1] - b[0] * a[1] for a, b in zip(out, out[1:] + out[:1], strict=True)) / 2
    if abs(area) < 1e-5:
        raise ValidationFailed("a mask must cover an area")
    return out


async def replace_masks(
    session: AsyncSession,
    p: Principal,
    actor: Actor,
    camera_id: int,
    masks: Sequence[tuple[str, Sequence[Sequence[float]]]],
    now: datetime,
) -> tuple[Camera, list[CameraMask]]:
    """Replace all of the camera's masks (the editor saves the whole drawing); audited with the counts."""
    camera, _ = await cameras.get_camera(session, p, camera_id, Permission.view_live)
    if not may_edit_masks(p):
        raise Forbidden("only admins and operators draw privacy masks")
    if len(masks) > MAX_MASKS:
        raise ValidationFailed(f"at most {MAX_MASKS} masks per camera")
    checked = [(label.strip()[:100], check_polygon(points)) for label, points in masks]
    before = await _count(session, camera.id)
    await session.execute(delete(CameraMask).where(CameraMask.camera_id == camera.id))
    rows = [
        CameraMask(camera_id=camera.id, label=label, points=points, created_by=actor.name, created_at=now)
        for label, points in checked
    ]
    session.add_all(rows)
    await session.flush()
    await audit.append(
        session, actor, "camera.masks", at=now, target_type="camera", target_id=camera.id,
        detail={"gb_id": camera.gb_id, "before": before, "after": len(rows),
                "labels": [label for label, _ in checked]},
    )  # fmt: skip
    return camera, rows


@dataclass(frozen=True, slots=True)
class PrivacyFacts:
    camera: Camera
    region: Region
    privacy: CameraPrivacy | None
    masks: int


async def privacy_facts(session: AsyncSession, p: Principal, camera_id: int) -> PrivacyFacts:
    """What the camera's privacy page states; visible exactly to those who may see the camera live."""
    camera, region = await cameras.get_camera(session, p, camera_id, Permission.view_live)
    privacy = await session.get(CameraPrivacy, camera.id)
    count = await _count(session, camera.id)
    return PrivacyFacts(camera, region, privacy, count)


async def is_sensitive(session: AsyncSession, camera_id: int) -> bool:
    row = await session.get(CameraPrivacy, camera_id)
    return bool(row is not None and row.sensitive)


async def set_privacy(
    session: AsyncSession, p: Principal, actor: Actor, camera_id: int, now: datetime, **fields: Any
) -> CameraPrivacy:
    """Set the privacy page's facts and the `sensitive` flag (admins); audited with old and new values."""
    camera, _ = await cameras.get_camera(session, p, camera_id, Permission.manage_cameras)
    row = await session.get(CameraPrivacy, camera.id)
    if row is None:
        row = CameraPrivacy(
            camera_id=camera.id, sensitive=False, watches="", purpose="", controller="", contact=""
        )
        session.add(row)
    old = {k: getattr(row, k) for k in fields}
    for key, value in fields.items():
        setattr(row, key, value.strip() if isinstance(value, str) else value)
    row.updated_at = now
    await session.flush()
    await audit.append(
        session, actor, "camera.privacy", at=now, target_type="camera", target_id=camera.id,
        detail={"gb_id": camera.gb_id, "old": old, "new": {k: getattr(row, k) for k in fields}},
    )  # fmt: skip
    return row
