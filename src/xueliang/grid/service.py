"""Grid management use cases: routes, check-ins, the care registry and visits, incidents, the offline
batch, today's view for a grid worker, and "I'm OK".

Plain async functions on the caller's session; they flush and audit in the caller's transaction and
never commit (the route does). Every object comes through a scoped query built on grid/policy.py, so
an object out of scope is answered exactly like a missing one (404). Every read of a care person,
alone or in a list, appends an audit row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.models import Role, User
from xueliang.accounts.policy import Permission, Principal, allows, in_scope
from xueliang.audit import service as audit
from xueliang.audit.service import Actor
from xueliang.core.errors import AppError, Conflict, Forbidden, NotFound
from xueliang.grid import geo, photos, qr
from xueliang.grid.config import GridSettings
from xueliang.grid.coverage_cache import CoverageCache
from xueliang.grid.errors import refusal_fields, refused
from xueliang.grid.models import (
    CarePerson,
    CheckIn,
    Checkpoint,
    GridTask,
    Incident,
    IncidentEvent,
    IncidentPhoto,
    IncidentState,
    OkAnswer,
    PatrolRoute,
    Proof,
    RouteRun,
    RunState,
    TaskKind,
    TaskState,
    Visit,
    Wellbeing,
)
from xueliang.grid.policy import (
    care_filter,
    incident_filter,
    may_manage,
    may_read_care,
    may_read_incident,
    may_read_route,
    route_filter,
)
from xueliang.grid.schemas import (
    CarePersonIn,
    CheckInIn,
    IncidentIn,
    RouteIn,
    SyncCheckIn,
    SyncIncident,
    SyncItem,
    SyncResult,
    SyncVisit,
    TransitionIn,
    VisitIn,
)
from xueliang.grid.sql import insert_ignore
from xueliang.regions.models import Place, Region, RegionLevel

if TYPE_CHECKING:
    from xueliang.core.context import AppContext
    from xueliang.grid.coverage import Coverage

VISIT_WINDOW_END = "18:00"  # a visit with no task of its own is late after this local time
POOR = {Wellbeing.poor, Wellbeing.urgent}


class TooFar(AppError):
    status = 400
    code = "too_far"


class BadRoute(AppError):
    status = 400
    code = "bad_route"


class BadTransition(AppError):
    status = 409
    code = "bad_transition"


@dataclass(frozen=True)
class GridEnv:
    """What the grid's rules need from the node: its time zone, its secret (QR signatures), where
    photos live, and the grid settings."""

    tz: ZoneInfo
    secret: str
    data_dir: Path
    settings: GridSettings


# --- routes -------------------------------------------------------------------------------------


async def get_route(session: AsyncSession, p: Principal, route_id: int) -> PatrolRoute:
    route = await session.get(PatrolRoute, route_id)
    if route is None or not route.active or not may_read_route(p, route.region_path, route.worker_id):
        raise refused(NotFound, "route.not_found")
    return route


async def managed_route(session: AsyncSession, p: Principal, route_id: int) -> PatrolRoute:
    route = await get_route(session, p, route_id)
    if not may_manage(p, route.region_path):
        raise refused(NotFound, "route.not_found")
    return route


async def checkpoints_of(session: AsyncSession, route_ids: Sequence[int]) -> dict[int, list[Checkpoint]]:
    rows = await session.scalars(
        select(Checkpoint)
        .where(Checkpoint.route_id.in_(route_ids), Checkpoint.active.is_(True))
        .order_by(Checkpoint.route_id, Checkpoint.seq)
    )
    out: dict[int, list[Checkpoint]] = {rid: [] for rid in route_ids}
    for cp in rows:
        out[cp.route_id].append(cp)
    return out


async def user_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.username).where(User.id.in_(ids)))
    return {uid: name for uid, name in rows.all()}


def route_dict(
    route: PatrolRoute, cps: list[Checkpoint], worker_name: str, done: set[int] | None = None
) -> dict[str, Any]:
    return {
        "id": route.id,
        "region_id": route.region_id,
        "name": route.name,
        "line": route.line,
        "days": route.days,
        "window_start": route.window_start,
        "window_end": route.window_end,
        "worker_id": route.worker_id,
        "worker_name": worker_name,
        "active": route.active,
        "checkpoints": [
            {
                "id": cp.id,
                "seq": cp.seq,
                "name": cp.name,
                "lat": cp.lat,
                "lon": cp.lon,
                "radius_m": cp.radius_m,
                "place_id": cp.place_id,
                "done": None if done is None else cp.id in done,
            }
            for cp in cps
        ],
    }


async def routes_out(
    session: AsyncSession, routes: Sequence[PatrolRoute], done: dict[int, set[int]] | None = None
) -> list[dict[str, Any]]:
    cps = await checkpoints_of(session, [r.id for r in routes])
    names = await user_names(session, {r.worker_id for r in routes if r.worker_id is not None})
    return [
        route_dict(
            r,
            cps[r.id],
            names.get(r.worker_id or 0, ""),
            None if done is None else done.get(r.id, set()),
        )
        for r in routes
    ]


async def list_routes(session: AsyncSession, p: Principal, region_id: int | None = None) -> list[PatrolRoute]:
    if not allows(p, Permission.manage_grid) and not allows(p, Permission.patrol):
        raise refused(Forbidden, "forbidden")
    q = select(PatrolRoute).where(
        PatrolRoute.active.is_(True), route_filter(p, PatrolRoute.region_path, PatrolRoute.worker_id)
    )
    if region_id is not None:
        region = await session.get(Region, region_id)
        if region is None:
            return []
        q = q.where(PatrolRoute.region_path.startswith(region.path, autoescape=True))
    return list((await session.scalars(q.order_by(PatrolRoute.id))).all())


async def _checked_route(session: AsyncSession, p: Principal, body: RouteIn) -> tuple[Region, User | None]:
    """The village (managed by the caller), the worker, and the geometry: at least 2 points on the
    line, every point and checkpoint inside the village's boundary. Checked before anything is
    written."""
    region = await session.get(Region, body.region_id)
    if region is None or not may_manage(p, region.path):
        raise refused(NotFound, "region.not_found")
    if region.level not in (RegionLevel.village, RegionLevel.grid):
        raise refused(BadRoute, "route.not_a_village")
    if len(body.line) < 2:
        raise refused(BadRoute, "route.too_few_points")
    if not body.days:
        raise refused(BadRoute, "route.no_days")
    if geo.parse_hhmm(body.window_end) <= geo.parse_hhmm(body.window_start):
        raise refused(BadRoute, "route.bad_window")
    village = region
    if region.level is RegionLevel.grid and region.parent_id is not None:
        village = await session.get(Region, region.parent_id) or region
    boundary = region.boundary or village.boundary
    off_line = geo.outside(boundary, [(lon, lat) for lon, lat in body.line])
    off_points = geo.outside(boundary, [(cp.lon, cp.lat) for cp in body.checkpoints])
    if off_line or off_points:
        points = ", ".join(str(i + 1) for i in off_line[:5]) or "-"
        names = ", ".join(body.checkpoints[i].name for i in off_points[:5]) or "-"
        raise refused(
            BadRoute, "route.outside_village", village=region.name, points=points, checkpoints=names
        )
    place_ids = {cp.place_id for cp in body.checkpoints if cp.place_id is not None}
    if place_ids:
        found = (
            await session.execute(
                select(Place.id)
                .join(Region, Region.id == Place.region_id)
                .where(Place.id.in_(place_ids), Region.path.startswith(village.path, autoescape=True))
            )
        ).all()
        if len(found) != len(place_ids):
            raise refused(BadRoute, "route.bad_place")
    worker = None
    if body.worker_id is not None:
        worker = await session.get(User, body.worker_id)
        worker_region = await session.get(Region, worker.region_id) if worker else None
        if (
            worker is None
            or worker.disabled
            or worker.role is not Role.grid_worker
            or worker_region is None
            or not (
                worker_region.path.startswith(village.path) or village.path.startswith(worker_region.path)
            )
        ):
            raise refused(BadRoute, "route.bad_worker")
    return region, worker


async def _set_checkpoints(session: AsyncSession, route: PatrolRoute, body: RouteIn) -> None:
    existing = {cp.id: cp for cp in (await checkpoints_of(session, [route.id]))[route.id]}
    keep: set[int] = set()
    for seq, cp_in in enumerate(body.checkpoints, start=1):
        cp = existing.get(cp_in.id) if cp_in.id is not None else None
        if cp_in.id is not None and cp is None:
            raise refused(BadRoute, "route.bad_checkpoint", id=cp_in.id)
        if cp is None:
            cp = Checkpoint(route_id=route.id, active=True)
            session.add(cp)
        else:
            keep.add(cp.id)
        cp.seq, cp.name, cp.lat, cp.lon = seq, cp_in.name, cp_in.lat, cp_in.lon
        cp.radius_m, cp.place_id = cp_in.radius_m, cp_in.place_id
    for cp_id, cp in existing.items():
        if cp_id not in keep:
            cp.active = False  # retired, not deleted: its check-ins keep their meaning
    await session.flush()


async def create_route(
    session: AsyncSession, p: Principal, actor: Actor, body: RouteIn, now: datetime
) -> PatrolRoute:
    region, _ = await _checked_route(session, p, body)
    route = PatrolRoute(
        region_id=region.id,
        region_path=region.path,
        name=body.name,
        line=[[lon, lat] for lon, lat in body.line],
        days=sorted(set(body.days)),
        window_start=body.window_start,
        window_end=body.window_end,
        worker_id=body.worker_id,
        active=True,
        created_at=now,
        updated_at=now,
    )
    session.add(route)
    await session.flush()
    await _set_checkpoints(session, route, body)
    await audit.append(
        session, actor, "grid.route.create", at=now, target_type="grid_route", target_id=route.id
    )
    return route


async def update_route(
    session: AsyncSession, p: Principal, actor: Actor, route_id: int, body: RouteIn, now: datetime
) -> PatrolRoute:
    route = await managed_route(session, p, route_id)
    region, _ = await _checked_route(session, p, body)
    route.region_id, route.region_path, route.name = region.id, region.path, body.name
    route.line = [[lon, lat] for lon, lat in body.line]
    route.days, route.window_start, route.window_end = (
        sorted(set(body.days)),
        body.window_start,
        body.window_end,
    )
    route.worker_id, route.updated_at = body.worker_id, now
    await _set_checkpoints(session, route, body)
    await audit.append(
        session, actor, "grid.route.update", at=now, target_type="grid_route", target_id=route.id
    )
    return route


async def retire_route(
    session: AsyncSession, p: Principal, actor: Actor, route_id: int, now: datetime
) -> None:
    route = await managed_route(session, p, route_id)
    route.active, route.updated_at = False, now
    await audit.append(
        session, actor, "grid.route.delete", at=now, target_type="grid_route", target_id=route.id
    )


async def qr_sheet(session: AsyncSession, p: Principal, route_id: int, secret: str) -> bytes:
    route = await get_route(session, p, route_id)
    cps = (await checkpoints_of(session, [route.id]))[route.id]
    items = [(f"{cp.seq}. {cp.name}", qr.payload(secret, cp.id)) for cp in cps]
    return qr.sheet_png(f"{route.name} - route {route.id} / checkpoints", items)


# --- check-ins ----------------------------------------------------------------------------------


async def _run_for(
    session: AsyncSession, route: PatrolRoute, day: date, tz: ZoneInfo, total: int
) -> RouteRun:
    """The route's run of that local day, made now if generation has not (yet) made it."""
    q = select(RouteRun).where(RouteRun.route_id == route.id, RouteRun.day == day)
    run = (await session.scalars(q)).first()
    if run is None:
        await insert_ignore(
            session,
            RouteRun,
            [run_row(route, day, tz, total)],
            ["route_id", "day"],
        )
        run = (await session.scalars(q)).one()
    return run


