"""Today's board and the statistics, for staff who manage the grid (in their subtree only).

The board: today's route runs, checkpoints missed (today and yesterday), visits done / open / missed
/ late per worker, open incidents and their age, today's tour slots (done, running, missed...), today's
notices. No care person's data is shown (counts per worker only), so the board is no care
read. Statistics: one row per local day and village (or village and worker), JSON and CSV."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.policy import Permission, Principal, allows
from xueliang.core.errors import AppError, Forbidden, NotFound
from xueliang.grid import geo
from xueliang.grid.errors import refused
from xueliang.grid.models import (
    CarePerson,
    Checkpoint,
    GridNotice,
    GridTask,
    Incident,
    IncidentCategory,
    IncidentState,
    OkAnswer,
    PatrolRoute,
    PatrolTour,
    RouteRun,
    RunState,
    TaskKind,
    TaskState,
    TourRun,
    TourRunState,
    Visit,
)
from xueliang.grid.policy import may_manage
from xueliang.grid.service import run_dict, user_names
from xueliang.regions.models import Region

VISIT_KINDS = (TaskKind.visit, TaskKind.ok_followup)


async def _scope_path(session: AsyncSession, p: Principal, region_id: int | None) -> str:
    if not allows(p, Permission.manage_grid):
        raise refused(Forbidden, "forbidden")
    if region_id is None:
        return p.region_path
    region = await session.get(Region, region_id)
    if region is None or not may_manage(p, region.path):
        raise refused(NotFound, "region.not_found")
    return region.path


async def board(
    session: AsyncSession, p: Principal, tz: ZoneInfo, now: datetime, region_id: int | None = None
) -> dict[str, Any]:
    path = await _scope_path(session, p, region_id)
    day = geo.local_day(now, tz)
    runs = list(
        (
            await session.scalars(
                select(RouteRun)
                .where(RouteRun.day == day, RouteRun.region_path.startswith(path, autoescape=True))
                .order_by(RouteRun.window_start_at)
            )
        ).all()
    )
    closed = list(
        (
            await session.scalars(
                select(RouteRun).where(
                    RouteRun.day >= day - timedelta(days=1),
                    RouteRun.state == RunState.missed,
                    RouteRun.region_path.startswith(path, autoescape=True),
                )
            )
        ).all()
    )
    cp_ids = {cp for r in closed for cp in r.missed}
    cps = {
        c.id: c for c in (await session.scalars(select(Checkpoint).where(Checkpoint.id.in_(cp_ids)))).all()
    }
    route_names = dict(
        (
            await session.execute(
                select(PatrolRoute.id, PatrolRoute.name).where(
                    PatrolRoute.id.in_({r.route_id for r in closed})
                )
            )
        ).all()
    )
    missed = [
        {
            "run_id": r.id,
            "route_id": r.route_id,
            "route_name": route_names.get(r.route_id, ""),
            "checkpoint_id": cp,
            "checkpoint_name": cps[cp].name if cp in cps else "",
            "day": r.day,
        }
        for r in closed
        for cp in r.missed
    ]
    per_worker: dict[int, dict[str, int]] = defaultdict(
        lambda: {"done": 0, "open": 0, "missed": 0, "late": 0}
    )
    for user_id, state in (
        await session.execute(
            select(GridTask.user_id, GridTask.state).where(
                GridTask.day == day,
                GridTask.kind.in_(VISIT_KINDS),
                GridTask.region_path.startswith(path, autoescape=True),
            )
        )
    ).all():
        if user_id is not None:
            per_worker[user_id][str(state)] += 1
    start, end = geo.day_bounds(day, tz)
    for (user_id,) in (
        await session.execute(
            select(Visit.user_id).where(
                Visit.at >= start,
                Visit.at < end,
                Visit.late.is_(True),
                Visit.region_path.startswith(path, autoescape=True),
            )
        )
    ).all():
        per_worker[user_id]["late"] += 1
    names = await user_names(session, set(per_worker))
    incidents = (
        await session.scalars(
            select(Incident)
            .where(
                Incident.state != IncidentState.checked,
                Incident.region_path.startswith(path, autoescape=True),
            )
            .order_by(Incident.reported_at)
            .limit(200)
        )
    ).all()
    notices = (
        await session.scalars(
            select(GridNotice)
            .where(
                GridNotice.region_path.startswith(path, autoescape=True),
                GridNotice.at >= geo.day_start(day, tz),
            )
            .order_by(GridNotice.at.desc(), GridNotice.id.desc())
            .limit(50)
        )
    ).all()
    return {
        "day": day,
        "runs": [run_dict(r) for r in runs],
        "missed_checkpoints": missed,
        "visits": [
            {"user_id": uid, "username": names.get(uid, ""), **counts}
            for uid, counts in sorted(per_worker.items())
        ],
        "open_incidents": [
            {
                "id": i.id,
                "category": i.category,
                "state": i.state,
                "region_id": i.region_id,
                "reported_at": i.reported_at,
                "age_hours": round((now - i.reported_at).total_seconds() / 3600, 1),
            }
            for i in incidents
        ],
        "tours": await _tour_slots(session, path, day, tz, now),
        "notices": [
            {"id": n.id, "kind": n.kind, "text": n.text, "detail": n.detail, "at": n.at} for n in notices
        ],
    }


async def _tour_slots(
    session: AsyncSession, path: str, day: date, tz: ZoneInfo, now: datetime
) -> list[dict[str, Any]]:
    """Each scheduled slot of today: done / running / paused from its run, else missed once the slot
    plus the tour's length (and a grace of 30 min) has passed, else upcoming."""
    tours = (
        await session.scalars(
            select(PatrolTour).where(
                PatrolTour.active.is_(True), PatrolTour.region_path.startswith(path, autoescape=True)
            )
        )
    ).all()
    runs: dict[tuple[int, str], TourRun] = {}
    for run in (
        await session.scalars(
            select(TourRun).where(TourRun.day == day, TourRun.tour_id.in_([t.id for t in tours]))
        )
    ).all():
        best = runs.get((run.tour_id, run.slot))
        if best is None or run.state is TourRunState.done:
            runs[(run.tour_id, run.slot)] = run
    out = []
    for tour in tours:
        length = timedelta(seconds=sum(int(s["seconds"]) for s in tour.steps), minutes=30)
        for slot in tour.times:
            found = runs.get((tour.id, slot))
            if found is not None:
                state = str(found.state)
            elif geo.at_local(day, slot, tz) + length < now:
                state = "missed"
            else:
                state = "upcoming"
            out.append({"tour_id": tour.id, "name": tour.name, "slot": slot, "state": state})
    return out


