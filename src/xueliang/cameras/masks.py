"""Privacy masks and the privacy page's facts: who sees a camera masked, who may draw masks, and the
scoped reads and audited changes behind the routes (cameras/mask_views.py).

The rule: only county admins see live video unmasked. Everyone else who may watch a camera with masks
(residents always, operators, duty officers and grid workers by default) gets the masked variant,
made on the server, so no unmasked pixel reaches them. Lifting a mask on recordings needs a second
person's approval (recordings/approvals.py).

A PTZ camera has a mask set per preset besides its default set (ADR 0012, addendum): our PTZ commands
record where they leave it (`record_position`), and the picture gets the set of the preset it was sent
to, or is filled whole while it was moved by hand (media/mask/presets.py decides)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.models import Role
from xueliang.accounts.policy import Permission, Principal
from xueliang.audit import service as audit
from xueliang.audit.service import Actor
from xueliang.cameras import service as cameras
from xueliang.cameras.mask_models import CameraMask, CameraMaskSet, CameraPrivacy, CameraPtzPosition
from xueliang.cameras.models import Camera
from xueliang.core.errors import Forbidden, ValidationFailed
from xueliang.core.events import DomainEvent
from xueliang.regions.models import Region

# Roles that watch live video unmasked; everyone else gets the masked variant of a masked camera.
UNMASKED_LIVE = frozenset({Role.admin})
# Roles that may draw and remove masks (on cameras in their scope).
MASK_EDITORS = frozenset({Role.admin, Role.operator})
MAX_POINTS, MAX_MASKS = 64, 32
MAX_PRESET = 255  # GB/T 28181 presets are 1..255; 0 names the default set


@dataclass(frozen=True, slots=True)
class MasksChanged(DomainEvent):
    """A camera's masks were replaced (published in the editor's transaction); the plane re-reads them."""

    camera_id: int


def sees_masked(p: Principal) -> bool:
    return p.role not in UNMASKED_LIVE


def may_edit_masks(p: Principal) -> bool:
    return p.role in MASK_EDITORS


@dataclass(frozen=True, slots=True)
class PtzMoved(DomainEvent):
    """One of our PTZ commands changed where the camera points (published in the recording
    transaction); the plane switches the masked variant's set at once."""

    camera_id: int
    position_id: int
    at: datetime
    preset: int | None


RELAYED_SCHEME = "node://"  # a camera another node hosts (federation/video)


@dataclass(frozen=True, slots=True)
class StoredSets:
    """A camera's stored masks: its default set, the preset sets in force (a PTZ camera's, drawn after
    their preset was last saved) and whether it has any area to hide at all (then masked viewers get
    the masked variant, even where the set in force is empty or missing)."""

    ptz: bool
    default: list[Any]
    presets: dict[int, list[Any]]
    masked: bool
    relayed: bool = False  # hosted by a child node (`node://`): its PTZ positions are the child's


def _in_force(row: CameraMaskSet) -> bool:
    return row.drawn_at is not None and (row.preset_saved_at is None or row.drawn_at >= row.preset_saved_at)


async def stored_sets(
    session: AsyncSession, camera_ids: Sequence[int] | None = None
) -> dict[int, StoredSets]:
    """Camera id -> its mask sets, for the given cameras or all that have masks or preset sets."""
    polys = select(CameraMask.camera_id, CameraMask.preset, CameraMask.points).order_by(
        CameraMask.camera_id, CameraMask.id
    )
    sets = select(CameraMaskSet)
    if camera_ids is not None:
        polys = polys.where(CameraMask.camera_id.in_(list(camera_ids)))
        sets = sets.where(CameraMaskSet.camera_id.in_(list(camera_ids)))
    found: dict[int, dict[int, list[Any]]] = {}
    for camera_id, preset, points in (await session.execute(polys)).all():
        found.setdefault(camera_id, {}).setdefault(preset, []).append(points)
    in_force: dict[int, set[int]] = {}
    for row in await session.scalars(sets):
        if _in_force(row):
            in_force.setdefault(row.camera_id, set()).add(row.preset)
    ids = set(found) | set(in_force)
    facts = (
        {
            camera_id: (ptz, url)
            for camera_id, ptz, url in (
                await session.execute(
                    select(Camera.id, Camera.ptz, Camera.stream_url).where(Camera.id.in_(ids))
                )
            ).all()
        }
        if ids
        else {}
    )
    out: dict[int, StoredSets] = {}
    for camera_id in ids:
        by_preset = found.get(camera_id, {})
        is_ptz, url = facts.get(camera_id, (False, ""))
        is_ptz = bool(is_ptz)
        presets = {n: by_preset.get(n, []) for n in in_force.get(camera_id, set())} if is_ptz else {}
        masked = bool(by_preset.get(0)) or (is_ptz and any(by_preset.get(n) for n in by_preset if n))
        relayed = (url or "").startswith(RELAYED_SCHEME)
        out[camera_id] = StoredSets(is_ptz, by_preset.get(0, []), presets, masked, relayed)
    return out