def run_row(route: PatrolRoute, day: date, tz: ZoneInfo, total: int) -> dict[str, Any]:
    return {
        "route_id": route.id,
        "day": day,
        "worker_id": route.worker_id,
        "region_path": route.region_path,
        "window_start_at": geo.at_local(day, route.window_start, tz),
        "window_end_at": geo.at_local(day, route.window_end, tz),
        "state": RunState.planned,
        "checked": 0,
        "total": total,
        "missed": [],
    }


async def checked_in(session: AsyncSession, run_ids: Sequence[int]) -> dict[int, set[int]]:
    """run id -> the checkpoint ids checked in on that run."""
    out: dict[int, set[int]] = {rid: set() for rid in run_ids}
    if not run_ids:
        return out
    rows = await session.execute(
        select(CheckIn.run_id, CheckIn.checkpoint_id).where(CheckIn.run_id.in_(run_ids)).distinct()
    )
    for run_id, cp_id in rows.all():
        if run_id is not None:
            out[run_id].add(cp_id)
    return out


async def refresh_run(session: AsyncSession, run: RouteRun, cps: list[Checkpoint] | None = None) -> None:
    if cps is None:
        cps = (await checkpoints_of(session, [run.route_id]))[run.route_id]
    active = {cp.id for cp in cps}
    done = (await checked_in(session, [run.id]))[run.id] & active
    run.total, run.checked = len(active), len(done)
    if run.state is RunState.missed:
        run.missed = [cp for cp in run.missed if cp not in done]  # a late check-in still counts
        if not run.missed:
            run.state = RunState.done
    elif run.checked >= run.total > 0:
        run.state = RunState.done
    elif run.checked:
        run.state = RunState.in_progress


