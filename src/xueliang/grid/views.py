"""The grid API under /api/v1/grid. Thin: scope, rules and audit live in service.py, tours.py and
board.py; a route commits each change before it answers. A record sent again with its UUID is
answered 200 with the first record (`duplicate: true`), a new one 201."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, File, Query, Response, UploadFile
from fastapi.responses import FileResponse

from xueliang.accounts.deps import Ctx, CurrentCaller, Session, require
from xueliang.accounts.policy import Permission
from xueliang.core.bounds import PathId, QueryId
from xueliang.core.context import AppContext
from xueliang.core.errors import AppError, NotFound
from xueliang.grid import board, geo, service, tours
from xueliang.grid.config import GridSettings
from xueliang.grid.errors import refused
from xueliang.grid.models import CareKind, Incident, TourRunState
from xueliang.grid.push import grid_event, publish
from xueliang.grid.schemas import (
    BoardOut,
    CarePersonDetail,
    CarePersonIn,
    CarePersonOut,
    CheckInIn,
    CheckInOut,
    IncidentIn,
    IncidentOut,
    MarkIn,
    MarkOut,
    OkStatus,
    RouteIn,
    RouteOut,
    StatsRow,
    SyncIn,
    SyncOut,
    TodayOut,
    TourIn,
    TourOut,
    TourRunIn,
    TourRunOut,
    TransitionIn,
    VisitIn,
    VisitOut,
)
from xueliang.grid.tiles import router as tiles_router
from xueliang.grid.ws import router as ws_router
from xueliang.notify.hub import Event

router = APIRouter(prefix="/grid", tags=["grid"])
router.include_router(ws_router)
router.include_router(tiles_router)


def env_of(ctx: AppContext) -> service.GridEnv:
    return service.GridEnv(
        tz=ZoneInfo(ctx.settings.timezone),
        secret=ctx.secret,
        data_dir=ctx.settings.data_dir,
        settings=ctx.services.require(GridSettings),
    )


def _incident_event(name: str, inc: Incident) -> Event:
    out = {"incident_id": inc.id, "state": inc.state, "category": inc.category, "region_id": inc.region_id}
    return grid_event(name, inc.region_path, out, [inc.reporter_id, inc.assignee_id])


async def _still(ctx: AppContext, camera_id: int) -> bytes | None:
    """The camera's latest keyframe as a JPEG from the media plane (media/still.py), or None: media
    off, camera offline, no keyframe yet."""
    from xueliang.media.plane import MediaPlane  # the media plane only when a snapshot is taken
    from xueliang.media.still import NoPicture

    plane = ctx.services.get(MediaPlane)
    if plane is None:
        return None
    try:
        return (await plane.stills.get(camera_id)).jpeg
    except NoPicture:
        return None


def _created(response: Response, duplicate: bool) -> None:
    response.status_code = 200 if duplicate else 201


# --- today, check-ins, visits, offline batch ----------------------------------------------------


@router.get("/today", response_model=TodayOut)
async def today(caller: CurrentCaller, ctx: Ctx, session: Session) -> dict[str, Any]:
    """The grid worker's routes of today (checkpoints done) and visit list."""
    out = await service.today(session, caller.principal, caller.actor, env_of(ctx), ctx.clock.now())
    await session.commit()  # the audit row of the care read
    return out


@router.post("/checkins", response_model=CheckInOut, status_code=201)
async def check_in(
    body: CheckInIn, caller: CurrentCaller, ctx: Ctx, session: Session, response: Response
) -> Any:
    row, dup = await service.check_in(session, caller.principal, body, env_of(ctx), ctx.clock.now())
    await session.commit()
    _created(response, dup)
    if not dup:
        out = {
            "route_id": row.route_id,
            "run_id": row.run_id,
            "checkpoint_id": row.checkpoint_id,
            "user_id": row.user_id,
        }
        await publish(ctx, [grid_event("checkin", row.region_path, out, [row.user_id])])
    return service.checkin_dict(row, dup)


