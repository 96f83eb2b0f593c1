"""Hospital test fixtures: each module gets its own copy of the seeded demo county, an app on a
ManualClock (the timer runner driven by the test), logins against it, and its own sessions of the
seeded hospitals on dates of the manual clock (the demo's sessions follow the real date)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from sqlalchemy import insert, select
from tests.support.alarms import Login, logins_to
from tests.support.app import make_settings
from tests.support.db import run_async, seed_database

from xueliang.app import create_app
from xueliang.core.clock import ManualClock
from xueliang.core.db import Database
from xueliang.hospital import service
from xueliang.hospital.idcheck import check_digit
from xueliang.hospital.models import (
    Hospital,
    HospitalDepartment,
    HospitalDoctor,
    HospitalSession,
    Period,
)

TZ = ZoneInfo("Asia/Shanghai")
START = datetime(2030, 3, 4, 2, 0, tzinfo=UTC)  # Monday 10:00 in the county
TODAY = date(2030, 3, 4)
DAYS = 10
CAPACITY = 3


def make_id(seq: int, born: str = "19500101") -> str:
    """A valid ID number (GB 11643) per `seq`, so every test has patients of its own."""
    first = f"513223{born}{seq % 1000:03d}"
    return first + check_digit(first)


def when(clock: ManualClock) -> service.When:
    return service.When(clock.now(), TZ)


@dataclass(frozen=True)
class World:
    """The test's sessions: {(hospital code, department code, doctor index, day offset, period): id}."""

    sessions: dict[tuple[str, str, int, int, Period], int]
    hospitals: dict[str, int]
    departments: dict[tuple[str, str], int]

    def sid(self, hosp: str, dept: str, doctor: int, day: int, period: Period = Period.morning) -> int:
        return self.sessions[(hosp, dept, doctor, day, period)]


@pytest.fixture(scope="module")
def hosp_url(make_db_url: Callable[[], str]) -> str:
    url = make_db_url()
    seed_database(url)
    return url


@pytest.fixture(scope="module")
def world(hosp_url: str) -> World:
    return run_async(_make_world(hosp_url))


async def _make_world(hosp_url: str) -> World:
    """Sessions of capacity 3 for days 0..9 from the manual clock's today, in two departments of
    each seeded hospital, both periods, every doctor."""
    db = Database(hosp_url)
    try:
        async with db.session() as session:
            rows = (
                await session.execute(
                    select(
                        Hospital.code,
                        Hospital.id,
                        HospitalDepartment.code,
                        HospitalDepartment.id,
                        HospitalDoctor.id,
                    )
                    .join(HospitalDepartment, HospitalDepartment.hospital_id == Hospital.id)
                    .join(HospitalDoctor, HospitalDoctor.department_id == HospitalDepartment.id)
                    .where(HospitalDepartment.code.in_(["NK", "GK", "ZYNK", "ZJ"]))
                    .order_by(HospitalDoctor.id)
                )
            ).all()
            keys: list[tuple[str, str, int, int, Period]] = []
            slots: list[tuple[int, date, Period]] = []
            values = []
            index: dict[tuple[str, str], int] = {}
            hospitals: dict[str, int] = {}
            departments: dict[tuple[str, str], int] = {}
            for hcode, hid, dcode, did, doc in rows:
                hospitals[hcode] = hid
                departments[(hcode, dcode)] = did
                k = index[(hcode, dcode)] = index.get((hcode, dcode), -1) + 1
                for day in range(DAYS):
                    for period in Period:
                        keys.append((hcode, dcode, k, day, period))
                        slots.append((doc, TODAY + timedelta(days=day), period))
                        values.append(
                            {
                                "hospital_id": hid,
                                "department_id": did,
                                "doctor_id": doc,
                                "day": TODAY + timedelta(days=day),
                                "period": period,
                                "capacity": CAPACITY,
                                "stopped": False,
                                "stop_reason": "",
                            }
                        )
            await session.execute(insert(HospitalSession), values)
            found = (
                await session.execute(
                    select(
                        HospitalSession.doctor_id,
                        HospitalSession.day,
                        HospitalSession.period,
                        HospitalSession.id,
                    ).where(HospitalSession.day >= TODAY, HospitalSession.day < TODAY + timedelta(days=DAYS))
                )
            ).all()
            by = {(doc, d, p): sid for doc, d, p, sid in found}
            ids = {key: by[slot] for key, slot in zip(keys, slots, strict=True)}
            await service.insert_places(session, [(sid, CAPACITY) for sid in ids.values()])
            await session.commit()
        return World(ids, hospitals, departments)
    finally:
        await db.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
async def happ(hosp_url: str, world: World, tmp_path: Path, clock: ManualClock) -> AsyncIterator[FastAPI]:
    del world
    application = create_app(
        make_settings(hosp_url, tmp_path, timer_loop=False), clock=clock, migrate_on_start=False
    )
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def hlogin(happ: FastAPI) -> AsyncIterator[Login]:
    async with logins_to(happ) as do:
        yield do


@pytest.fixture
async def hdb(hosp_url: str, world: World) -> AsyncIterator[Database]:
    """The module's database without an app (the service-level tests need none)."""
    del world
    db = Database(hosp_url)
    yield db
    await db.dispose()