async def check_in(
    session: AsyncSession, p: Principal, body: CheckInIn, env: GridEnv, now: datetime
) -> tuple[CheckIn, bool]:
    """GPS proof: the fix within the checkpoint's radius. QR proof: a genuine signed code of this
    checkpoint and a fix within twice the radius (a photographed code alone is not enough). Refused
    with a message naming the distance; nothing is stored when refused. A resend of the same UUID
    answers the first record."""
    if not allows(p, Permission.patrol):  # the checkpoint is out of reach: as if it did not exist
        raise refused(NotFound, "checkpoint.not_found")
    found = (await session.scalars(select(CheckIn).where(CheckIn.uuid == body.uuid))).first()
    if found is not None:
        if found.user_id != p.user_id:
            raise refused(Conflict, "record.uuid_taken")
        return found, True
    cp = await session.get(Checkpoint, body.checkpoint_id)
    route = await session.get(PatrolRoute, cp.route_id) if cp is not None else None
    if cp is None or route is None or not cp.active or not route.active or route.worker_id != p.user_id:
        raise refused(NotFound, "checkpoint.not_found")
    limit = cp.radius_m
    proof = Proof.gps
    if body.qr is not None:
        if qr.verify(env.secret, body.qr) != cp.id:
            raise refused(qr.ForgedQr, "qr.other_checkpoint")
        proof, limit = Proof.qr, cp.radius_m * 2
    if body.lat is None or body.lon is None:
        raise refused(TooFar, "checkin.qr_no_gps" if proof is Proof.qr else "checkin.no_gps")
    distance = geo.distance_m(body.lat, body.lon, cp.lat, cp.lon)
    if distance > limit:
        raise refused(
            TooFar, "checkin.too_far", distance=round(distance), checkpoint=cp.name, limit=round(limit)
        )
    cps = (await checkpoints_of(session, [route.id]))[route.id]
    run = await _run_for(session, route, geo.local_day(body.at, env.tz), env.tz, len(cps))
    row = CheckIn(
        uuid=body.uuid,
        checkpoint_id=cp.id,
        route_id=route.id,
        run_id=run.id,
        user_id=p.user_id,
        region_path=route.region_path,
        at=body.at,
        lat=body.lat,
        lon=body.lon,
        accuracy_m=body.accuracy_m,
        distance_m=round(distance, 1),
        proof=proof,
        received_at=now,
    )
    session.add(row)
    await session.flush()
    await refresh_run(session, run, cps)
    return row, False