@router.post("/visits", response_model=VisitOut, status_code=201)
async def record_visit(
    body: VisitIn, caller: CurrentCaller, ctx: Ctx, session: Session, response: Response
) -> Any:
    row, dup = await service.record_visit(session, caller.principal, body, env_of(ctx), ctx.clock.now())
    await session.commit()
    _created(response, dup)
    if not dup:
        out = {"person_id": row.person_id, "user_id": row.user_id, "late": row.late, "outcome": row.outcome}
        await publish(ctx, [grid_event("visit", row.region_path, out, [row.user_id])])
    return service.visit_dict(row, dup)


@router.post("/sync", response_model=SyncOut)
async def sync(body: SyncIn, caller: CurrentCaller, ctx: Ctx, session: Session) -> SyncOut:
    """The phone's offline queue: check-ins, visits and incidents, each with its UUID. Each item is
    answered ok / duplicate / error; a resend never makes a second record; times are kept as sent."""
    require(caller, Permission.report_incident)
    results = await service.sync(
        session, caller.principal, caller.actor, body.items, env_of(ctx), ctx.clock.now()
    )
    await session.commit()
    stored = sum(r.status == "ok" for r in results)
    if stored:
        out = {"user_id": caller.user.id, "stored": stored}
        await publish(ctx, [grid_event("sync", caller.principal.region_path, out, [caller.user.id])])
    return SyncOut(results=results)


# --- routes -------------------------------------------------------------------------------------


@router.get("/routes", response_model=list[RouteOut])
async def list_routes(caller: CurrentCaller, session: Session, region_id: QueryId | None = None) -> Any:
    return await service.routes_out(session, await service.list_routes(session, caller.principal, region_id))


@router.post("/routes", response_model=RouteOut, status_code=201)
async def create_route(body: RouteIn, caller: CurrentCaller, ctx: Ctx, session: Session) -> Any:
    require(caller, Permission.manage_grid)
    route = await service.create_route(session, caller.principal, caller.actor, body, ctx.clock.now())
    await session.commit()
    return (await service.routes_out(session, [route]))[0]


@router.get("/routes/{route_id}", response_model=RouteOut)
async def get_route(route_id: PathId, caller: CurrentCaller, session: Session) -> Any:
    route = await service.get_route(session, caller.principal, route_id)
    return (await service.routes_out(session, [route]))[0]


@router.put("/routes/{route_id}", response_model=RouteOut)
async def update_route(
    route_id: PathId, body: RouteIn, caller: CurrentCaller, ctx: Ctx, session: Session
) -> Any:
    route = await service.update_route(
        session, caller.principal, caller.actor, route_id, body, ctx.clock.now()
    )
    await session.commit()
    return (await service.routes_out(session, [route]))[0]


@router.delete("/routes/{route_id}", status_code=204)
async def delete_route(route_id: PathId, caller: CurrentCaller, ctx: Ctx, session: Session) -> Response:
    await service.retire_route(session, caller.principal, caller.actor, route_id, ctx.clock.now())
    await session.commit()
    return Response(status_code=204)


@router.get("/routes/{route_id}/qr.png", response_class=Response)
async def route_qr(route_id: PathId, caller: CurrentCaller, ctx: Ctx, session: Session) -> Response:
    """One printable PNG sheet with the route's checkpoint QR codes (signed payloads)."""
    png = await service.qr_sheet(session, caller.principal, route_id, ctx.secret)
    headers = {"Content-Disposition": f'inline; filename="route-{route_id}-qr.png"'}
    return Response(png, media_type="image/png", headers=headers)


# --- care registry ------------------------------------------------------------------------------


@router.get("/care", response_model=list[CarePersonOut])
async def list_care(
    caller: CurrentCaller,
    ctx: Ctx,
    session: Session,
    region_id: QueryId | None = None,
    kind: CareKind | None = None,
) -> Any:
    """The care registry in the caller's reach; the read is audited."""
    out = await service.list_care(
        session, caller.principal, caller.actor, ctx.clock.now(), region_id=region_id, kind=kind
    )
    await session.commit()
    return out


