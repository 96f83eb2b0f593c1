"""Privacy routes of a camera: its masks (drawn by admins and operators in scope, audited) and the
facts its privacy page states. Out of scope answers exactly as a missing camera (404)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from xueliang.accounts.deps import Ctx, CurrentCaller, Session
from xueliang.cameras import masks
from xueliang.cameras import remote as remote_cameras
from xueliang.cameras.mask_models import CameraMask
from xueliang.cameras.masks import MasksChanged, PrivacyFacts
from xueliang.cameras.models import Camera
from xueliang.core.bounds import PathId

router = APIRouter(tags=["privacy"])

Fraction01 = Annotated[float, Field(ge=0, le=1)]
# Which set: 0 the camera's default, 1..255 a PTZ camera's preset (ADR 0012, addendum).
PresetQuery = Annotated[int, Query(ge=0, le=masks.MAX_PRESET)]


class MaskIn(BaseModel):
    label: str = Field(default="", max_length=100)
    points: list[tuple[Fraction01, Fraction01]] = Field(min_length=3, max_length=masks.MAX_POINTS)


class MasksIn(BaseModel):
    masks: list[MaskIn] = Field(max_length=masks.MAX_MASKS)


class MaskOut(BaseModel):
    id: int
    label: str
    points: list[tuple[float, float]]


class PresetSetOut(BaseModel):
    preset: int
    areas: int
    drawn_at: datetime | None
    preset_saved_at: datetime | None
    in_force: bool  # drawn after the preset was last saved on the camera


class PositionOut(BaseModel):
    preset: int | None  # None: moved by hand or on its way (masked viewers see the whole picture filled)
    at: datetime


class MasksOut(BaseModel):
    camera_id: int
    preset: int = 0  # the set these masks belong to (0: the default)
    ptz: bool = False
    masks: list[MaskOut]
    sets: list[PresetSetOut] = []  # a PTZ camera's preset sets
    position: PositionOut | None = None  # where our last PTZ command left it (None: never moved)


class PrivacyIn(BaseModel):
    sensitive: bool | None = None
    watches: str | None = Field(default=None, max_length=300)
    purpose: str | None = Field(default=None, max_length=300)
    controller: str | None = Field(default=None, max_length=200)
    contact: str | None = Field(default=None, max_length=200)


class PrivacyOut(BaseModel):
    camera_id: int
    gb_id: str
    name: str
    name_en: str
    region_name: str
    kind: str
    public_view: bool
    record: bool
    retention_days: int
    sensitive: bool
    watches: str
    purpose: str
    controller: str
    contact: str
    masks: int  # how many areas are hidden
    still: str  # the picture, masked for whoever may not see behind the masks


async def _masks_out(session: Session, camera: Camera, preset: int, rows: list[CameraMask]) -> MasksOut:
    out = MasksOut(
        camera_id=camera.id,
        preset=preset,
        ptz=camera.ptz,
        masks=[
            MaskOut(id=m.id, label=m.label, points=[(float(x), float(y)) for x, y in m.points]) for m in rows
        ],
    )
    if camera.ptz:
        out.sets = [
            PresetSetOut(
                preset=s.preset, areas=s.areas, drawn_at=s.drawn_at, preset_saved_at=s.preset_saved_at,
                in_force=s.in_force,
            )
            for s in await masks.preset_sets(session, camera.id)
        ]  # fmt: skip
        found = (await masks.latest_positions(session, [camera.id])).get(camera.id)
        if found is not None:
            out.position = PositionOut(preset=found[1], at=found[0])
    return out


def privacy_out(facts: PrivacyFacts) -> PrivacyOut:
    camera, privacy = facts.camera, facts.privacy
    return PrivacyOut(
        camera_id=camera.id,
        gb_id=camera.gb_id,
        name=camera.name,
        name_en=camera.name_en,
        region_name=facts.region.name,
        kind=camera.kind.value,
        public_view=camera.public_view,
        record=camera.record,
        retention_days=camera.retention_days,
        sensitive=bool(privacy and privacy.sensitive),
        watches=privacy.watches if privacy else "",
        purpose=privacy.purpose if privacy else "",
        controller=privacy.controller if privacy else "",
        contact=privacy.contact if privacy else "",
        masks=facts.masks,
        still=f"/api/v1/cameras/{camera.id}/still.jpg",
    )


@router.get("/cameras/{camera_id}/masks", response_model=MasksOut)
async def get_masks(
    camera_id: PathId, caller: CurrentCaller, session: Session, preset: PresetQuery = 0
) -> MasksOut:
    """The polygons (0..1 of the picture) of one of the camera's mask sets (`preset`: 0 the default,
    1..255 a PTZ camera's preset), its preset sets and where it points, for admins and operators."""
    camera, rows = await masks.list_masks(session, caller.principal, camera_id, preset)
    return await _masks_out(session, camera, preset, rows)


@router.put("/cameras/{camera_id}/masks", response_model=MasksOut)
async def put_masks(
    camera_id: PathId,
    body: MasksIn,
    caller: CurrentCaller,
    ctx: Ctx,
    session: Session,
    preset: PresetQuery = 0,
) -> MasksOut:
    """Replace one of the camera's mask sets (the editor saves the whole drawing; `preset` as for
    GET); audited as `camera.masks`. Masked viewers' streams follow at once; an unmasked stream of
    someone who must now see it masked ends at its next re-check. A preset's set, even empty, is in
    force for that preset from then on (until the preset is saved again on the camera)."""
    # A camera another node owns is drawn there first: its owner applies the drawing or refuses it with
    # its reason (409); this copy then follows its owner (federation, ADR 0019).
    if (owner := await remote_cameras.remote_for(ctx, camera_id)) is not None:
        await masks.list_masks(session, caller.principal, camera_id, preset)  # our scope and role first
        drawn = [{"label": m.label, "points": masks.check_polygon(m.points)} for m in body.masks]  # 422 here
        await owner.masks(camera_id, drawn, caller.actor.name, preset)
    camera, rows = await masks.replace_masks(
        session,
        caller.principal,
        caller.actor,
        camera_id,
        [(m.label, m.points) for m in body.masks],
        ctx.clock.now(),
        preset,
    )
    ctx.events.publish(session, MasksChanged(camera.id))
    await session.commit()
    await ctx.events.delivered(session)
    return await _masks_out(session, camera, preset, rows)


@router.get("/cameras/{camera_id}/privacy", response_model=PrivacyOut)
async def get_privacy(camera_id: PathId, caller: CurrentCaller, session: Session) -> PrivacyOut:
    """What the camera's privacy page says: what it watches, why, who runs it, how long video is kept,
    whom to contact. Visible to whoever may see the camera live (residents: public cameras of their
    village)."""
    return privacy_out(await masks.privacy_facts(session, caller.principal, camera_id))


@router.put("/cameras/{camera_id}/privacy", response_model=PrivacyOut)
async def put_privacy(
    camera_id: PathId, body: PrivacyIn, caller: CurrentCaller, ctx: Ctx, session: Session
) -> PrivacyOut:
    """Set the privacy page's facts and whether the camera is sensitive (exports then need a second
    person's approval); admins in scope; audited as `camera.privacy`."""
    await masks.set_privacy(
        session,
        caller.principal,
        caller.actor,
        camera_id,
        ctx.clock.now(),
        **body.model_dump(exclude_none=True),
    )
    await session.commit()
    return privacy_out(await masks.privacy_facts(session, caller.principal, camera_id))