def _village_of(path: str, depth: int = 3) -> str:
    """The village's path of a row's region path (county/township/village/...): its first 3 codes
    (2: the township, whose station the row then counts for)."""
    parts = [x for x in path.split("/") if x]
    return "/".join(parts[:depth]) + "/"


async def stats(
    session: AsyncSession,
    p: Principal,
    tz: ZoneInfo,
    since: date,
    until: date,
    *,
    by_worker: bool = False,
    region_id: int | None = None,
    weekly: bool = False,
    by_station: bool = False,
) -> list[dict[str, Any]]:
    """Per local day (or ISO week, `weekly`: `day` is its Monday) and village (and worker,
    `by_worker`): route runs and their completion,
    checkpoints missed, visits done / late / missed, "I'm OK" answered, incidents and their time to
    close (and per category: `cat_<category>`), tours done. Days [since, until]. `by_station`: rows per
    township (its station) instead of per village."""
    path = await _scope_path(session, p, region_id)
    if until < since or (until - since).days > 366:
        raise refused(AppError, "stats.bad_range")
    start, end = geo.day_start(since, tz), geo.day_start(until + timedelta(days=1), tz)
    scoped = path

    def key(day: date, region_path: str, user_id: int | None) -> tuple[date, str, int | None]:
        if weekly:  # the week's Monday stands for the week
            day = day - timedelta(days=day.weekday())
        return day, _village_of(region_path, 2 if by_station else 3), user_id if by_worker else None

    rows: dict[tuple[date, str, int | None], dict[str, Any]] = defaultdict(
        lambda: {
            "runs": 0,
            "runs_done": 0,
            "checkpoints_missed": 0,
            "visits_done": 0,
            "visits_late": 0,
            "visits_missed": 0,
            "ok_answered": 0,
            "incidents": 0,
            "incidents_closed": 0,
            "close_hours": [],
            "tours_done": 0,
            **{f"cat_{c.value}": 0 for c in IncidentCategory},
        }
    )
    for run in (
        await session.scalars(
            select(RouteRun).where(
                RouteRun.day >= since,
                RouteRun.day <= until,
                RouteRun.region_path.startswith(scoped, autoescape=True),
            )
        )
    ).all():
        r = rows[key(run.day, run.region_path, run.worker_id)]
        r["runs"] += 1
        r["runs_done"] += run.state is RunState.done
        r["checkpoints_missed"] += len(run.missed)
    for t_day, t_path, t_user in (
        await session.execute(
            select(GridTask.day, GridTask.region_path, GridTask.user_id).where(
                GridTask.day >= since,
                GridTask.day <= until,
                GridTask.kind.in_(VISIT_KINDS),
                GridTask.state == TaskState.missed,
                GridTask.region_path.startswith(scoped, autoescape=True),
            )
        )
    ).all():
        rows[key(t_day, t_path, t_user)]["visits_missed"] += 1
    for v_at, v_path, v_user, v_late in (
        await session.execute(
            select(Visit.at, Visit.region_path, Visit.user_id, Visit.late).where(
                Visit.at >= start, Visit.at < end, Visit.region_path.startswith(scoped, autoescape=True)
            )
        )
    ).all():
        r = rows[key(geo.local_day(v_at, tz), v_path, v_user)]
        r["visits_done"] += 1
        r["visits_late"] += bool(v_late)
    for o_day, o_path, o_worker in (
        await session.execute(
            select(OkAnswer.day, CarePerson.region_path, CarePerson.worker_id)
            .join(CarePerson, CarePerson.id == OkAnswer.person_id)
            .where(
                OkAnswer.day >= since,
                OkAnswer.day <= until,
                CarePerson.region_path.startswith(scoped, autoescape=True),
            )
        )
    ).all():
        rows[key(o_day, o_path, o_worker)]["ok_answered"] += 1
    for inc in (
        await session.scalars(
            select(Incident).where(
                Incident.reported_at >= start,
                Incident.reported_at < end,
                Incident.region_path.startswith(scoped, autoescape=True),
            )
        )
    ).all():
        r = rows[key(geo.local_day(inc.reported_at, tz), inc.region_path, inc.reporter_id)]
        r["incidents"] += 1
        r[f"cat_{IncidentCategory(inc.category).value}"] += 1
        if inc.closed_at is not None:
            r["incidents_closed"] += 1
            r["close_hours"].append((inc.closed_at - inc.reported_at).total_seconds() / 3600)
    for run_day, run_path, run_user in (
        await session.execute(
            select(TourRun.day, TourRun.region_path, TourRun.user_id).where(
                TourRun.day >= since,
                TourRun.day <= until,
                TourRun.state == TourRunState.done,
                TourRun.region_path.startswith(scoped, autoescape=True),
            )
        )
    ).all():
        rows[key(run_day, run_path, run_user)]["tours_done"] += 1
    villages = {
        r.path: r
        for r in (await session.scalars(select(Region).where(Region.path.in_({k[1] for k in rows})))).all()
    }
    names = await user_names(session, {k[2] for k in rows if k[2] is not None})
    out = []
    for (day, vpath, user_id), r in sorted(rows.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or 0)):
        region = villages.get(vpath)
        hours = r.pop("close_hours")
        out.append(
            {
                "day": day,
                "region_id": region.id if region else 0,
                "region_name": region.name if region else vpath,
                "user_id": user_id,
                "username": names.get(user_id, "") if user_id is not None else "",
                **r,
                "close_hours_avg": round(sum(hours) / len(hours), 2) if hours else None,
            }
        )
    return out


CSV_FIELDS = [
    "day",
    "region_id",
    "region_name",
    "user_id",
    "username",
    "runs",
    "runs_done",
    "checkpoints_missed",
    "visits_done",
    "visits_late",
    "visits_missed",
    "ok_answered",
    "incidents",
    "incidents_closed",
    "close_hours_avg",
    "tours_done",
    *(f"cat_{c.value}" for c in IncidentCategory),
]


def to_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if row.get(k) is None else row[k] for k in CSV_FIELDS})
    return buf.getvalue()