@router.post("/care", response_model=CarePersonOut, status_code=201)
async def create_care(body: CarePersonIn, caller: CurrentCaller, ctx: Ctx, session: Session) -> Any:
    require(caller, Permission.manage_grid)
    person = await service.create_care(session, caller.principal, caller.actor, body, ctx.clock.now())
    await session.commit()
    return service.person_dict(person, None)


@router.get("/care/{person_id}", response_model=CarePersonDetail)
async def get_care(person_id: PathId, caller: CurrentCaller, ctx: Ctx, session: Session) -> Any:
    out = await service.get_care(session, caller.principal, caller.actor, person_id, ctx.clock.now())
    await session.commit()
    return out


@router.put("/care/{person_id}", response_model=CarePersonOut)
async def update_care(
    person_id: PathId, body: CarePersonIn, caller: CurrentCaller, ctx: Ctx, session: Session
) -> Any:
    person = await service.update_care(
        session, caller.principal, caller.actor, person_id, body, ctx.clock.now()
    )
    await session.commit()
    return service.person_dict(person, None)


# --- incidents ----------------------------------------------------------------------------------


@router.get("/incidents", response_model=list[IncidentOut])
async def list_incidents(
    caller: CurrentCaller,
    session: Session,
    open: bool = Query(default=False, description="only incidents not yet checked"),
    region_id: QueryId | None = None,
) -> Any:
    rows = await service.list_incidents(session, caller.principal, open_only=open, region_id=region_id)
    return [await service.incident_dict(session, i) for i in rows]


@router.post("/incidents", response_model=IncidentOut, status_code=201)
async def report_incident(
    body: IncidentIn, caller: CurrentCaller, ctx: Ctx, session: Session, response: Response
) -> Any:
    inc, dup = await service.report_incident(session, caller.principal, caller.actor, body, ctx.clock.now())
    await session.commit()
    _created(response, dup)
    if not dup:
        await publish(ctx, [_incident_event("incident_reported", inc)])
    return await service.incident_dict(session, inc, dup)


@router.get("/incidents/{incident_id}", response_model=IncidentOut)
async def get_incident(incident_id: PathId, caller: CurrentCaller, session: Session) -> Any:
    return await service.incident_dict(
        session, await service.get_incident(session, caller.principal, incident_id)
    )


@router.post("/incidents/{incident_id}/transition", response_model=IncidentOut)
async def transition(
    incident_id: PathId, body: TransitionIn, caller: CurrentCaller, ctx: Ctx, session: Session
) -> Any:
    inc = await service.transition(
        session, caller.principal, caller.actor, incident_id, body, ctx.clock.now()
    )
    await session.commit()
    await publish(ctx, [_incident_event("incident_changed", inc)])
    return await service.incident_dict(session, inc)


@router.post("/incidents/{incident_id}/photos", status_code=201)
async def add_photo(
    incident_id: PathId,
    caller: CurrentCaller,
    ctx: Ctx,
    session: Session,
    response: Response,
    file: UploadFile = File(...),
) -> dict[str, Any]:
    """A photo from the phone's camera input: at most 10 MB, and really an image (413 / 400). The
    same photo sent again answers 200 with the first one (`duplicate: true`), a new one 201."""
    env = env_of(ctx)
    data = await file.read(env.settings.photo_max_bytes + 1)
    row, duplicate = await service.add_photo(
        session, caller.principal, caller.actor, incident_id, data, env, ctx.clock.now()
    )
    await session.commit()
    _created(response, duplicate)
    return {
        "id": row.id,
        "incident_id": row.incident_id,
        "content_type": row.content_type,
        "bytes": row.bytes,
        "duplicate": duplicate,
    }


