"""Daily work on the core's durable timers: route runs, visit tasks and OK checks for today and
tomorrow (local days in the node's time zone), and what happens when their times pass.

Exactly once without locks: every run, task, timer and notice has a unique key ("run:<route>:<day>",
"visit:<person>:<day>", "grid.ok:<person>:<day>", ...) and is written with insert-or-ignore, so a
restart, a missed midnight (the start-up pass and the next daily timer catch up) or two processes
generating at once leave one row per key. Only the near future is generated: today and tomorrow.

Timer kinds:
- grid.daily: generation (and the GPS track retention), then the next one at the next local midnight;
- grid.run_close: route windows closed (one timer per day and window end): unvisited checkpoints
  are missed, each a notice;
- grid.ok_check: an "I'm OK" deadline (one timer per day and deadline time): no answer -> a
  follow-up visit task due within 2 h;
- grid.task_due: the day's visits (or a batch of follow-ups) fall due: those not done are missed,
  and the village's duty officer is told (a notice, pushed)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.core.timers import Timer
from xueliang.grid import geo
from xueliang.grid.config import GridSettings
from xueliang.grid.models import (
    CarePerson,
    CheckIn,
    Checkpoint,
    GridNotice,
    GridTask,
    OkAnswer,
    PatrolRoute,
    RouteRun,
    RunState,
    TaskKind,
    TaskState,
    Visit,
    VisitOutcome,
)
from xueliang.grid.push import grid_event
from xueliang.grid.service import VISIT_WINDOW_END, checked_in, run_row
from xueliang.grid.sql import insert_ignore
from xueliang.notify.hub import Event

DAILY = "grid.daily"
RUN_CLOSE = "grid.run_close"
OK_CHECK = "grid.ok_check"
TASK_DUE = "grid.task_due"
KINDS = (DAILY, RUN_CLOSE, OK_CHECK, TASK_DUE)

Publish = Callable[[list[Event]], Awaitable[None]]


def visit_due_on(person_id: int, every_days: int, day: date) -> bool:
    """Daily by default; every n days on a fixed phase per person, so the load spreads over days."""
    every = max(1, every_days)
    return day.toordinal() % every == person_id % every


def _timer(kind: str, key: str, due_at: datetime, payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": kind,
        "key": key,
        "due_at": due_at,
        "payload": payload,
        "done": False,
        "attempts": 0,
        "last_error": "",
    }


def _task(
    kind: TaskKind,
    key: str,
    day: date,
    region_path: str,
    user_id: int | None,
    due_at: datetime,
    now: datetime,
    *,
    person_id: int | None = None,
    route_id: int | None = None,
) -> dict[str, Any]:
    return {
        "key": key,
        "kind": kind,
        "day": day,
        "region_path": region_path,
        "user_id": user_id,
        "person_id": person_id,
        "route_id": route_id,
        "due_at": due_at,
        "state": TaskState.open,
        "created_at": now,
    }


async def generate(session: AsyncSession, now: datetime, tz: ZoneInfo, horizon_days: int = 1) -> int:
    """Runs, tasks and their timers for today .. today + horizon (local days), and the next daily
    timer. Returns the number of rows offered (inserts of existing keys are ignored)."""
    today = geo.local_day(now, tz)
    days = [today + timedelta(days=n) for n in range(horizon_days + 1)]
    routes = list(
        (
            await session.scalars(
                select(PatrolRoute).where(PatrolRoute.active.is_(True), PatrolRoute.worker_id.is_not(None))
            )
        ).all()
    )
    totals = dict(
        (
            await session.execute(
                select(Checkpoint.route_id, func.count())
                .where(Checkpoint.active.is_(True))
                .group_by(Checkpoint.route_id)
            )
        ).all()
    )
    people = (
        await session.execute(
            select(
                CarePerson.id,
                CarePerson.region_path,
                CarePerson.worker_id,
                CarePerson.visit_every_days,
                CarePerson.ok_check,
                CarePerson.ok_deadline,
            ).where(CarePerson.active.is_(True), CarePerson.worker_id.is_not(None))
        )
    ).all()
    runs: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    timers: list[dict[str, Any]] = []
    for day in days:
        iso = day.isoformat()
        for route in routes:
            if day.isoweekday() not in route.days:
                continue
            row = run_row(route, day, tz, int(totals.get(route.id, 0)))
            runs.append(row)
            end = row["window_end_at"]
            key = f"run:{route.id}:{iso}"
            tasks.append(
                _task(
                    TaskKind.route_run,
                    key,
                    day,
                    route.region_path,
                    route.worker_id,
                    end,
                    now,
                    route_id=route.id,
                )
            )
            # one timer per day and window end closes every run that ends then (not one per route)
            payload = {"day": iso, "window_end": route.window_end}
            timers.append(_timer(RUN_CLOSE, f"{RUN_CLOSE}:{iso}:{route.window_end}", end, payload))
        visit_due = geo.at_local(day, VISIT_WINDOW_END, tz)
        deadlines: set[str] = set()
        any_visit = False
        for pid, path, worker, every, ok_check, deadline in people:
            if visit_due_on(pid, every, day):
                key = f"visit:{pid}:{iso}"
                tasks.append(_task(TaskKind.visit, key, day, path, worker, visit_due, now, person_id=pid))
                any_visit = True
            if ok_check:
                deadlines.add(deadline)
        if any_visit:  # one timer a day settles every visit task of the day, not one per person
            payload = {"day": iso, "kind": TaskKind.visit.value}
            timers.append(_timer(TASK_DUE, f"{TASK_DUE}:visit:{iso}", visit_due, payload))
        for deadline in sorted(deadlines):
            due = geo.at_local(day, deadline, tz)
            timers.append(
                _timer(OK_CHECK, f"grid.ok:{iso}:{deadline}", due, {"day": iso, "deadline": deadline})
            )
    tomorrow = today + timedelta(days=1)
    timers.append(_timer(DAILY, f"{DAILY}:{tomorrow.isoformat()}", geo.day_start(tomorrow, tz), {}))
    await insert_ignore(session, RouteRun, runs, ["route_id", "day"])
    await insert_ignore(session, GridTask, tasks, ["key"])
    await insert_ignore(session, Timer, timers, ["key"])
    return len(runs) + len(tasks) + len(timers)


async def purge_tracks(session: AsyncSession, now: datetime, retention_days: int) -> int:
    """GPS tracks are kept `retention_days` (30) and then deleted: check-ins go, visits keep their
    record but lose their position."""
    cutoff = now - timedelta(days=retention_days)
    gone = await session.execute(delete(CheckIn).where(CheckIn.at < cutoff))
    await session.execute(
        update(Visit).where(Visit.at < cutoff, Visit.lat.is_not(None)).values(lat=None, lon=None)
    )
    return int(getattr(gone, "rowcount", 0) or 0)


def notice_event(notice: dict[str, Any]) -> Event:
    body = {"notice": {k: notice[k] for k in ("kind", "text", "detail", "at")}}
    return grid_event("notice", notice["region_path"], body, [notice["detail"].get("user_id")])


async def _notices(session: AsyncSession, rows: list[dict[str, Any]]) -> list[Event]:
    """Stores notices (one per key: a re-fired timer adds none) and returns their hub events."""
    if not rows:
        return []
    existing = set(
        (
            await session.scalars(select(GridNotice.key).where(GridNotice.key.in_([r["key"] for r in rows])))
        ).all()
    )
    fresh = [r for r in rows if r["key"] not in existing]
    await insert_ignore(session, GridNotice, fresh, ["key"])
    return [notice_event(r) for r in fresh]


async def close_runs(session: AsyncSession, day: date, now: datetime) -> list[Event]:
    """Every run of the day whose window has ended and that is not closed yet."""
    rows = (
        await session.execute(
            select(RouteRun.route_id).where(
                RouteRun.day == day, RouteRun.window_end_at <= now, RouteRun.closed_at.is_(None)
            )
        )
    ).all()
    events: list[Event] = []
    for (route_id,) in rows:
        events += await close_run(session, route_id, day, now)
    return events


async def close_run(session: AsyncSession, route_id: int, day: date, now: datetime) -> list[Event]:
    run = (
        await session.scalars(select(RouteRun).where(RouteRun.route_id == route_id, RouteRun.day == day))
    ).first()
    if run is None or run.closed_at is not None:
        return []
    route = await session.get(PatrolRoute, route_id)
    cps = list(
        (
            await session.scalars(
                select(Checkpoint)
                .where(Checkpoint.route_id == route_id, Checkpoint.active.is_(True))
                .order_by(Checkpoint.seq)
            )
        ).all()
    )
    done = (await checked_in(session, [run.id]))[run.id]
    missed = [cp for cp in cps if cp.id not in done]
    run.total, run.checked = len(cps), len(cps) - len(missed)
    run.missed = [cp.id for cp in missed]
    run.state = RunState.missed if missed else RunState.done
    run.closed_at = now
    await session.execute(
        update(GridTask)
        .where(GridTask.key == f"run:{route_id}:{day.isoformat()}", GridTask.state == TaskState.open)
        .values(state=TaskState.missed if missed else TaskState.done, done_at=now)
    )
    name = route.name if route else str(route_id)
    return await _notices(
        session,
        [
            {
                "key": f"cp:{cp.id}:{day.isoformat()}",
                "kind": "missed_checkpoint",
                "region_path": run.region_path,
                "text": f"巡查点未到 / checkpoint missed: {name} · {cp.seq}. {cp.name}",
                "detail": {
                    "route_id": route_id,
                    "checkpoint_id": cp.id,
                    "run_id": run.id,
                    "day": day.isoformat(),
                },
                "at": now,
            }
            for cp in missed
        ],
    )


async def ok_deadline(
    session: AsyncSession, day: date, deadline: str, now: datetime, tz: ZoneInfo, followup_minutes: int
) -> int:
    """Everyone whose "I'm OK" deadline this is and who neither answered nor was seen today gets a
    follow-up visit task for their worker, due within `followup_minutes` (2 h); one timer settles
    the batch. Returns how many follow-ups were made."""
    people = (
        await session.execute(
            select(CarePerson.id, CarePerson.region_path, CarePerson.worker_id).where(
                CarePerson.active.is_(True),
                CarePerson.ok_check.is_(True),
                CarePerson.worker_id.is_not(None),
                CarePerson.ok_deadline == deadline,
            )
        )
    ).all()
    if not people:
        return 0
    ids = [pid for pid, _, _ in people]
    answered = set(
        (
            await session.scalars(
                select(OkAnswer.person_id).where(OkAnswer.person_id.in_(ids), OkAnswer.day == day)
            )
        ).all()
    )
    start, end = geo.day_bounds(day, tz)
    seen = set(
        (
            await session.scalars(
                select(Visit.person_id).where(
                    Visit.person_id.in_(ids),
                    Visit.at >= start,
                    Visit.at < end,
                    Visit.outcome == VisitOutcome.seen,
                )
            )
        ).all()
    )
    due = now + timedelta(minutes=followup_minutes)
    iso = day.isoformat()
    rows = [
        _task(TaskKind.ok_followup, f"ok_followup:{pid}:{iso}", day, path, worker, due, now, person_id=pid)
        for pid, path, worker in people
        if pid not in answered and pid not in seen
    ]
    await insert_ignore(session, GridTask, rows, ["key"])
    if rows:
        payload = {"day": iso, "kind": TaskKind.ok_followup.value}
        key = f"{TASK_DUE}:ok_followup:{iso}:{deadline}"
        await insert_ignore(session, Timer, [_timer(TASK_DUE, key, due, payload)], ["key"])
    return len(rows)


async def task_due(session: AsyncSession, day: date, kind: TaskKind, now: datetime) -> list[Event]:
    """Visits or OK follow-ups of that day still open at their due time: missed, and the village is
    told (a stored notice and a push), one notice per task."""
    due = list(
        (
            await session.scalars(
                select(GridTask).where(
                    GridTask.day == day,
                    GridTask.kind == kind,
                    GridTask.state == TaskState.open,
                    GridTask.due_at <= now,
                )
            )
        ).all()
    )
    if not due:
        return []
    await session.execute(
        update(GridTask).where(GridTask.id.in_([t.id for t in due])).values(state=TaskState.missed)
    )
    followup = kind is TaskKind.ok_followup
    text = "报平安未回复且未上门 / no OK and no follow-up visit" if followup else "走访未完成 / visit missed"
    return await _notices(
        session,
        [
            {
                "key": f"task:{t.key}",
                "kind": "missed_followup" if followup else "missed_visit",
                "region_path": t.region_path,
                "text": text,
                "detail": {
                    "task_id": t.id,
                    "person_id": t.person_id,
                    "user_id": t.user_id,
                    "day": day.isoformat(),
                },
                "at": now,
            }
            for t in due
        ],
    )


async def on_timer(
    session: AsyncSession, timer: Timer, now: datetime, tz: ZoneInfo, settings: GridSettings
) -> list[Event]:
    """One grid timer, inside the runner's transaction; returns the events to push after commit."""
    p = timer.payload
    if timer.kind == DAILY:
        await generate(session, now, tz, settings.horizon_days)
        await purge_tracks(session, now, settings.track_retention_days)
        return []
    if timer.kind == RUN_CLOSE:
        return await close_runs(session, date.fromisoformat(p["day"]), now)
    if timer.kind == OK_CHECK:
        await ok_deadline(
            session, date.fromisoformat(p["day"]), str(p["deadline"]), now, tz, settings.ok_followup_minutes
        )
        return []
    if timer.kind == TASK_DUE:
        return await task_due(session, date.fromisoformat(p["day"]), TaskKind(p["kind"]), now)
    return []
