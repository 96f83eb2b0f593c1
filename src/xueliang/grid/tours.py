"""Video patrol tours (视频巡点): an ordered list of cameras per station or village, seconds on each and
local start times. An operator plays a run of the tour (the console opens each camera through the
ordinary live route, which checks the policy and audits the view), pauses it, and marks each camera
normal or abnormal; "abnormal" opens an incident at the camera's village."""

from __future__ import annotations

import uuid as uuid_mod
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.policy import Permission, Principal, allows
from xueliang.audit import service as audit
from xueliang.audit.service import Actor
from xueliang.cameras.models import Camera
from xueliang.core.errors import AppError, Forbidden, NotFound
from xueliang.grid import geo
from xueliang.grid.errors import refused
from xueliang.grid.models import (
    IncidentCategory,
    IncidentPhoto,
    Mark,
    PatrolTour,
    TourMark,
    TourRun,
    TourRunState,
)
from xueliang.grid.policy import manage_filter, may_manage
from xueliang.grid.schemas import MarkIn, TourIn
from xueliang.grid.service import BadTransition, new_incident
from xueliang.regions.models import Region


async def _tour(session: AsyncSession, p: Principal, tour_id: int) -> PatrolTour:
    tour = await session.get(PatrolTour, tour_id)
    if tour is None or not tour.active or not may_manage(p, tour.region_path):
        raise refused(NotFound, "tour.not_found")
    return tour


async def _run(session: AsyncSession, p: Principal, run_id: int) -> tuple[TourRun, PatrolTour]:
    run = await session.get(TourRun, run_id)
    tour = await session.get(PatrolTour, run.tour_id) if run else None
    if run is None or tour is None or not may_manage(p, run.region_path):
        raise refused(NotFound, "tour_run.not_found")
    return run, tour


def tour_dict(t: PatrolTour) -> dict[str, Any]:
    return {
        "id": t.id,
        "region_id": t.region_id,
        "name": t.name,
        "steps": t.steps,
        "times": t.times,
        "active": t.active,
    }


async def list_tours(session: AsyncSession, p: Principal) -> list[PatrolTour]:
    if not allows(p, Permission.manage_grid):
        raise refused(Forbidden, "forbidden")
    q = select(PatrolTour).where(PatrolTour.active.is_(True), manage_filter(p, PatrolTour.region_path))
    return list((await session.scalars(q.order_by(PatrolTour.id))).all())


async def get_tour(session: AsyncSession, p: Principal, tour_id: int) -> PatrolTour:
    return await _tour(session, p, tour_id)


async def _checked(session: AsyncSession, p: Principal, body: TourIn) -> Region:
    region = await session.get(Region, body.region_id)
    if region is None or not may_manage(p, region.path):
        raise refused(NotFound, "region.not_found")
    ids = [s.camera_id for s in body.steps]
    rows = (
        await session.execute(
            select(Camera.id, Region.path)
            .join(Region, Region.id == Camera.region_id)
            .where(Camera.id.in_(ids))
        )
    ).all()
    inside = {cid for cid, path in rows if path.startswith(region.path)}
    bad = [cid for cid in ids if cid not in inside]
    if bad:
        raise refused(AppError, "tour.bad_camera", region=region.name, cameras=", ".join(map(str, bad[:5])))
    return region


async def create_tour(
    session: AsyncSession, p: Principal, actor: Actor, body: TourIn, now: datetime
) -> PatrolTour:
    region = await _checked(session, p, body)
    tour = PatrolTour(
        region_id=region.id,
        region_path=region.path,
        name=body.name,
        steps=[s.model_dump() for s in body.steps],
        times=sorted(set(body.times)),
        active=True,
        created_at=now,
    )
    session.add(tour)
    await session.flush()
    await audit.append(session, actor, "grid.tour.create", at=now, target_type="grid_tour", target_id=tour.id)
    return tour


async def update_tour(
    session: AsyncSession, p: Principal, actor: Actor, tour_id: int, body: TourIn, now: datetime
) -> PatrolTour:
    tour = await _tour(session, p, tour_id)
    region = await _checked(session, p, body)
    tour.region_id, tour.region_path, tour.name = region.id, region.path, body.name
    tour.steps, tour.times = [s.model_dump() for s in body.steps], sorted(set(body.times))
    await audit.append(session, actor, "grid.tour.update", at=now, target_type="grid_tour", target_id=tour.id)
    return tour