def checkin_dict(c: CheckIn, duplicate: bool = False) -> dict[str, Any]:
    return {
        "id": c.id,
        "uuid": c.uuid,
        "checkpoint_id": c.checkpoint_id,
        "route_id": c.route_id,
        "at": c.at,
        "proof": c.proof,
        "distance_m": c.distance_m,
        "received_at": c.received_at,
        "duplicate": duplicate,
    }


# --- the care registry --------------------------------------------------------------------------


async def _person(session: AsyncSession, p: Principal, person_id: int) -> CarePerson:
    person = await session.get(CarePerson, person_id)
    if person is None or not person.active or not may_read_care(p, person.region_path, person.worker_id):
        raise refused(NotFound, "person.not_found")
    return person


async def last_visits(session: AsyncSession, ids: Sequence[int]) -> dict[int, Visit]:
    if not ids:
        return {}
    newest = (
        select(Visit.person_id, func.max(Visit.at).label("at"))
        .where(Visit.person_id.in_(ids))
        .group_by(Visit.person_id)
        .subquery()
    )
    rows = await session.scalars(
        select(Visit).join(newest, (Visit.person_id == newest.c.person_id) & (Visit.at == newest.c.at))
    )
    return {v.person_id: v for v in rows}


def flags(visit: Visit | None) -> list[str]:
    if visit is None:
        return []
    out = list(visit.needs)
    if visit.wellbeing in POOR:
        out.append(f"wellbeing: {visit.wellbeing}")
    return out


def person_dict(person: CarePerson, last: Visit | None) -> dict[str, Any]:
    return {
        "id": person.id,
        "kind": person.kind,
        "name": person.name,
        "birth_year": person.birth_year,
        "region_id": person.region_id,
        "household_id": person.household_id,
        "address": person.address,
        "lat": person.lat,
        "lon": person.lon,
        "contacts": person.contacts,
        "worker_id": person.worker_id,
        "visit_every_days": person.visit_every_days,
        "ok_check": person.ok_check,
        "ok_deadline": person.ok_deadline,
        "notes": person.notes,
        "last_visit_at": last.at if last else None,
        "flagged": flags(last),
    }


def visit_dict(v: Visit, duplicate: bool = False) -> dict[str, Any]:
    return {
        "id": v.id,
        "uuid": v.uuid,
        "person_id": v.person_id,
        "user_id": v.user_id,
        "at": v.at,
        "outcome": v.outcome,
        "wellbeing": v.wellbeing,
        "note": v.note,
        "needs": v.needs,
        "lat": v.lat,
        "lon": v.lon,
        "late": v.late,
        "received_at": v.received_at,
        "duplicate": duplicate,
    }


async def audit_care_read(
    session: AsyncSession, actor: Actor, ids: Sequence[int], now: datetime, action: str = "grid.care.list"
) -> None:
    """Every read of care persons leaves one audit row naming them (a list names all it showed)."""
    detail: dict[str, Any] = {"ids": list(ids)}
    target = str(ids[0]) if len(ids) == 1 else ""
    await audit.append(
        session, actor, action, at=now, target_type="care_person", target_id=target, detail=detail
    )


async def list_care(
    session: AsyncSession,
    p: Principal,
    actor: Actor,
    now: datetime,
    *,
    region_id: int | None = None,
    kind: str | None = None,
) -> list[dict[str, Any]]:
    if not allows(p, Permission.read_care):
        raise refused(Forbidden, "forbidden")
    q = select(CarePerson).where(
        CarePerson.active.is_(True), care_filter(p, CarePerson.region_path, CarePerson.worker_id)
    )
    if region_id is not None:
        region = await session.get(Region, region_id)
        if region is None:
            return []
        q = q.where(CarePerson.region_path.startswith(region.path, autoescape=True))
    if kind is not None:
        q = q.where(CarePerson.kind == kind)
    people = list((await session.scalars(q.order_by(CarePerson.id))).all())
    last = await last_visits(session, [x.id for x in people])
    await audit_care_read(session, actor, [x.id for x in people], now)
    return [person_dict(x, last.get(x.id)) for x in people]


async def get_care(
    session: AsyncSession, p: Principal, actor: Actor, person_id: int, now: datetime
) -> dict[str, Any]:
    person = await _person(session, p, person_id)
    visits = list(
        (
            await session.scalars(
                select(Visit).where(Visit.person_id == person.id).order_by(Visit.at.desc()).limit(30)
            )
        ).all()
    )
    await audit_care_read(session, actor, [person.id], now, "grid.care.read")
    out = person_dict(person, visits[0] if visits else None)
    out["visits"] = [visit_dict(v) for v in visits]
    return out