async def camera_polygons(
    session: AsyncSession, camera_ids: Sequence[int] | None = None
) -> dict[int, list[Any]]:
    """Camera id -> the polygons of its default set, for the given cameras or all of them."""
    stmt = (
        select(CameraMask.camera_id, CameraMask.points)
        .where(CameraMask.preset == 0)
        .order_by(CameraMask.camera_id, CameraMask.id)
    )
    if camera_ids is not None:
        stmt = stmt.where(CameraMask.camera_id.in_(list(camera_ids)))
    out: dict[int, list[Any]] = {}
    for camera_id, points in (await session.execute(stmt)).all():
        out.setdefault(camera_id, []).append(points)
    return out


async def _count(session: AsyncSession, camera_id: int, preset: int | None = None) -> int:
    stmt = select(func.count()).select_from(CameraMask).where(CameraMask.camera_id == camera_id)
    if preset is not None:
        stmt = stmt.where(CameraMask.preset == preset)
    return int(await session.scalar(stmt) or 0)


async def has_masks(session: AsyncSession, camera_id: int) -> bool:
    """Whether masked viewers get the masked variant: the default set has an area, or (PTZ) any set."""
    stmt = (
        select(CameraMask.id)
        .join(Camera, Camera.id == CameraMask.camera_id)
        .where(CameraMask.camera_id == camera_id, or_(CameraMask.preset == 0, Camera.ptz))
        .limit(1)
    )
    return await session.scalar(stmt) is not None


async def masked_for(session: AsyncSession, p: Principal, camera_id: int) -> bool:
    """Whether this caller must get the masked variant of this camera's live video and stills."""
    return sees_masked(p) and await has_masks(session, camera_id)


# -- where PTZ commands left a camera ----------------------------------------------------------------

PositionRow = tuple[datetime, int | None, int]  # (at, preset or None, id)


async def latest_positions(
    session: AsyncSession, camera_ids: Sequence[int] | None = None
) -> dict[int, PositionRow]:
    """Camera id -> the position our last PTZ command left it in (cameras never moved: absent)."""
    newest = select(func.max(CameraPtzPosition.id)).group_by(CameraPtzPosition.camera_id)
    if camera_ids is not None:
        newest = newest.where(CameraPtzPosition.camera_id.in_(list(camera_ids)))
    rows = await session.scalars(select(CameraPtzPosition).where(CameraPtzPosition.id.in_(newest)))
    return {r.camera_id: (r.at, r.preset, r.id) for r in rows}


async def positions_between(
    session: AsyncSession, camera_id: int, lo: datetime, hi: datetime
) -> list[PositionRow]:
    """The positions in force over [lo, hi]: the last one at or before `lo`, then those up to `hi`."""
    base = select(CameraPtzPosition).where(CameraPtzPosition.camera_id == camera_id)
    before = await session.scalar(
        base.where(CameraPtzPosition.at <= lo)
        .order_by(CameraPtzPosition.at.desc(), CameraPtzPosition.id.desc())
        .limit(1)
    )
    during = await session.scalars(
        base.where(CameraPtzPosition.at > lo, CameraPtzPosition.at <= hi).order_by(
            CameraPtzPosition.at, CameraPtzPosition.id
        )
    )
    rows = ([before] if before is not None else []) + list(during)
    return [(r.at, r.preset, r.id) for r in rows]


async def record_position(
    session: AsyncSession, camera_id: int, preset: int | None, cause: str, actor: str, now: datetime
) -> PtzMoved:
    """Record where a PTZ command leaves the camera from `now` on (None: moved by hand or on its way)
    and drop positions older than the camera's recordings can be (keeping the one in force then).
    Returns the event for the caller to publish in its transaction."""
    row = CameraPtzPosition(camera_id=camera_id, at=now, preset=preset, cause=cause, actor=actor[:64])
    session.add(row)
    await session.flush()
    camera = await session.get(Camera, camera_id)
    days = camera.retention_days if camera is not None else 30
    cutoff = now - timedelta(days=max(days, 1) + 1)
    keep = await session.scalar(
        select(func.max(CameraPtzPosition.id)).where(
            CameraPtzPosition.camera_id == camera_id, CameraPtzPosition.at < cutoff
        )
    )
    if keep is not None:
        await session.execute(
            delete(CameraPtzPosition).where(
                CameraPtzPosition.camera_id == camera_id, CameraPtzPosition.id < keep
            )
        )
    return PtzMoved(camera_id, row.id, now, preset)