async def start_run(
    session: AsyncSession,
    p: Principal,
    actor: Actor,
    tour_id: int,
    slot: str | None,
    tz: ZoneInfo,
    now: datetime,
) -> TourRun:
    tour = await _tour(session, p, tour_id)
    run = TourRun(
        tour_id=tour.id,
        region_path=tour.region_path,
        day=geo.local_day(now, tz),
        slot=slot or "",
        user_id=p.user_id,
        state=TourRunState.running,
        started_at=now,
    )
    session.add(run)
    await session.flush()
    await audit.append(
        session,
        actor,
        "grid.tour.start",
        at=now,
        target_type="grid_tour",
        target_id=tour.id,
        detail={"run": run.id},
    )
    return run


STATE_STEPS = {
    TourRunState.running: {TourRunState.paused, TourRunState.done},
    TourRunState.paused: {TourRunState.running, TourRunState.done},
}


async def set_state(
    session: AsyncSession, p: Principal, run_id: int, state: TourRunState, now: datetime
) -> TourRun:
    run, _ = await _run(session, p, run_id)
    if state not in STATE_STEPS.get(run.state, set()):
        raise refused(BadTransition, "tour_run.bad_transition", state=run.state.value, to=state.value)
    run.state = state
    if state is TourRunState.done:
        run.finished_at = now
    return run


async def mark(
    session: AsyncSession, p: Principal, actor: Actor, run_id: int, body: MarkIn, now: datetime
) -> TourMark:
    """One verdict per camera and run (a second mark replaces the first); "abnormal" opens an
    incident (source "tour") at the camera's region, once."""
    run, tour = await _run(session, p, run_id)
    if body.camera_id not in {s["camera_id"] for s in tour.steps}:
        raise refused(NotFound, "tour.camera_not_in_tour")
    if run.state is TourRunState.done:
        raise refused(BadTransition, "tour_run.finished")
    row = (
        await session.scalars(
            select(TourMark).where(TourMark.run_id == run.id, TourMark.camera_id == body.camera_id)
        )
    ).first()
    if row is None:
        row = TourMark(run_id=run.id, camera_id=body.camera_id)
        session.add(row)
    row.mark, row.note, row.at, row.user_id = body.mark, body.note, now, p.user_id
    if body.mark is Mark.abnormal and row.incident_id is None:
        camera = await session.get(Camera, body.camera_id)
        region = await session.get(Region, camera.region_id) if camera else None
        if camera is None or region is None:
            raise refused(NotFound, "camera.not_found")
        inc = await new_incident(
            session,
            uuid=str(uuid_mod.uuid4()),
            category=IncidentCategory.public_safety,
            text=f"视频巡点异常 / video patrol: {camera.name}. {body.note}".strip(),
            region=region,
            reporter_id=p.user_id,
            at=now,
            now=now,
            lat=camera.lat,
            lon=camera.lon,
            source="tour",
            camera_id=camera.id,
        )
        row.incident_id = inc.id
    await session.flush()
    await audit.append(
        session,
        actor,
        "grid.tour.mark",
        at=now,
        target_type="camera",
        target_id=body.camera_id,
        detail={"run": run.id, "mark": body.mark.value, "incident": row.incident_id},
    )
    return row


async def run_dict(session: AsyncSession, run: TourRun) -> dict[str, Any]:
    marks = (
        await session.scalars(select(TourMark).where(TourMark.run_id == run.id).order_by(TourMark.id))
    ).all()
    return {
        "id": run.id,
        "tour_id": run.tour_id,
        "day": run.day,
        "slot": run.slot,
        "state": run.state,
        "user_id": run.user_id,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "marks": [
            {
                "camera_id": m.camera_id,
                "mark": m.mark,
                "note": m.note,
                "at": m.at,
                "incident_id": m.incident_id,
            }
            for m in marks
        ],
    }


async def get_run(session: AsyncSession, p: Principal, run_id: int) -> TourRun:
    return (await _run(session, p, run_id))[0]


async def without_photo(session: AsyncSession, incident_id: int) -> bool:
    """Whether an incident has no photo yet (a tour's snapshot is added once)."""
    found = await session.scalars(
        select(IncidentPhoto.id).where(IncidentPhoto.incident_id == incident_id).limit(1)
    )
    return found.first() is None
