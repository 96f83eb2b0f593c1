"""The demo county's grid data, written after the regions, cameras and users exist.

- a route for each grid worker (gw-01..gw-10) through their village's settlements and exits, in
  order around the village (7 checkpoints each), 08:00-18:00 every day;
- 46 left-behind children and 38 left-behind elderly spread over the 10 villages (fictional names
  and phone numbers), each assigned to the village's grid worker; the elderly have the daily
  "I'm OK", and one per village lives in the household of the village's demo resident (res-vNN), so
  the TV's tile works for them;
- a video patrol tour per township station over its cameras (09:00, 15:00, 21:00);
- 7 days of history: route runs with their check-ins (a few checkpoints missed), visits (a few
  missed or late), "I'm OK" answers, incidents in every state, tour runs (one missed slot a day).

Deterministic (a fixed random seed) and written with bulk inserts: it runs in every test session's
template database."""

from __future__ import annotations

import math
import random
import uuid as uuid_mod
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.models import Role, User
from xueliang.cameras.models import Camera
from xueliang.grid import geo
from xueliang.grid.models import (
    CareKind,
    CarePerson,
    CheckIn,
    Checkpoint,
    GridTask,
    Incident,
    IncidentCategory,
    IncidentEvent,
    IncidentState,
    Mark,
    OkAnswer,
    PatrolRoute,
    PatrolTour,
    Proof,
    RouteRun,
    RunState,
    TaskKind,
    TaskState,
    TourMark,
    TourRun,
    TourRunState,
    Visit,
    VisitOutcome,
    Wellbeing,
)
from xueliang.regions.models import Place, Region, RegionLevel

TZ = ZoneInfo("Asia/Shanghai")  # the demo county's zone (the settings' default)
CHILDREN, ELDERLY, HISTORY_DAYS = 46, 38, 7
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何罗高林"
CHILD_NAMES = ["小雨", "浩然", "欣怡", "子涵", "梓轩", "诗琪", "宇航", "佳怡", "俊杰", "思远", "雨桐", "明轩"]
ELDER_NAMES = ["桂芳", "德福", "秀珍", "长寿", "玉兰", "福全", "淑华", "有才", "凤英", "万春", "素珍", "国富"]
CITIES = ["成都", "广州", "深圳", "东莞", "宁波", "苏州", "重庆", "厦门"]
NEEDS = ["不会使用一键报警按钮 / does not know the alarm button", "需要代购药品 / needs medicine bought"]
TEXTS = {
    IncidentCategory.road_traffic: "村道塌方一处，需设警示 / road collapse, needs a warning sign",
    IncidentCategory.fire_hazard: "柴草堆靠近电线 / firewood stacked against power lines",
    IncidentCategory.dispute: "邻里宅基地纠纷 / neighbours' boundary dispute",
    IncidentCategory.environment: "河道垃圾堆积 / rubbish in the river",
    IncidentCategory.infrastructure: "路灯不亮 / street light out",
    IncidentCategory.help_needed: "独居老人需要帮助 / an elderly person living alone needs help",
    IncidentCategory.public_safety: "陌生车辆夜间徘徊 / unknown vehicle circling at night",
    IncidentCategory.other: "广播喇叭损坏 / loudspeaker broken",
}
STATES = list(IncidentState)


def _jitter(rng: random.Random, lat: float, lon: float, metres: float) -> tuple[float, float]:
    north, east = rng.uniform(-metres, metres), rng.uniform(-metres, metres)
    return (
        round(lat + north / 110_540, 6),
        round(lon + east / (111_320 * math.cos(math.radians(lat))), 6),
    )


def _inside(region: Region, lat: float, lon: float) -> tuple[float, float]:
    """Pulls a point toward the village centre until it lies inside the boundary (exits sit near it)."""
    c_lat, c_lon = region.lat or lat, region.lon or lon
    for _ in range(10):
        if not geo.outside(region.boundary, [(lon, lat)]):
            break
        lat, lon = round(c_lat + (lat - c_lat) * 0.9, 6), round(c_lon + (lon - c_lon) * 0.9, 6)
    return lat, lon


async def seed_demo(session: AsyncSession, *, now: datetime) -> None:
    """Called by seed/load.py inside its transaction (it commits); reads what it needs from the database."""
    rng = random.Random(16)
    today = geo.local_day(now, TZ)
    villages = list(
        (
            await session.scalars(
                select(Region).where(Region.level == RegionLevel.village).order_by(Region.code)
            )
        ).all()
    )
    users = {u.username: u for u in (await session.scalars(select(User))).all()}
    places: dict[int, list[Place]] = {v.id: [] for v in villages}
    for place in (await session.scalars(select(Place).order_by(Place.id))).all():
        if place.region_id in places:
            places[place.region_id].append(place)
    people: list[CarePerson] = []
    routes: list[tuple[PatrolRoute, list[Checkpoint]]] = []
    for v_idx, village in enumerate(villages, start=1):
        worker = users.get(f"gw-{v_idx:02d}")
        resident = users.get(f"res-v{v_idx:02d}")
        if worker is None:
            continue
        routes.append(await _route(session, village, worker, places[village.id], now))
        people += _people(rng, village, v_idx, worker, resident, places[village.id], now)
    session.add_all(people)
    await session.flush()
    await _tours(session, now)
    await _history(session, rng, routes, people, users, villages, today, now)


