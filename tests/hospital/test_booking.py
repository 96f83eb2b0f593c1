"""Booking held by the database: the last place taken by 50 at once gives exactly one booking, on
SQLite and PostgreSQL (separate sessions, each its own connection and transaction); the rules at
their edges; holds that expire."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from tests.support.alarms import principal

from xueliang.accounts.models import User
from xueliang.accounts.policy import Principal
from xueliang.audit.service import Actor
from xueliang.core.db import Database
from xueliang.core.errors import AppError, Conflict, ValidationFailed
from xueliang.hospital import service
from xueliang.hospital.models import (
    BookingState,
    HospitalBlock,
    HospitalBooking,
    HospitalPlace,
    Period,
)

from .conftest import CAPACITY, TODAY, TZ, World, make_id


def actor(p: Principal) -> Actor:
    return Actor(p.user_id, p.username)


def at(day_offset: int, hh: int, mm: int = 0, ss: int = 0) -> service.When:
    """A moment in the county's local time, `day_offset` days after the tests' today."""
    local = datetime(TODAY.year, TODAY.month, TODAY.day, hh, mm, ss, tzinfo=TZ) + timedelta(days=day_offset)
    return service.When(local.astimezone(UTC), TZ)


NOW = at(0, 10)


def patient(seq: int) -> service.Patient:
    return service.check_patient(f"病人{seq}", make_id(seq), "13800000000", NOW)


async def book(
    db: Database, p: Principal, session_id: int, seq: int, w: service.When = NOW, hold: str | None = None
) -> HospitalBooking:
    async with db.session() as s:
        b = await service.book(
            s,
            p,
            actor(p),
            hold_token=hold,
            session_id=session_id,
            household_id=None,
            patient=patient(seq),
            w=w,
        )
        await s.commit()
        return b


async def attempt(db: Database, p: Principal, session_id: int, seq: int, w: service.When = NOW) -> int | str:
    try:
        return (await book(db, p, session_id, seq, w)).id
    except AppError as exc:
        return exc.code


async def live_in(db: Database, session_id: int) -> tuple[int, int]:
    async with db.read_session() as s:
        live = await s.scalar(
            select(func.count())
            .select_from(HospitalBooking)
            .where(HospitalBooking.session_id == session_id, HospitalBooking.state == BookingState.booked)
        )
        taken = await s.scalar(
            select(func.count(func.distinct(HospitalPlace.booking_id))).where(
                HospitalPlace.session_id == session_id, HospitalPlace.booking_id.is_not(None)
            )
        )
        return int(live or 0), int(taken or 0)


async def test_fifty_at_once_for_the_last_place_give_exactly_one_booking(hdb: Database, world: World) -> None:
    sid = world.sid("RMYY", "NK", 0, 2)
    p = await principal(hdb, "res-v01")
    for i in range(CAPACITY - 1):
        await book(hdb, p, sid, 100 + i)
    results = await asyncio.gather(*(attempt(hdb, p, sid, 200 + i) for i in range(50)))
    wins = [r for r in results if isinstance(r, int)]
    assert len(wins) == 1, results
    assert {r for r in results if isinstance(r, str)} <= {"session_full", "place_taken"}
    assert await live_in(hdb, sid) == (CAPACITY, CAPACITY)


async def test_fifty_holds_at_once_on_the_last_place_give_exactly_one(hdb: Database, world: World) -> None:
    sid = world.sid("RMYY", "NK", 1, 2)
    async with hdb.read_session() as s:
        users = list((await s.scalars(select(User.id).order_by(User.id).limit(50))).all())
    assert len(users) == 50
    role = (await principal(hdb, "res-v01")).role
    principals = [Principal(u, f"u{u}", role, 1, "/") for u in users]

    async def hold(p: Principal) -> str:
        try:
            async with hdb.session() as s:
                h = await service.hold_place(s, p, sid, CAPACITY, NOW)
                await s.commit()
                return h.token
        except Conflict as exc:
            return exc.code

    results = await asyncio.gather(*(hold(p) for p in principals))
    assert sum(r != "place_taken" for r in results) == 1, results


async def test_one_person_per_department_per_day_even_at_once(hdb: Database, world: World) -> None:
    """Six sessions of one department on one day, the same person in all at once: one booking (the
    unique key of live bookings decides when the checks all pass together)."""
    p = await principal(hdb, "res-v01")
    sids = [world.sid("RMYY", "NK", k, 3, period) for k in range(3) for period in Period]
    results = await asyncio.gather(*(attempt(hdb, p, sid, 300) for sid in sids))
    assert sum(isinstance(r, int) for r in results) == 1, results
    assert {r for r in results if isinstance(r, str)} == {"one_per_department"}
    # Another department the same day, and the same department the next day, are fine.
    await book(hdb, p, world.sid("RMYY", "GK", 0, 3), 300)
    await book(hdb, p, world.sid("RMYY", "NK", 0, 4), 300)
    # Cancelled, the place and the person's day in that department are free again.
    first = next(r for r in results if isinstance(r, int))
    async with hdb.session() as s:
        await service.cancel(s, p, actor(p), first, NOW)
        await s.commit()
    other = next(sid for sid, r in zip(sids, results, strict=True) if not isinstance(r, int))
    assert isinstance(await attempt(hdb, p, other, 300), int)


async def test_booking_window_edges(hdb: Database, world: World) -> None:
    p = await principal(hdb, "res-v01")
    assert isinstance(await attempt(hdb, p, world.sid("RMYY", "GK", 1, 7), 400), int)  # today + 7
    assert await attempt(hdb, p, world.sid("RMYY", "GK", 1, 8), 401) == "outside_window"
    # Day 8 opens at midnight of day 1, local time.
    assert await attempt(hdb, p, world.sid("RMYY", "GK", 1, 8), 401, at(0, 23, 59, 59)) == "outside_window"
    assert isinstance(await attempt(hdb, p, world.sid("RMYY", "GK", 1, 8), 401, at(1, 0, 0)), int)
    # Today's morning began at 08:00; the afternoon is still open at 10:00, until 14:00.
    assert await attempt(hdb, p, world.sid("RMYY", "GK", 1, 0), 402) == "session_started"
    afternoon = world.sid("RMYY", "GK", 1, 0, Period.afternoon)
    assert await attempt(hdb, p, afternoon, 402, at(0, 14, 0)) == "session_started"
    assert isinstance(await attempt(hdb, p, afternoon, 402, at(0, 13, 59, 59)), int)


async def test_cancel_until_17_the_day_before(hdb: Database, world: World) -> None:
    p = await principal(hdb, "res-v01")
    sid = world.sid("RMYY", "GK", 2, 3)
    first = await book(hdb, p, sid, 500)
    second = await book(hdb, p, sid, 501)
    async with hdb.session() as s:
        done = await service.cancel(s, p, actor(p), first.id, at(2, 16, 59, 59))
        assert done.state is BookingState.cancelled
        await s.commit()
    async with hdb.session() as s:
        with pytest.raises(ValidationFailed) as err:
            await service.cancel(s, p, actor(p), second.id, at(2, 17, 0))
    assert err.value.code == "cancel_cutoff"


async def test_three_no_shows_in_90_days_block_for_30_days(hdb: Database, world: World) -> None:
    p = await principal(hdb, "res-v01")
    staff = await principal(hdb, "hs-rmyy")
    seq = 600
    hid = world.hospitals["RMYY"]
    # Two earlier no-shows: 89 days back (90 days before the first miss below: outside its window,
    # which is the 90 days up to and including that day) and 10 days back.
    async with hdb.session() as s:
        for back in (89, 10):
            day = TODAY - timedelta(days=back)
            s.add(
                HospitalBooking(
                    hospital_id=hid,
                    department_id=world.departments[("RMYY", "GK")],
                    doctor_id=1,
                    session_id=world.sid("RMYY", "GK", 0, 0),
                    number=1,
                    serial="A01",
                    day=day,
                    period=Period.morning,
                    arrival_at=NOW.now - timedelta(days=back),
                    household_id=p.household_id,
                    booked_by=p.user_id,
                    by_grid_worker=False,
                    patient_name="病人600",
                    id_number=make_id(seq),
                    phone="13800000000",
                    state=BookingState.no_show,
                    created_at=NOW.now - timedelta(days=back + 1),
                )
            )
        await s.commit()

    async def miss(day: int) -> str | None:
        b = await book(hdb, p, world.sid("RMYY", "GK", 0, day, Period.afternoon), seq)
        async with hdb.session() as s:
            await service.mark(s, staff, actor(staff), b.id, BookingState.no_show, at(day, 18))
            await s.commit()
            blocks = await s.scalars(
                select(HospitalBlock.until).where(HospitalBlock.id_number == make_id(seq))
            )
            found = blocks.all()
            return found[-1].isoformat() if found else None

    assert await miss(1) is None  # two in the window (-10 and day 1): not yet
    until = TODAY + timedelta(days=2 + 30)
    assert await miss(2) == until.isoformat()  # the third: blocked for 30 days from that day
    assert await attempt(hdb, p, world.sid("RMYY", "GK", 0, 4), seq, at(2, 19)) == "blocked_no_show"
    # Another hospital's rules are its own.
    assert isinstance(await attempt(hdb, p, world.sid("ZYY", "ZJ", 0, 4), seq, at(2, 19)), int)
    # The block's last day, and the day after (checked on the rule itself: no sessions that far ahead).
    async with hdb.read_session() as s:
        h = await service.get_hospital(s, hid)
        sess, _ = await service._load_session(s, world.sid("RMYY", "GK", 0, 5))
        last = service.When(NOW.at(until - timedelta(days=1), 12 * 60), TZ)
        with pytest.raises(ValidationFailed):
            await service.check_person(s, h, sess, make_id(seq), last)
        await service.check_person(s, h, sess, make_id(seq), service.When(NOW.at(until, 0), TZ))


async def test_a_hold_lasts_five_minutes(hdb: Database, world: World) -> None:
    sid = world.sid("RMYY", "GK", 0, 6)
    a = await principal(hdb, "res-v01")
    b = await principal(hdb, "res-v02")

    async def hold(p: Principal, w: service.When) -> str:
        try:
            async with hdb.session() as s:
                h = await service.hold_place(s, p, sid, CAPACITY, w)
                await s.commit()
                return h.token
        except Conflict as exc:
            return exc.code

    t0 = at(0, 10)
    token_a = await hold(a, t0)
    assert await hold(b, service.When(t0.now + timedelta(minutes=4, seconds=59), TZ)) == "place_taken"
    later = service.When(t0.now + timedelta(minutes=5), TZ)
    token_b = await hold(b, later)
    assert len(token_b) == 32
    with pytest.raises(Conflict) as err:
        await book(hdb, a, sid, 700, later, hold=token_a)
    assert err.value.code == "hold_expired"
    booked = await book(hdb, b, sid, 701, later, hold=token_b)
    assert (booked.number, booked.serial, booked.state) == (CAPACITY, f"A0{CAPACITY}", BookingState.booked)