async def _care_fields(session: AsyncSession, p: Principal, body: CarePersonIn) -> Region:
    region = await session.get(Region, body.region_id)
    if region is None or not may_manage(p, region.path):
        raise refused(NotFound, "region.not_found")
    if body.worker_id is not None:
        worker = await session.get(User, body.worker_id)
        worker_region = await session.get(Region, worker.region_id) if worker else None
        if (
            worker is None
            or worker.role is not Role.grid_worker
            or worker_region is None
            or not region.path.startswith(worker_region.path)
        ):
            raise refused(AppError, "care.bad_worker")
    return region


def _apply_care(person: CarePerson, region: Region, body: CarePersonIn) -> None:
    person.kind, person.name, person.birth_year = body.kind, body.name, body.birth_year
    person.region_id, person.region_path = region.id, region.path
    person.household_id, person.address, person.lat, person.lon = (
        body.household_id,
        body.address,
        body.lat,
        body.lon,
    )
    person.contacts = [c.model_dump() for c in body.contacts]
    person.worker_id, person.visit_every_days = body.worker_id, body.visit_every_days
    person.ok_check, person.ok_deadline, person.notes = body.ok_check, body.ok_deadline, body.notes


async def create_care(
    session: AsyncSession, p: Principal, actor: Actor, body: CarePersonIn, now: datetime
) -> CarePerson:
    region = await _care_fields(session, p, body)
    person = CarePerson(active=True, created_at=now)
    _apply_care(person, region, body)
    session.add(person)
    await session.flush()
    await audit.append(
        session, actor, "grid.care.create", at=now, target_type="care_person", target_id=person.id
    )
    return person


async def update_care(
    session: AsyncSession, p: Principal, actor: Actor, person_id: int, body: CarePersonIn, now: datetime
) -> CarePerson:
    person = await _person(session, p, person_id)
    if not may_manage(p, person.region_path):
        raise refused(NotFound, "person.not_found")
    region = await _care_fields(session, p, body)
    _apply_care(person, region, body)
    await audit.append(
        session, actor, "grid.care.update", at=now, target_type="care_person", target_id=person.id
    )
    return person


# --- visits -------------------------------------------------------------------------------------


async def record_visit(
    session: AsyncSession, p: Principal, body: VisitIn, env: GridEnv, now: datetime
) -> tuple[Visit, bool]:
    """Only the assigned worker records a visit (anyone else: 404, as for a missing person). Never
    refused for lateness: `late` when made after its task's due time, or after the day's window when
    the person had no task that day. The day's open tasks for the person are done by it."""
    if not allows(p, Permission.patrol):  # the person is out of reach: as if they did not exist
        raise refused(NotFound, "person.not_found")
    found = (await session.scalars(select(Visit).where(Visit.uuid == body.uuid))).first()
    if found is not None:
        if found.user_id != p.user_id:
            raise refused(Conflict, "record.uuid_taken")
        return found, True
    person = await session.get(CarePerson, body.person_id)
    if person is None or not person.active or person.worker_id != p.user_id:
        raise refused(NotFound, "person.not_found")
    day = geo.local_day(body.at, env.tz)
    tasks = list(
        (
            await session.scalars(
                select(GridTask).where(
                    GridTask.person_id == person.id,
                    GridTask.day == day,
                    GridTask.kind.in_([TaskKind.visit, TaskKind.ok_followup]),
                )
            )
        ).all()
    )
    if tasks:
        late = all(body.at > t.due_at for t in tasks)
    else:
        late = body.at > geo.at_local(day, VISIT_WINDOW_END, env.tz)
    visit = Visit(
        uuid=body.uuid,
        person_id=person.id,
        user_id=p.user_id,
        region_path=person.region_path,
        at=body.at,
        outcome=body.outcome,
        wellbeing=body.wellbeing,
        note=body.note,
        needs=list(body.needs),
        lat=body.lat,
        lon=body.lon,
        late=late,
        received_at=now,
    )
    session.add(visit)
    open_ids = [t.id for t in tasks if t.state is TaskState.open]
    if open_ids:
        await session.execute(
            update(GridTask).where(GridTask.id.in_(open_ids)).values(state=TaskState.done, done_at=body.at)
        )
    await session.flush()
    return visit, False


# --- incidents ----------------------------------------------------------------------------------

TRANSITIONS: dict[IncidentState, set[IncidentState]] = {
    IncidentState.reported: {IncidentState.assigned},
    IncidentState.assigned: {IncidentState.assigned, IncidentState.in_hand},
    IncidentState.in_hand: {IncidentState.resolved},
    IncidentState.resolved: {IncidentState.checked, IncidentState.in_hand},  # checked, or sent back
    IncidentState.checked: set(),
}
ASSIGNEE_MAY = {
    (IncidentState.assigned, IncidentState.in_hand),
    (IncidentState.in_hand, IncidentState.resolved),
}


async def get_incident(session: AsyncSession, p: Principal, incident_id: int) -> Incident:
    inc = await session.get(Incident, incident_id)
    if inc is None or not may_read_incident(p, inc.region_path, inc.reporter_id, inc.assignee_id):
        raise refused(NotFound, "incident.not_found")
    return inc