async def _route(
    session: AsyncSession, village: Region, worker: User, places: list[Place], now: datetime
) -> tuple[PatrolRoute, list[Checkpoint]]:
    c_lat, c_lon = village.lat or 0.0, village.lon or 0.0
    ordered = sorted(places, key=lambda p: math.atan2(p.lat - c_lat, p.lon - c_lon))
    points = [_inside(village, p.lat, p.lon) for p in ordered]
    route = PatrolRoute(
        region_id=village.id,
        region_path=village.path,
        name=f"{village.name}日常巡查线 / {village.name_en} daily patrol",
        line=[[lon, lat] for lat, lon in [*points, points[0]]],
        days=[1, 2, 3, 4, 5, 6, 7],
        window_start="08:00",
        window_end="18:00",
        worker_id=worker.id,
        active=True,
        created_at=now - timedelta(days=30),
        updated_at=now - timedelta(days=30),
    )
    session.add(route)
    await session.flush()
    cps = [
        Checkpoint(
            route_id=route.id, seq=n, name=p.name, lat=lat, lon=lon, radius_m=50.0, place_id=p.id, active=True
        )
        for n, (p, (lat, lon)) in enumerate(zip(ordered, points, strict=True), start=1)
    ]
    session.add_all(cps)
    await session.flush()
    return route, cps


def _people(
    rng: random.Random,
    village: Region,
    v_idx: int,
    worker: User,
    resident: User | None,
    places: list[Place],
    now: datetime,
) -> list[CarePerson]:
    settlements = [p for p in places if p.kind == "settlement"] or places
    out = []
    kids = [n for n in range(CHILDREN) if n % 10 == v_idx - 1]
    elders = [n for n in range(ELDERLY) if n % 10 == v_idx - 1]
    for kind, numbers in ((CareKind.child, kids), (CareKind.elderly, elders)):
        for k, n in enumerate(numbers):
            home = settlements[(n + k) % len(settlements)]
            lat, lon = _jitter(rng, home.lat, home.lon, 120)
            surname = SURNAMES[(n * 7 + v_idx) % len(SURNAMES)]
            city = CITIES[(n + v_idx) % len(CITIES)]
            if kind is CareKind.child:
                name = surname + CHILD_NAMES[n % len(CHILD_NAMES)]
                birth = 2011 + (n * 5 + v_idx) % 12
                contacts = [
                    {
                        "name": f"{surname}奶奶",
                        "relation": "祖母 / grandmother",
                        "phone": f"139{v_idx:02d}0{n:05d}",
                        "city": "",
                    },
                    {
                        "name": f"{surname}爸爸",
                        "relation": "父亲 / father",
                        "phone": f"138{v_idx:02d}1{n:05d}",
                        "city": city,
                    },
                ]
            else:
                name = surname + ELDER_NAMES[n % len(ELDER_NAMES)]
                birth = 1936 + (n * 3 + v_idx) % 20
                contacts = [
                    {
                        "name": f"{surname}建军",
                        "relation": "儿子 / son",
                        "phone": f"137{v_idx:02d}2{n:05d}",
                        "city": city,
                    }
                ]
            with_resident = kind is CareKind.elderly and k == 0 and resident is not None
            out.append(
                CarePerson(
                    kind=kind,
                    name=name,
                    birth_year=birth,
                    region_id=village.id,
                    region_path=village.path,
                    household_id=resident.household_id if with_resident and resident else None,
                    address=f"{home.name}{10 + n}号",
                    lat=lat,
                    lon=lon,
                    contacts=contacts,
                    worker_id=worker.id,
                    visit_every_days=1,
                    ok_check=kind is CareKind.elderly,
                    ok_deadline="10:00",
                    notes="独居 / lives alone" if kind is CareKind.elderly and n % 3 == 0 else "",
                    active=True,
                    created_at=now - timedelta(days=30),
                )
            )
    return out