@router.get("/incidents/{incident_id}/photos/{photo_id}", response_class=FileResponse)
async def get_photo(
    incident_id: PathId, photo_id: PathId, caller: CurrentCaller, ctx: Ctx, session: Session
) -> Any:
    """Served only to those who may read the incident (staff in scope, its reporter and assignee)."""
    row = await service.photo(session, caller.principal, incident_id, photo_id)
    path = Path(ctx.settings.data_dir) / row.path
    if not path.is_file():
        raise refused(NotFound, "photo.not_found")
    return FileResponse(path, media_type=row.content_type, headers={"Cache-Control": "private, no-store"})


# --- "I'm OK" (TV) ------------------------------------------------------------------------------


@router.get("/ok", response_model=OkStatus)
async def ok_status(caller: CurrentCaller, ctx: Ctx, session: Session) -> Any:
    return await service.ok_status(session, caller.principal, env_of(ctx), ctx.clock.now())


@router.post("/ok", response_model=OkStatus)
async def answer_ok(caller: CurrentCaller, ctx: Ctx, session: Session) -> Any:
    """报平安: a resident whose household has an OK-checked person; anyone else 404."""
    out = await service.answer_ok(session, caller.principal, caller.actor, env_of(ctx), ctx.clock.now())
    await session.commit()
    return out


# --- video patrol tours -------------------------------------------------------------------------


@router.get("/tours", response_model=list[TourOut])
async def list_tours(caller: CurrentCaller, session: Session) -> Any:
    return [tours.tour_dict(t) for t in await tours.list_tours(session, caller.principal)]


@router.post("/tours", response_model=TourOut, status_code=201)
async def create_tour(body: TourIn, caller: CurrentCaller, ctx: Ctx, session: Session) -> Any:
    require(caller, Permission.manage_grid)
    tour = await tours.create_tour(session, caller.principal, caller.actor, body, ctx.clock.now())
    await session.commit()
    return tours.tour_dict(tour)


@router.get("/tours/{tour_id}", response_model=TourOut)
async def get_tour(tour_id: PathId, caller: CurrentCaller, session: Session) -> Any:
    return tours.tour_dict(await tours.get_tour(session, caller.principal, tour_id))


@router.put("/tours/{tour_id}", response_model=TourOut)
async def update_tour(
    tour_id: PathId, body: TourIn, caller: CurrentCaller, ctx: Ctx, session: Session
) -> Any:
    tour = await tours.update_tour(session, caller.principal, caller.actor, tour_id, body, ctx.clock.now())
    await session.commit()
    return tours.tour_dict(tour)


@router.post("/tours/{tour_id}/runs", response_model=TourRunOut, status_code=201)
async def start_tour(
    tour_id: PathId, body: TourRunIn, caller: CurrentCaller, ctx: Ctx, session: Session
) -> Any:
    tz = ZoneInfo(ctx.settings.timezone)
    run = await tours.start_run(
        session, caller.principal, caller.actor, tour_id, body.slot, tz, ctx.clock.now()
    )
    await session.commit()
    out = {"run_id": run.id, "tour_id": run.tour_id, "state": run.state, "slot": run.slot}
    await publish(ctx, [grid_event("tour_run", run.region_path, out)])
    return await tours.run_dict(session, run)


@router.get("/tour-runs/{run_id}", response_model=TourRunOut)
async def get_tour_run(run_id: PathId, caller: CurrentCaller, session: Session) -> Any:
    return await tours.run_dict(session, await tours.get_run(session, caller.principal, run_id))