async def incident_dict(session: AsyncSession, inc: Incident, duplicate: bool = False) -> dict[str, Any]:
    events = (
        await session.scalars(
            select(IncidentEvent).where(IncidentEvent.incident_id == inc.id).order_by(IncidentEvent.id)
        )
    ).all()
    photo_ids = (
        await session.scalars(
            select(IncidentPhoto.id).where(IncidentPhoto.incident_id == inc.id).order_by(IncidentPhoto.id)
        )
    ).all()
    return {
        "id": inc.id,
        "uuid": inc.uuid,
        "category": inc.category,
        "text": inc.text,
        "lat": inc.lat,
        "lon": inc.lon,
        "region_id": inc.region_id,
        "reporter_id": inc.reporter_id,
        "assignee_id": inc.assignee_id,
        "state": inc.state,
        "source": inc.source,
        "camera_id": inc.camera_id,
        "reported_at": inc.reported_at,
        "received_at": inc.received_at,
        "closed_at": inc.closed_at,
        "photos": list(photo_ids),
        "events": [
            {
                "at": e.at,
                "user_id": e.user_id,
                "from_state": e.from_state,
                "to_state": e.to_state,
                "note": e.note,
            }
            for e in events
        ],
        "duplicate": duplicate,
    }


async def new_incident(
    session: AsyncSession,
    *,
    uuid: str,
    category: str,
    text: str,
    region: Region,
    reporter_id: int | None,
    at: datetime,
    now: datetime,
    lat: float | None = None,
    lon: float | None = None,
    source: str = "phone",
    camera_id: int | None = None,
) -> Incident:
    inc = Incident(
        uuid=uuid,
        category=category,
        text=text,
        lat=lat,
        lon=lon,
        region_id=region.id,
        region_path=region.path,
        reporter_id=reporter_id,
        state=IncidentState.reported,
        source=source,
        camera_id=camera_id,
        reported_at=at,
        received_at=now,
        updated_at=now,
    )
    session.add(inc)
    await session.flush()
    session.add(
        IncidentEvent(incident_id=inc.id, at=at, user_id=reporter_id, to_state=IncidentState.reported)
    )
    return inc


async def report_incident(
    session: AsyncSession, p: Principal, actor: Actor, body: IncidentIn, now: datetime
) -> tuple[Incident, bool]:
    if not allows(p, Permission.report_incident):
        raise refused(Forbidden, "forbidden")
    found = (await session.scalars(select(Incident).where(Incident.uuid == body.uuid))).first()
    if found is not None:
        if found.reporter_id != p.user_id:
            raise refused(Conflict, "record.uuid_taken")
        return found, True
    region = await session.get(Region, body.region_id or p.region_id)
    if region is None or not in_scope(p, region.path):
        raise refused(NotFound, "region.not_found")
    inc = await new_incident(
        session,
        uuid=body.uuid,
        category=body.category,
        text=body.text,
        region=region,
        reporter_id=p.user_id,
        at=body.at,
        now=now,
        lat=body.lat,
        lon=body.lon,
    )
    await audit.append(
        session, actor, "grid.incident.report", at=now, target_type="grid_incident", target_id=inc.id
    )
    return inc, False


async def list_incidents(
    session: AsyncSession,
    p: Principal,
    *,
    open_only: bool = False,
    region_id: int | None = None,
    limit: int = 200,
) -> list[Incident]:
    if not allows(p, Permission.report_incident) and not allows(p, Permission.manage_grid):
        raise refused(Forbidden, "forbidden")
    q = select(Incident).where(
        incident_filter(p, Incident.region_path, Incident.reporter_id, Incident.assignee_id)
    )
    if open_only:
        q = q.where(Incident.state != IncidentState.checked)
    if region_id is not None:
        region = await session.get(Region, region_id)
        if region is None:
            return []
        q = q.where(Incident.region_path.startswith(region.path, autoescape=True))
    return list((await session.scalars(q.order_by(Incident.reported_at.desc()).limit(limit))).all())


async def transition(
    session: AsyncSession, p: Principal, actor: Actor, incident_id: int, body: TransitionIn, now: datetime
) -> Incident:
    """上报→分派→处理→核查: staff who manage the grid in scope move any step; the assignee takes
    it in hand and resolves it. Each step is logged on the incident and audited."""
    inc = await get_incident(session, p, incident_id)
    manager = may_manage(p, inc.region_path)
    step = (inc.state, body.to)
    if not manager and not (inc.assignee_id == p.user_id and step in ASSIGNEE_MAY):
        raise refused(Forbidden, "incident.may_not_move")
    if body.to not in TRANSITIONS[inc.state]:
        raise refused(BadTransition, "incident.bad_transition", state=inc.state.value, to=body.to.value)
    if body.to is IncidentState.assigned:
        if body.assignee_id is None:
            raise refused(AppError, "incident.assignee_required")
        assignee = await session.get(User, body.assignee_id)
        region = await session.get(Region, assignee.region_id) if assignee else None
        if (
            assignee is None
            or assignee.disabled
            or region is None
            or assignee.role in (Role.resident, Role.auditor)
            or not inc.region_path.startswith(region.path)
        ):
            raise refused(AppError, "incident.bad_assignee")
        inc.assignee_id = assignee.id
    session.add(
        IncidentEvent(
            incident_id=inc.id,
            at=now,
            user_id=p.user_id,
            from_state=inc.state,
            to_state=body.to,
            note=body.note,
        )
    )
    inc.state, inc.updated_at = body.to, now
    inc.closed_at = now if body.to is IncidentState.checked else None
    await audit.append(
        session,
        actor,
        "grid.incident.transition",
        at=now,
        target_type="grid_incident",
        target_id=inc.id,
        detail={"from": step[0].value, "to": body.to.value},
    )
    await session.flush()
    return inc