async def _tours(session: AsyncSession, now: datetime) -> None:
    townships = (await session.scalars(select(Region).where(Region.level == RegionLevel.township))).all()
    for township in townships:
        cams = (
            await session.execute(
                select(Camera.id)
                .join(Region, Region.id == Camera.region_id)
                .where(Region.path.startswith(township.path, autoescape=True))
                .order_by(Camera.id)
            )
        ).all()
        session.add(
            PatrolTour(
                region_id=township.id,
                region_path=township.path,
                name=f"{township.name}视频巡点 / {township.name_en} video patrol",
                steps=[{"camera_id": cid, "seconds": 20} for (cid,) in cams],
                times=["09:00", "15:00", "21:00"],
                active=True,
                created_at=now - timedelta(days=30),
            )
        )
    await session.flush()


def _at(day: date, hour: float) -> datetime:
    return geo.day_start(day, TZ) + timedelta(hours=hour)


async def _history(
    session: AsyncSession,
    rng: random.Random,
    routes: list[tuple[PatrolRoute, list[Checkpoint]]],
    people: list[CarePerson],
    users: dict[str, User],
    villages: list[Region],
    today: date,
    now: datetime,
) -> None:
    days = [today - timedelta(days=n) for n in range(HISTORY_DAYS, 0, -1)]
    runs = [RouteRun(**_run(route, day, len(cps))) for day in days for route, cps in routes]
    session.add_all(runs)
    await session.flush()
    by_key = {(r.route_id, r.day): r for r in runs}
    checkins: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    for d_idx, day in enumerate(days):
        for r_idx, (route, cps) in enumerate(routes):
            run = by_key[(route.id, day)]
            skip = {cps[(d_idx + r_idx) % len(cps)].id} if (d_idx + r_idx) % 4 == 0 else set()
            hour = 8.5 + rng.uniform(0, 1)
            for cp in cps:
                hour += rng.uniform(0.15, 0.4)
                if cp.id in skip:
                    continue
                lat, lon = _jitter(rng, cp.lat, cp.lon, 20)
                checkins.append(
                    {
                        "uuid": str(uuid_mod.UUID(int=rng.getrandbits(128), version=4)),
                        "checkpoint_id": cp.id,
                        "route_id": route.id,
                        "run_id": run.id,
                        "user_id": route.worker_id,
                        "region_path": route.region_path,
                        "at": _at(day, hour),
                        "lat": lat,
                        "lon": lon,
                        "accuracy_m": round(rng.uniform(5, 25), 1),
                        "distance_m": round(geo.distance_m(lat, lon, cp.lat, cp.lon), 1),
                        "proof": Proof.qr if cp.seq % 3 == 0 else Proof.gps,
                        "received_at": _at(day, hour + 0.01),
                    }
                )
            run.checked, run.missed = len(cps) - len(skip), sorted(skip)
            run.state = RunState.missed if skip else RunState.done
            run.closed_at = run.window_end_at
            tasks.append(
                _task_row(
                    f"run:{route.id}:{day.isoformat()}",
                    TaskKind.route_run,
                    day,
                    route.region_path,
                    route.worker_id,
                    run.window_end_at,
                    TaskState.missed if skip else TaskState.done,
                    None if skip else _at(day, hour),
                    route_id=route.id,
                )
            )
    if checkins:
        await session.execute(insert(CheckIn), checkins)
    visits: list[dict[str, Any]] = []
    answers: list[dict[str, Any]] = []
    for d_idx, day in enumerate(days):
        due = geo.at_local(day, "18:00", TZ)
        for p_idx, person in enumerate(people):
            key = f"visit:{person.id}:{day.isoformat()}"
            missed = (p_idx * 7 + d_idx) % 29 == 0
            late = not missed and (p_idx + d_idx) % 23 == 0
            at = _at(day, 19.0 if late else 10.0 + rng.uniform(0, 6))
            tasks.append(
                _task_row(
                    key,
                    TaskKind.visit,
                    day,
                    person.region_path,
                    person.worker_id,
                    due,
                    TaskState.missed if missed else TaskState.done,
                    None if missed else at,
                    person_id=person.id,
                )
            )
            if person.ok_check and (p_idx + d_idx) % 9 != 0:
                answers.append(
                    {
                        "person_id": person.id,
                        "day": day,
                        "at": _at(day, 8.0 + rng.uniform(0, 1.5)),
                        "user_id": None,
                    }
                )
            if missed or person.worker_id is None:
                continue
            lat, lon = _jitter(rng, person.lat or 0.0, person.lon or 0.0, 15)
            outcome = VisitOutcome.not_home if (p_idx + d_idx) % 17 == 0 else VisitOutcome.seen
            wellbeing = Wellbeing.poor if (p_idx * 3 + d_idx) % 31 == 0 else Wellbeing.good
            visits.append(
                {
                    "uuid": str(uuid_mod.UUID(int=rng.getrandbits(128), version=4)),
                    "person_id": person.id,
                    "user_id": person.worker_id,
                    "region_path": person.region_path,
                    "at": at,
                    "outcome": outcome,
                    "wellbeing": wellbeing if outcome is VisitOutcome.seen else None,
                    "note": "一切正常 / all well"
                    if wellbeing is Wellbeing.good
                    else "咳嗽几天了 / coughing for days",
                    "needs": [NEEDS[(p_idx + d_idx) % 2]] if (p_idx + d_idx) % 13 == 0 else [],
                    "lat": lat,
                    "lon": lon,
                    "late": late,
                    "received_at": at + timedelta(minutes=1),
                }
            )
    await session.execute(insert(Visit), visits)
    if answers:
        await session.execute(insert(OkAnswer), answers)
    await session.execute(insert(GridTask), [{**t, "created_at": now - timedelta(days=8)} for t in tasks])
    await _incidents(session, users, villages, days, now)
    await _tour_history(session, users, days)