@router.post("/tour-runs/{run_id}/marks", response_model=MarkOut)
async def mark_camera(run_id: PathId, body: MarkIn, caller: CurrentCaller, ctx: Ctx, session: Session) -> Any:
    """normal / abnormal for one camera of the run; abnormal opens an incident, with the camera's
    latest picture as its photo where the media plane has one."""
    row = await tours.mark(session, caller.principal, caller.actor, run_id, body, ctx.clock.now())
    await session.commit()
    if row.incident_id is not None and await tours.without_photo(session, row.incident_id):
        jpeg = await _still(ctx, row.camera_id)
        if jpeg is not None:
            try:
                await service.add_photo(
                    session,
                    caller.principal,
                    caller.actor,
                    row.incident_id,
                    jpeg,
                    env_of(ctx),
                    ctx.clock.now(),
                )
                await session.commit()
            except AppError:  # a picture that fails the photo checks: the incident stands without it
                await session.rollback()
    run = await tours.get_run(session, caller.principal, run_id)
    out = {"run_id": run_id, "camera_id": row.camera_id, "mark": row.mark, "incident_id": row.incident_id}
    await publish(ctx, [grid_event("tour_mark", run.region_path, out)])
    return {
        "camera_id": row.camera_id,
        "mark": row.mark,
        "note": row.note,
        "at": row.at,
        "incident_id": row.incident_id,
    }


@router.post("/tour-runs/{run_id}/{state}", response_model=TourRunOut)
async def set_tour_state(
    run_id: PathId, state: TourRunState, caller: CurrentCaller, ctx: Ctx, session: Session
) -> Any:
    """Pause (paused), resume (running) or finish (done) a tour run."""
    run = await tours.set_state(session, caller.principal, run_id, state, ctx.clock.now())
    await session.commit()
    out = {"run_id": run.id, "tour_id": run.tour_id, "state": run.state, "slot": run.slot}
    await publish(ctx, [grid_event("tour_run", run.region_path, out)])
    return await tours.run_dict(session, run)


# --- coverage (盲区分析) -------------------------------------------------------------------------


@router.get("/coverage")
async def coverage(region_id: QueryId, caller: CurrentCaller, ctx: Ctx, session: Session) -> dict[str, Any]:
    """A village's coverage by the cameras' fields of view and a 30 m buffer around its active patrol
    routes: percentages of area, settlements and households, the blind spots as GeoJSON and the
    households neither covers (grid/coverage.py). Staff who manage the village; audited, as it names
    households."""
    from xueliang.grid import coverage_service  # shapely and numpy only where coverage is asked for

    result = await service.village_coverage(session, caller.principal, region_id, ctx)
    await coverage_service.audit_read(session, caller.actor, result, now=ctx.clock.now())
    await session.commit()
    return result.to_json()


# --- board and statistics -----------------------------------------------------------------------


@router.get("/board", response_model=BoardOut)
async def get_board(
    caller: CurrentCaller, ctx: Ctx, session: Session, region_id: QueryId | None = None
) -> Any:
    return await board.board(
        session, caller.principal, ZoneInfo(ctx.settings.timezone), ctx.clock.now(), region_id
    )


async def _stats(
    caller: CurrentCaller,
    ctx: Ctx,
    session: Session,
    since: date | None = None,
    until: date | None = None,
    by: str = Query(default="village", pattern="^(village|worker|station)$"),
    period: str = Query(default="day", pattern="^(day|week)$"),
    region_id: QueryId | None = None,
) -> tuple[list[dict[str, Any]], str]:
    """The statistics both routes answer (JSON and CSV), and the file name's stem; default the last 7
    local days."""
    tz = ZoneInfo(ctx.settings.timezone)
    end = until or geo.local_day(ctx.clock.now(), tz)
    start = since or end - timedelta(days=6)
    rows = await board.stats(
        session,
        caller.principal,
        tz,
        start,
        end,
        by_worker=by == "worker",
        region_id=region_id,
        weekly=period == "week",
        by_station=by == "station",
    )
    return rows, f"grid-stats-{by}-{period}"


Stats = Annotated[tuple[list[dict[str, Any]], str], Depends(_stats)]


@router.get("/stats", response_model=list[StatsRow])
async def get_stats(stats: Stats) -> Any:
    """Per local day and village (or worker)."""
    return stats[0]


@router.get("/stats.csv", response_class=Response)
async def get_stats_csv(stats: Stats) -> Response:
    rows, stem = stats
    headers = {"Content-Disposition": f'attachment; filename="{stem}.csv"'}
    return Response("\ufeff" + board.to_csv(rows), media_type="text/csv; charset=utf-8", headers=headers)