async def add_photo(
    session: AsyncSession,
    p: Principal,
    actor: Actor,
    incident_id: int,
    data: bytes,
    env: GridEnv,
    now: datetime,
) -> tuple[IncidentPhoto, bool]:
    """The reporter or staff in scope add a photo; checked (size, really an image) before a byte is
    written; returns the row and whether it was already there. Idempotent on resend: the same bytes
    for the same incident (a phone that lost the answer and sends again) answer the photo already
    stored, with no second file and no second row; the bytes' SHA-256 is the photo's identity, so
    no client id (and no schema change) is needed."""
    inc = await get_incident(session, p, incident_id)
    checked = photos.check(data, env.settings.photo_max_bytes)
    same = await session.scalar(
        select(IncidentPhoto)
        .where(IncidentPhoto.incident_id == inc.id, IncidentPhoto.sha256 == checked.sha256)
        .order_by(IncidentPhoto.id)
        .limit(1)
    )
    rel = photos.store(env.data_dir, inc.id, checked)  # named by its hash: written once, or again if lost
    if same is not None:
        return same, True
    row = IncidentPhoto(
        incident_id=inc.id,
        path=rel,
        content_type=checked.content_type,
        bytes=len(data),
        sha256=checked.sha256,
        uploaded_by=p.user_id,
        created_at=now,
    )
    session.add(row)
    await session.flush()
    await audit.append(
        session,
        actor,
        "grid.incident.photo",
        at=now,
        target_type="grid_incident",
        target_id=inc.id,
        detail={"photo": row.id, "bytes": len(data)},
    )
    return row, False


async def photo(session: AsyncSession, p: Principal, incident_id: int, photo_id: int) -> IncidentPhoto:
    inc = await get_incident(session, p, incident_id)
    row = await session.get(IncidentPhoto, photo_id)
    if row is None or row.incident_id != inc.id:
        raise refused(NotFound, "photo.not_found")
    return row


# --- the offline batch --------------------------------------------------------------------------

_ITEM: TypeAdapter[SyncCheckIn | SyncVisit | SyncIncident] = TypeAdapter(SyncItem)


async def sync(
    session: AsyncSession,
    p: Principal,
    actor: Actor,
    items: list[dict[str, Any]],
    env: GridEnv,
    now: datetime,
) -> list[SyncResult]:
    """Each queued record in its own savepoint: one bad item is answered "error" and the others are
    stored. A UUID seen before answers "duplicate" with the first record's id; the phone's times are
    kept as sent."""
    results: list[SyncResult] = []
    for raw in items:
        uuid = str(raw.get("uuid", ""))
        kind = str(raw.get("type", ""))
        try:
            item = _ITEM.validate_python(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(x) for x in first.get("loc", ()))
            results.append(
                SyncResult(
                    uuid=uuid,
                    type=kind,
                    status="error",
                    code="invalid",
                    message=f"{where}: {first.get('msg', '')}",
                )
            )
            continue
        try:
            async with session.begin_nested():
                record_id: int
                if isinstance(item, SyncCheckIn):
                    c, dup = await check_in(session, p, item, env, now)
                    record_id = c.id
                elif isinstance(item, SyncVisit):
                    v, dup = await record_visit(session, p, item, env, now)
                    record_id = v.id
                else:
                    i, dup = await report_incident(session, p, actor, item, now)
                    record_id = i.id
        except AppError as exc:
            results.append(
                SyncResult(
                    uuid=item.uuid,
                    type=item.type,
                    status="error",
                    code=exc.code,
                    message=exc.message,
                    **refusal_fields(exc),
                )
            )
            continue
        results.append(
            SyncResult(uuid=item.uuid, type=item.type, status="duplicate" if dup else "ok", id=record_id)
        )
    return results


# --- today --------------------------------------------------------------------------------------


