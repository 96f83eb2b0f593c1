"""Daily task generation on local days (Asia/Shanghai): across local midnight, after a restart that
skipped midnights, and with generators running at once (PostgreSQL: two engines racing), each leaving
exactly one task per key; and what the timers do: "I'm OK" deadlines, follow-ups falling due, route
windows closing (missed checkpoints), notices to the station."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from sqlalchemy import func, select
from tests.grid.conftest import local
from tests.support.alarms import ctx_of, logins_to, runner
from tests.support.app import make_settings

from xueliang.accounts.models import User
from xueliang.accounts.service import principal_for
from xueliang.alarms.push import audience_for
from xueliang.app import create_app
from xueliang.core.clock import ManualClock
from xueliang.core.db import Database
from xueliang.core.timers import Timer
from xueliang.grid import tasks
from xueliang.grid.events import GridNoticeRaised
from xueliang.grid.models import (
    CarePerson,
    CheckIn,
    Checkpoint,
    GridNotice,
    GridTask,
    PatrolRoute,
    Proof,
    RouteRun,
    TaskKind,
    TaskState,
    Visit,
    VisitOutcome,
)
from xueliang.notify.hub import Hub

TZ = ZoneInfo("Asia/Shanghai")
API = "/api/v1/grid"


def app_at(url: str, tmp: Path, clock: ManualClock) -> FastAPI:
    return create_app(make_settings(url, tmp, timer_loop=False), clock=clock, migrate_on_start=False)


async def expected_per_day(db: Database) -> tuple[int, int]:
    """(people with a worker, active routes): every day runs daily in the demo county."""
    async with db.read_session() as s:
        people = (
            await s.execute(
                select(func.count()).select_from(CarePerson).where(CarePerson.worker_id.is_not(None))
            )
        ).scalar_one()
        routes = (
            await s.execute(select(func.count()).select_from(PatrolRoute).where(PatrolRoute.active.is_(True)))
        ).scalar_one()
    return int(people), int(routes)


async def tasks_by_day(db: Database, first: date) -> dict[date, Counter[str]]:
    """Tasks from `first` on: per day, how many of each kind; and no (kind, object, day) twice."""
    async with db.read_session() as s:
        rows = (
            await s.execute(
                select(GridTask.day, GridTask.kind, GridTask.person_id, GridTask.route_id).where(
                    GridTask.day >= first
                )
            )
        ).all()
    assert len(rows) == len(set(rows)), "a task was made twice"
    out: dict[date, Counter[str]] = {}
    for day, kind, _person, _route in rows:
        out.setdefault(day, Counter())[str(kind)] += 1
    return out


async def test_across_local_midnight(grid_url: str, tmp_path: Path) -> None:
    clock = ManualClock(local(10, "23:50"))  # 15:50 UTC: the UTC day is not the local one
    d = (clock.now() + timedelta(hours=8)).date()
    app = app_at(grid_url, tmp_path, clock)
    async with app.router.lifespan_context(app):
        db = ctx_of(app).db
        people, routes = await expected_per_day(db)
        before = await tasks_by_day(db, d)
        assert sorted(before) == [d, d + timedelta(days=1)]  # today and tomorrow only
        clock.advance(20 * 60)  # 00:10 local, the next day
        await runner(app).run_due()
        after = await tasks_by_day(db, d)
        assert sorted(after) == [d + timedelta(days=n) for n in range(3)]
        for day in after:
            assert after[day]["visit"] == people and after[day]["route_run"] == routes
        async with db.read_session() as s:
            pending = (
                await s.scalars(select(Timer.key).where(Timer.kind == tasks.DAILY, Timer.done.is_(False)))
            ).all()
        assert f"{tasks.DAILY}:{(d + timedelta(days=2)).isoformat()}" in pending


async def test_restart_that_skipped_midnights(grid_url: str, tmp_path: Path) -> None:
    clock = ManualClock(local(20, "09:00"))
    d = (clock.now() + timedelta(hours=8)).date()
    first = app_at(grid_url, tmp_path, clock)
    async with first.router.lifespan_context(first):
        pass
    clock.advance(3 * 86_400)  # down for three midnights
    second = app_at(grid_url, tmp_path, clock)
    async with second.router.lifespan_context(second):  # start-up catches up, its timers fire too
        db = ctx_of(second).db
        await runner(second).run_due()
        people, routes = await expected_per_day(db)
        made = await tasks_by_day(db, d)
    assert sorted(made) == [d, d + timedelta(days=1), d + timedelta(days=3), d + timedelta(days=4)]
    for day in made:
        assert made[day]["visit"] == people and made[day]["route_run"] == routes


async def test_generators_at_once_make_each_task_once(grid_url: str) -> None:
    now = local(30, "06:00")
    d = now.astimezone(TZ).date()
    dbs = [Database(grid_url) for _ in range(3)]  # three engines: as three processes would race

    async def generate(db: Database) -> None:
        async with db.session() as session:
            await tasks.generate(session, now, TZ)
            await asyncio.sleep(0)  # let the others run their inserts before this one commits
            await session.commit()

    try:
        await asyncio.gather(*(generate(db) for db in dbs))
        await asyncio.gather(*(generate(db) for db in dbs))
        made = await tasks_by_day(dbs[0], d)
        people, routes = await expected_per_day(dbs[0])
        async with dbs[0].read_session() as s:
            runs = (
                await s.execute(select(func.count()).select_from(RouteRun).where(RouteRun.day >= d))
            ).scalar_one()
    finally:
        for db in dbs:
            await db.dispose()
    assert sorted(made) == [d, d + timedelta(days=1)]
    for day in made:
        assert made[day]["visit"] == people and made[day]["route_run"] == routes
    assert runs == 2 * routes


async def test_ok_deadline_follow_up_and_missed_checkpoints(grid_url: str, tmp_path: Path) -> None:
    clock = ManualClock(local(40, "09:00"))
    d = (clock.now() + timedelta(hours=8)).date()
    app = app_at(grid_url, tmp_path, clock)
    async with app.router.lifespan_context(app), logins_to(app) as login:
        db = ctx_of(app).db
        sub = ctx_of(app).services.require(Hub).subscribe(lambda e: "staff" if e.topic == "grid" else None)
        async with db.read_session() as s:  # the alarm consoles of the village's station and another's
            users = {u.username: u for u in (await s.scalars(select(User))).all()}
            qingxi = await principal_for(s, users["op-qingxi"])
            station = ctx_of(app).services.require(Hub).subscribe(audience_for(qingxi))
            elsewhere = (
                ctx_of(app)
                .services.require(Hub)
                .subscribe(audience_for(await principal_for(s, users["op-shimen"])))
            )
        raised: list[GridNoticeRaised] = []

        async def heard(event: GridNoticeRaised) -> None:
            raised.append(event)

        ctx_of(app).events.subscribe(GridNoticeRaised, heard)
        resident, gw, duty = await login("res-v01"), await login("gw-01"), await login("duty-v01")
        assert (await resident.get(f"{API}/ok")).json()["answered"] is False
        ok = await resident.post(f"{API}/ok")
        assert ok.status_code == 200 and ok.json()["answered"] is True
        assert (await resident.post(f"{API}/ok")).status_code == 200  # pressed twice: one answer
        assert (await (await login("res-v02")).get(f"{API}/ok")).json()["answered"] is False

        async with db.read_session() as s:
            elderly = (
                await s.scalars(
                    select(CarePerson)
                    .where(CarePerson.ok_check.is_(True), CarePerson.active.is_(True))
                    .order_by(CarePerson.id)
                )
            ).all()
        gw1 = (await gw.get(f"{API}/today")).json()
        mine = {v["person"]["id"] for v in gw1["visits"]}
        answered = [p for p in elderly if p.id in mine and p.household_id is not None]
        others = [p for p in elderly if p.id in mine and p.household_id is None]
        assert len(answered) == 1 and len(others) >= 2
        visited, ignored = others[0], others[1]

        clock.advance(3600 + 60)  # 10:01: the deadline passed
        await runner(app).run_due()
        async with db.read_session() as s:
            followups = {
                t.person_id: t
                for t in (
                    await s.scalars(
                        select(GridTask).where(GridTask.kind == TaskKind.ok_followup, GridTask.day == d)
                    )
                ).all()
            }
        assert answered[0].id not in followups
        assert visited.id in followups and ignored.id in followups
        assert followups[ignored.id].due_at == clock.now() + timedelta(hours=2)

        clock.advance(3600)
        r = await gw.post(
            f"{API}/visits",
            json={
                "uuid": str(uuid.uuid4()),
                "person_id": visited.id,
                "at": clock.now().isoformat(),
                "outcome": "seen",
            },
        )
        assert r.status_code == 201 and r.json()["late"] is False
        clock.advance(3600 + 120)  # past the follow-ups' due time
        await runner(app).run_due()
        async with db.read_session() as s:
            states = {
                t.person_id: t.state
                for t in (
                    await s.scalars(select(GridTask).where(GridTask.key.like(f"ok_followup:%:{d}")))
                ).all()
            }
        assert states[visited.id] is TaskState.done and states[ignored.id] is TaskState.missed

        clock.advance(6 * 3600)  # 18:03: the route window and the day's visits closed
        await runner(app).run_due()
        late = await gw.post(
            f"{API}/visits",
            json={
                "uuid": str(uuid.uuid4()),
                "person_id": ignored.id,
                "at": clock.now().isoformat(),
                "outcome": "seen",
            },
        )
        assert late.status_code == 201 and late.json()["late"] is True  # recorded, never refused

        board = (await duty.get(f"{API}/board")).json()
        todays = [n for n in board["notices"] if n["detail"].get("day") == d.isoformat()]
        kinds = Counter(n["kind"] for n in todays)
        followed = {n["detail"]["person_id"] for n in todays if n["kind"] == "missed_followup"}
        assert ignored.id in followed and visited.id not in followed and answered[0].id not in followed
        route = gw1["routes"][0]["route"]
        missed = [m["checkpoint_id"] for m in board["missed_checkpoints"] if m["day"] == d.isoformat()]
        assert sorted(missed) == sorted(c["id"] for c in route["checkpoints"])
        assert kinds["missed_checkpoint"] == len(route["checkpoints"]) and kinds["missed_visit"] >= 1
        other_village = (await (await login("duty-v02")).get(f"{API}/board")).json()["notices"]
        assert not [n for n in other_village if n["detail"].get("person_id") == ignored.id]

        pushed = []
        while not sub.queue.empty():
            pushed.append(json.loads(sub.queue.get_nowait()))
        assert {p["notice"]["kind"] for p in pushed if p["event"] == "notice"} >= {
            "missed_followup",
            "missed_checkpoint",
            "missed_visit",
        }
        # the same notices reach other domains' listeners on the event bus, with the village's path
        assert {n.kind for n in raised} == {p["notice"]["kind"] for p in pushed if p["event"] == "notice"}
        assert all(n.region_path.count("/") == 3 and n.text for n in raised)
        # ... and the alarm console of the village's station shows each of them
        consoled = []
        while not station.queue.empty():
            consoled.append(json.loads(station.queue.get_nowait()))
        notices = [m["notice"] for m in consoled if m["type"] == "notice"]
        ours = [n for n in raised if n.region_path.startswith(qingxi.region_path)]
        assert 0 < len(ours) < len(raised)
        assert Counter(n["kind"] for n in notices) == Counter(n.kind for n in ours)
        assert all(n["text"] for n in notices)
        theirs = []  # the other township's station hears its own villages' notices only
        while not elsewhere.queue.empty():
            theirs.append(json.loads(elsewhere.queue.get_nowait()))
        assert len([m for m in theirs if m["type"] == "notice"]) == len(raised) - len(ours)
        heard_before = len(raised)
        async with db.read_session() as s:
            stored = (await s.execute(select(func.count()).select_from(GridNotice))).scalar_one()
        await runner(app).run_due()  # nothing fires twice
        async with db.read_session() as s:
            assert (await s.execute(select(func.count()).select_from(GridNotice))).scalar_one() == stored
        assert len(raised) == heard_before


async def test_tracks_are_deleted_after_the_retention(grid_url: str) -> None:
    """Check-ins older than 30 days go; visits stay but lose their position; newer ones are kept."""
    now = local(50, "00:05")
    db = Database(grid_url)
    try:
        made: list[CheckIn | Visit] = []
        async with db.session() as s:
            cp = (await s.scalars(select(Checkpoint).limit(1))).one()
            person = (
                await s.scalars(select(CarePerson).where(CarePerson.worker_id.is_not(None)).limit(1))
            ).one()
            for at in (now - timedelta(days=31), now - timedelta(days=29)):
                made.append(
                    CheckIn(
                        uuid=str(uuid.uuid4()),
                        checkpoint_id=cp.id,
                        route_id=cp.route_id,
                        user_id=person.worker_id,
                        region_path=person.region_path,
                        at=at,
                        lat=cp.lat,
                        lon=cp.lon,
                        proof=Proof.gps,
                        received_at=at,
                    )
                )
                made.append(
                    Visit(
                        uuid=str(uuid.uuid4()),
                        person_id=person.id,
                        user_id=person.worker_id,
                        region_path=person.region_path,
                        at=at,
                        outcome=VisitOutcome.seen,
                        needs=[],
                        lat=1.0,
                        lon=2.0,
                        received_at=at,
                    )
                )
            s.add_all(made)
            await s.commit()
        ids = [m.id for m in made]
        async with db.session() as s:
            await tasks.purge_tracks(s, now, 30)
            await s.commit()
        async with db.read_session() as s:
            checkins = set((await s.scalars(select(CheckIn.id).where(CheckIn.id.in_(ids[0::2])))).all())
            visits = {
                v.id: v.lat for v in (await s.scalars(select(Visit).where(Visit.id.in_(ids[1::2])))).all()
            }
        assert checkins == {ids[2]}  # the old check-in is gone
        assert visits == {ids[1]: None, ids[3]: 1.0}  # the old visit kept, without its position
    finally:
        await db.dispose()