async def preset_saved(session: AsyncSession, camera_id: int, preset: int, now: datetime) -> None:
    """The preset was saved again or deleted on the camera (it may point elsewhere now, or a call of
    it may leave the camera where it is): its set drawn before is not in force until drawn again."""
    row = await session.get(CameraMaskSet, (camera_id, preset))
    if row is None:
        session.add(CameraMaskSet(camera_id=camera_id, preset=preset, drawn_at=None, preset_saved_at=now))
    else:
        row.preset_saved_at = now
    await session.flush()


@dataclass(frozen=True, slots=True)
class PresetSet:
    """What the editor shows of one preset's set."""

    preset: int
    areas: int
    drawn_at: datetime | None
    preset_saved_at: datetime | None
    in_force: bool


async def preset_sets(session: AsyncSession, camera_id: int) -> list[PresetSet]:
    counts = dict(
        (
            await session.execute(
                select(CameraMask.preset, func.count())
                .where(CameraMask.camera_id == camera_id, CameraMask.preset > 0)
                .group_by(CameraMask.preset)
            )
        ).all()
    )
    rows = await session.scalars(
        select(CameraMaskSet).where(CameraMaskSet.camera_id == camera_id).order_by(CameraMaskSet.preset)
    )
    return [
        PresetSet(r.preset, int(counts.get(r.preset, 0)), r.drawn_at, r.preset_saved_at, _in_force(r))
        for r in rows
    ]


def _check_preset(camera: Camera, preset: int) -> None:
    if not 0 <= preset <= MAX_PRESET:
        raise ValidationFailed(f"a preset is 1..{MAX_PRESET} (0: the default set)")
    if preset and not camera.ptz:
        raise ValidationFailed("only a PTZ camera has mask sets per preset")


async def list_masks(
    session: AsyncSession, p: Principal, camera_id: int, preset: int = 0
) -> tuple[Camera, list[CameraMask]]:
    """The masks of one of the camera's sets (0: the default), for those who may edit them (others:
    404 out of scope, 403 in scope)."""
    camera, _ = await cameras.get_camera(session, p, camera_id, Permission.view_live)
    if not may_edit_masks(p):
        raise Forbidden("only admins and operators see and draw privacy masks")
    _check_preset(camera, preset)
    rows = await session.scalars(
        select(CameraMask)
        .where(CameraMask.camera_id == camera.id, CameraMask.preset == preset)
        .order_by(CameraMask.id)
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
    preset: int = 0,
) -> tuple[Camera, list[CameraMask]]:
    """Replace one of the camera's sets (0: the default; the editor saves the whole drawing); audited
    with the counts. Saving a preset's set, even empty, puts it in force for that preset."""
    camera, _ = await cameras.get_camera(session, p, camera_id, Permission.view_live)
    if not may_edit_masks(p):
        raise Forbidden("only admins and operators draw privacy masks")
    _check_preset(camera, preset)
    if len(masks) > MAX_MASKS:
        raise ValidationFailed(f"at most {MAX_MASKS} masks per camera")
    checked = [(label.strip()[:100], check_polygon(points)) for label, points in masks]
    before = await _count(session, camera.id, preset)
    await session.execute(
        delete(CameraMask).where(CameraMask.camera_id == camera.id, CameraMask.preset == preset)
    )
    rows = [
        CameraMask(camera_id=camera.id, preset=preset, label=label, points=points, created_by=actor.name,
                   created_at=now)
        for label, points in checked
    ]  # fmt: skip
    session.add_all(rows)
    if preset:
        found = await session.get(CameraMaskSet, (camera.id, preset))
        if found is None:
            session.add(CameraMaskSet(camera_id=camera.id, preset=preset, drawn_at=now, drawn_by=actor.name))
        else:
            found.drawn_at, found.drawn_by = now, actor.name
    await session.flush()
    await audit.append(
        session, actor, "camera.masks", at=now, target_type="camera", target_id=camera.id,
        detail={"gb_id": camera.gb_id, "preset": preset, "before": before, "after": len(rows),
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