async def today(
    session: AsyncSession, p: Principal, actor: Actor, env: GridEnv, now: datetime
) -> dict[str, Any]:
    """The caller's routes of today with their run and the checkpoints done, and their visit list
    (people assigned to them with today's tasks and their last visit). The list of people is a care
    read and audited."""
    if not allows(p, Permission.patrol):
        raise refused(Forbidden, "forbidden")
    day = geo.local_day(now, env.tz)
    routes = list(
        (
            await session.scalars(
                select(PatrolRoute)
                .where(PatrolRoute.active.is_(True), PatrolRoute.worker_id == p.user_id)
                .order_by(PatrolRoute.id)
            )
        ).all()
    )
    runs = {
        r.route_id: r
        for r in (
            await session.scalars(
                select(RouteRun).where(RouteRun.route_id.in_([r.id for r in routes]), RouteRun.day == day)
            )
        ).all()
    }
    done_by_run = await checked_in(session, [r.id for r in runs.values()])
    done = {rid: done_by_run[run.id] for rid, run in runs.items()}
    route_list = await routes_out(session, routes, done)
    people = list(
        (
            await session.scalars(
                select(CarePerson)
                .where(CarePerson.active.is_(True), CarePerson.worker_id == p.user_id)
                .order_by(CarePerson.id)
            )
        ).all()
    )
    tasks: dict[int, list[GridTask]] = {x.id: [] for x in people}
    for t in (
        await session.scalars(
            select(GridTask).where(
                GridTask.user_id == p.user_id, GridTask.day == day, GridTask.person_id.is_not(None)
            )
        )
    ).all():
        if t.person_id in tasks:
            tasks[t.person_id].append(t)
    last = await last_visits(session, [x.id for x in people])
    start, end = geo.day_bounds(day, env.tz)
    await audit_care_read(session, actor, [x.id for x in people], now)
    return {
        "day": day,
        "routes": [
            {"route": out, "run": run_dict(runs[out["id"]]) if out["id"] in runs else None}
            for out in route_list
        ],
        "visits": [
            {
                "person": person_dict(x, last.get(x.id)),
                "tasks": [task_dict(t) for t in tasks[x.id]],
                "visited_today": x.id in last and start <= last[x.id].at < end,
            }
            for x in people
        ],
    }


def run_dict(run: RouteRun) -> dict[str, Any]:
    return {
        "id": run.id,
        "route_id": run.route_id,
        "day": run.day,
        "state": run.state,
        "checked": run.checked,
        "total": run.total,
        "window_start_at": run.window_start_at,
        "window_end_at": run.window_end_at,
        "missed": run.missed,
    }


def task_dict(t: GridTask) -> dict[str, Any]:
    return {
        "id": t.id,
        "kind": t.kind,
        "day": t.day,
        "person_id": t.person_id,
        "route_id": t.route_id,
        "user_id": t.user_id,
        "due_at": t.due_at,
        "state": t.state,
        "done_at": t.done_at,
    }


# --- "I'm OK" -----------------------------------------------------------------------------------


async def _ok_people(session: AsyncSession, p: Principal) -> list[CarePerson]:
    if p.role is not Role.resident or p.household_id is None:
        return []
    return list(
        (
            await session.scalars(
                select(CarePerson).where(
                    CarePerson.household_id == p.household_id,
                    CarePerson.ok_check.is_(True),
                    CarePerson.active.is_(True),
                )
            )
        ).all()
    )


async def ok_status(session: AsyncSession, p: Principal, env: GridEnv, now: datetime) -> dict[str, Any]:
    """What the TV tile shows: whether this household has an OK check, and whether today's is in."""
    day = geo.local_day(now, env.tz)
    people = await _ok_people(session, p)
    ids = [x.id for x in people]
    answers = set(
        (
            await session.scalars(
                select(OkAnswer.person_id).where(OkAnswer.person_id.in_(ids), OkAnswer.day == day)
            )
        ).all()
    )
    answered = bool(people) and answers >= set(ids)
    return {
        "enabled": bool(people),
        "answered": answered,
        "day": day,
        "deadline": people[0].ok_deadline if people else None,
    }


async def answer_ok(
    session: AsyncSession, p: Principal, actor: Actor, env: GridEnv, now: datetime
) -> dict[str, Any]:
    """报平安 from the TV: today's answer for every OK-checked person of the caller's household (a
    second press the same day changes nothing). Anyone else: 404."""
    people = await _ok_people(session, p)
    if not people:
        raise refused(NotFound, "ok_check.not_found")
    day = geo.local_day(now, env.tz)
    await insert_ignore(
        session,
        OkAnswer,
        [{"person_id": x.id, "day": day, "at": now, "user_id": p.user_id} for x in people],
        ["person_id", "day"],
    )
    await audit.append(
        session,
        actor,
        "grid.ok",
        at=now,
        target_type="household",
        target_id=p.household_id or "",
        detail={"persons": [x.id for x in people], "day": day.isoformat()},
    )
    return {"enabled": True, "answered": True, "day": day, "deadline": people[0].ok_deadline}


# --- coverage -----------------------------------------------------------------------------------


async def village_coverage(session: AsyncSession, p: Principal, region_id: int, ctx: AppContext) -> Coverage:
    """The coverage of a village the caller manages (else 404, like a missing village), with the
    village's active routes; cached until a camera, the village or its routes change."""
    from xueliang.grid import coverage_service
    from xueliang.grid.coverage import route_line

    region = await session.get(Region, region_id)
    if region is None or not may_manage(p, region.path):  # any role: as if the village did not exist
        raise refused(coverage_service.VillageNotFound, "village.not_found")
    lines = (
        await session.execute(
            select(PatrolRoute.id, PatrolRoute.line)
            .where(
                PatrolRoute.active.is_(True), PatrolRoute.region_path.startswith(region.path, autoescape=True)
            )
            .order_by(PatrolRoute.id)
        )
    ).all()
    routes = [route_line(line, route_id=rid) for rid, line in lines]
    cache = ctx.services.get(CoverageCache)
    if cache is None:
        return await coverage_service.village_coverage(session, region_id, routes)
    return await cache.get(session, region_id, routes)