def _run(route: PatrolRoute, day: date, total: int) -> dict[str, Any]:
    return {
        "route_id": route.id,
        "day": day,
        "worker_id": route.worker_id,
        "region_path": route.region_path,
        "window_start_at": geo.at_local(day, route.window_start, TZ),
        "window_end_at": geo.at_local(day, route.window_end, TZ),
        "state": RunState.planned,
        "checked": 0,
        "total": total,
        "missed": [],
    }


def _task_row(
    key: str,
    kind: TaskKind,
    day: date,
    path: str,
    user_id: int | None,
    due: datetime,
    state: TaskState,
    done_at: datetime | None,
    *,
    person_id: int | None = None,
    route_id: int | None = None,
) -> dict[str, Any]:
    return {
        "key": key,
        "kind": kind,
        "day": day,
        "region_path": path,
        "user_id": user_id,
        "person_id": person_id,
        "route_id": route_id,
        "due_at": due,
        "state": state,
        "done_at": done_at,
    }


async def _incidents(
    session: AsyncSession, users: dict[str, User], villages: list[Region], days: list[date], now: datetime
) -> None:
    """Two incidents per village over the week; their states cycle through every state."""
    categories = list(IncidentCategory)
    n = 0
    for v_idx, village in enumerate(villages, start=1):
        reporter = users.get(f"gw-{v_idx:02d}")
        duty = users.get(f"duty-v{v_idx:02d}")
        if reporter is None:
            continue
        for k in range(2):
            day = days[(v_idx * 2 + k) % len(days)]
            at = _at(day, 9.5 + k * 4)
            state = STATES[n % len(STATES)]
            category = categories[n % len(categories)]
            inc = Incident(
                uuid=str(uuid_mod.UUID(int=n + 1, version=4)),
                category=category,
                text=TEXTS[category],
                lat=village.lat,
                lon=village.lon,
                region_id=village.id,
                region_path=village.path,
                reporter_id=reporter.id,
                assignee_id=duty.id if duty and state is not IncidentState.reported else None,
                state=state,
                source="phone",
                reported_at=at,
                received_at=at,
                updated_at=at,
            )
            session.add(inc)
            await session.flush()
            prev = ""
            for step, s in enumerate(STATES[: STATES.index(state) + 1]):
                session.add(
                    IncidentEvent(
                        incident_id=inc.id,
                        at=at + timedelta(hours=3 * step),
                        user_id=reporter.id if s is IncidentState.reported else (duty.id if duty else None),
                        from_state=prev,
                        to_state=s,
                    )
                )
                prev = s.value
            if state is IncidentState.checked:
                inc.closed_at = at + timedelta(hours=3 * STATES.index(state))
            inc.updated_at = at + timedelta(hours=3 * STATES.index(state))
            n += 1
    await session.flush()


async def _tour_history(session: AsyncSession, users: dict[str, User], days: list[date]) -> None:
    tours = (await session.scalars(select(PatrolTour).order_by(PatrolTour.id))).all()
    operators = [u for u in users.values() if u.role is Role.operator]
    for t_idx, tour in enumerate(tours):
        op = next((u for u in operators if u.region_id == tour.region_id), None)
        for d_idx, day in enumerate(days):
            for s_idx, slot in enumerate(tour.times):
                if (d_idx + s_idx + t_idx) % 5 == 0:
                    continue  # a missed slot
                start = geo.at_local(day, slot, TZ)
                run = TourRun(
                    tour_id=tour.id,
                    region_path=tour.region_path,
                    day=day,
                    slot=slot,
                    user_id=op.id if op else None,
                    state=TourRunState.done,
                    started_at=start,
                    finished_at=start + timedelta(seconds=sum(s["seconds"] for s in tour.steps)),
                )
                session.add(run)
                if (d_idx + s_idx) % 6 == 1:
                    await session.flush()
                    session.add(
                        TourMark(
                            run_id=run.id,
                            camera_id=tour.steps[0]["camera_id"],
                            mark=Mark.normal,
                            at=start + timedelta(seconds=20),
                            user_id=op.id if op else None,
                        )
                    )
    await session.flush()
