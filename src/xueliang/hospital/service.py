"""Hospital booking use cases: plain async functions on the caller's session. They flush, audit and
raise; they never commit (the route, the timer runner or the seed does).

A place is taken only by a conditional UPDATE on its row (`booking_id IS NULL` and no live hold of
someone else), so however many transactions race for the last place, the database lets exactly one
win, on SQLite and on PostgreSQL; the unique `slot_key` and `active_key` of a live booking back it up.
Times: `When` carries the injected clock's now and the node's time zone; days are local dates."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, bindparam, case, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.models import Role, User
from xueliang.accounts.policy import Principal
from xueliang.audit import service as audit
from xueliang.audit.service import Actor
from xueliang.core import timers
from xueliang.core.errors import Conflict, NotFound, ValidationFailed
from xueliang.hospital import idcheck, policy, push
from xueliang.hospital.models import (
    LIVE_STATES,
    BookingState,
    Hospital,
    HospitalBlock,
    HospitalBooking,
    HospitalDepartment,
    HospitalDoctor,
    HospitalMessage,
    HospitalPlace,
    HospitalSession,
    HospitalStaff,
    Period,
)
from xueliang.regions.models import Household, Region

REMINDER_KIND = "hospital.reminder"
CONFIRM_KIND = "hospital.confirm_expiry"
REMINDER_LOCAL_MIN = 9 * 60  # the day before, 09:00 local: in time to cancel before the cut-off
CONFIRM_WITHIN = timedelta(hours=24)  # a grid worker's booking waits this long for the household's OK
MAX_CAPACITY = 200


@dataclass(frozen=True)
class When:
    """Now (from the injected clock) and the node's time zone, for local days and times."""

    now: datetime
    tz: ZoneInfo

    @property
    def today(self) -> date:
        return self.now.astimezone(self.tz).date()

    def at(self, day: date, minute: int) -> datetime:
        local = datetime(day.year, day.month, day.day, minute // 60, minute % 60, tzinfo=self.tz)
        return local.astimezone(ZoneInfo("UTC"))


# --- times and rules -------------------------------------------------------------------------------


def start_minute(h: Hospital, period: Period) -> int:
    return h.morning_start_min if period is Period.morning else h.afternoon_start_min


def session_start(h: Hospital, s: HospitalSession, w: When) -> datetime:
    return w.at(s.day, start_minute(h, s.period))


def arrival_at(h: Hospital, s: HospitalSession, number: int, w: When) -> datetime:
    return w.at(s.day, start_minute(h, s.period) + (number - 1) * h.place_minutes)


def cancel_until(h: Hospital, day: date, w: When) -> datetime:
    return w.at(day - timedelta(days=1), h.cancel_cutoff_hour * 60)


def serial_of(period: Period, number: int) -> str:
    return f"{'A' if period is Period.morning else 'P'}{number:02d}"


def not_bookable(h: Hospital, s: HospitalSession, w: When) -> tuple[str, str] | None:
    """Why a session cannot be booked now (code, zh-CN / English text), or None."""
    if s.stopped:
        return "session_stopped", "该医生本次已停诊 / the doctor has stopped this session"
    if w.now >= session_start(h, s, w):
        return "session_started", "该时段已开始，不能再预约 / this session has already begun"
    opens = s.day - timedelta(days=h.booking_window_days)
    if w.today < opens:
        return (
            "outside_window",
            f"只能预约{h.booking_window_days}天内的号，本时段{opens.isoformat()}起可约 / bookings open "
            f"{h.booking_window_days} days ahead: this session opens on {opens.isoformat()}",
        )
    return None


def _free(w: When) -> ColumnElement[bool]:
    return and_(
        HospitalPlace.booking_id.is_(None),
        or_(HospitalPlace.held_until.is_(None), HospitalPlace.held_until <= w.now),
    )


# --- browsing --------------------------------------------------------------------------------------


async def list_hospitals(session: AsyncSession) -> Sequence[Hospital]:
    return (await session.scalars(select(Hospital).order_by(Hospital.id))).all()


async def get_hospital(session: AsyncSession, hospital_id: int) -> Hospital:
    h = await session.get(Hospital, hospital_id)
    if h is None:
        raise NotFound("hospital not found")
    return h


async def list_departments(session: AsyncSession, hospital_id: int) -> Sequence[HospitalDepartment]:
    await get_hospital(session, hospital_id)
    q = (
        select(HospitalDepartment)
        .where(HospitalDepartment.hospital_id == hospital_id)
        .order_by(HospitalDepartment.id)
    )
    return (await session.scalars(q)).all()


async def get_department(session: AsyncSession, department_id: int) -> HospitalDepartment:
    d = await session.get(HospitalDepartment, department_id)
    if d is None:
        raise NotFound("department not found")
    return d


async def list_doctors(session: AsyncSession, department_id: int) -> Sequence[HospitalDoctor]:
    await get_department(session, department_id)
    q = (
        select(HospitalDoctor)
        .where(HospitalDoctor.department_id == department_id)
        .order_by(HospitalDoctor.id)
    )
    return (await session.scalars(q)).all()


@dataclass(frozen=True)
class SessionView:
    session: HospitalSession
    hospital: Hospital
    doctor: HospitalDoctor
    free: int
    booked: int
    why_not: tuple[str, str] | None
    starts_at: datetime


async def _session_views(
    session: AsyncSession, where: list[ColumnElement[bool]], w: When
) -> list[SessionView]:
    q = (
        select(
            HospitalSession,
            Hospital,
            HospitalDoctor,
            func.sum(case((_free(w), 1), else_=0)),
            func.sum(case((HospitalPlace.booking_id.is_not(None), 1), else_=0)),
        )
        .join(Hospital, Hospital.id == HospitalSession.hospital_id)
        .join(HospitalDoctor, HospitalDoctor.id == HospitalSession.doctor_id)
        .outerjoin(HospitalPlace, HospitalPlace.session_id == HospitalSession.id)
        .where(*where)
        .group_by(HospitalSession.id, Hospital.id, HospitalDoctor.id)
        .order_by(HospitalSession.day, HospitalSession.period, HospitalSession.doctor_id)
    )
    out = []
    for s, h, d, free, booked in (await session.execute(q)).all():
        out.append(
            SessionView(
                s, h, d, int(free or 0), int(booked or 0), not_bookable(h, s, w), session_start(h, s, w)
            )
        )
    return out


async def list_sessions(
    session: AsyncSession,
    department_id: int,
    w: When,
    *,
    start: date | None = None,
    end: date | None = None,
    doctor_id: int | None = None,
) -> list[SessionView]:
    dept = await get_department(session, department_id)
    h = await get_hospital(session, dept.hospital_id)
    start = start or w.today
    end = end or w.today + timedelta(days=h.booking_window_days)
    where: list[ColumnElement[bool]] = [
        HospitalSession.department_id == department_id,
        HospitalSession.day >= start,
        HospitalSession.day <= end,
    ]
    if doctor_id is not None:
        where.append(HospitalSession.doctor_id == doctor_id)
    return await _session_views(session, where, w)


async def session_view(session: AsyncSession, session_id: int, w: When) -> SessionView:
    found = await _session_views(session, [HospitalSession.id == session_id], w)
    if not found:
        raise NotFound("session not found")
    return found[0]


async def session_places(
    session: AsyncSession, view: SessionView, w: When
) -> list[tuple[int, datetime, bool]]:
    rows = await session.execute(
        select(HospitalPlace.number, _free(w))
        .where(HospitalPlace.session_id == view.session.id)
        .order_by(HospitalPlace.number)
    )
    return [(n, arrival_at(view.hospital, view.session, n, w), bool(free)) for n, free in rows.all()]


# --- holds -----------------------------------------------------------------------------------------


async def _load_session(session: AsyncSession, session_id: int) -> tuple[HospitalSession, Hospital]:
    s = await session.get(HospitalSession, session_id)
    if s is None:
        raise NotFound("session not found")
    h = await session.get(Hospital, s.hospital_id)
    assert h is not None
    return s, h


def _refuse_unbookable(h: Hospital, s: HospitalSession, w: When) -> None:
    why = not_bookable(h, s, w)
    if why is not None:
        raise ValidationFailed(why[1], code=why[0])


async def _claim(
    session: AsyncSession,
    s: HospitalSession,
    number: int | None,
    token: str,
    until: datetime,
    by: int,
    w: When,
) -> HospitalPlace | None:
    """Take a free place (that number, or the lowest free) for `token` by a conditional UPDATE: the one
    transaction whose UPDATE matched the row wins; the others see 0 rows and try the next place."""
    q = select(HospitalPlace.id).where(HospitalPlace.session_id == s.id, _free(w))
    if number is not None:
        q = q.where(HospitalPlace.number == number)
    candidates = list((await session.scalars(q.order_by(HospitalPlace.number).limit(8))).all())
    for place_id in candidates:
        won = await session.execute(
            update(HospitalPlace)
            .where(HospitalPlace.id == place_id, _free(w))
            .values(hold_token=token, held_until=until, held_by=by)
            .execution_options(synchronize_session=False)
        )
        if timers.rowcount(won) == 1:
            place = await session.get(HospitalPlace, place_id, populate_existing=True)
            assert place is not None
            return place
    return None


# Built once with bound parameters: the read that answers most attempts in a rush (has_free_place)
# then costs no statement building and no cache-key walk per request.
_HAS_FREE_PLACE = select(
    select(HospitalPlace.id)
    .where(
        HospitalPlace.session_id == bindparam("session_id"),
        HospitalPlace.booking_id.is_(None),
        or_(HospitalPlace.held_until.is_(None), HospitalPlace.held_until <= bindparam("now")),
    )
    .exists()
).where(HospitalSession.id == bindparam("session_id"))


async def has_free_place(session: AsyncSession, session_id: int, w: When) -> bool:
    """One indexed read, in a read session: when a session is full, the many who come too late are
    answered without queueing for the write turn (the conditional UPDATE still decides every race)."""
    row = (await session.execute(_HAS_FREE_PLACE, {"session_id": session_id, "now": w.now})).first()
    if row is None:
        raise NotFound("session not found")
    return bool(row[0])


@dataclass(frozen=True)
class Hold:
    token: str
    session_id: int
    number: int
    arrival_at: datetime
    expires_at: datetime


async def hold_place(
    session: AsyncSession, p: Principal, session_id: int, number: int | None, w: When
) -> Hold:
    """Keep a place for the caller while the form is filled; a new hold releases their others."""
    s, h = await _load_session(session, session_id)
    _refuse_unbookable(h, s, w)
    if number is not None and not 1 <= number <= s.capacity:
        raise NotFound("place not found")
    await session.execute(
        update(HospitalPlace)
        .where(HospitalPlace.held_by == p.user_id, HospitalPlace.booking_id.is_(None))
        .values(hold_token=None, held_until=None, held_by=None)
        .execution_options(synchronize_session=False)
    )
    token = secrets.token_hex(16)
    until = w.now + timedelta(minutes=h.hold_minutes)
    place = await _claim(session, s, number, token, until, p.user_id, w)
    if place is None:
        if number is not None:
            raise Conflict("该号已被他人选择 / this place was just taken", code="place_taken")
        raise Conflict("本时段已约满 / this session is fully booked", code="session_full")
    return Hold(token, s.id, place.number, arrival_at(h, s, place.number, w), until)


async def release_hold(session: AsyncSession, p: Principal, token: str, w: When) -> None:
    gone = await session.execute(
        update(HospitalPlace)
        .where(
            HospitalPlace.hold_token == token,
            HospitalPlace.held_by == p.user_id,
            HospitalPlace.booking_id.is_(None),
            HospitalPlace.held_until > w.now,
        )
        .values(hold_token=None, held_until=None, held_by=None)
        .execution_options(synchronize_session=False)
    )
    if timers.rowcount(gone) != 1:
        raise NotFound("hold not found")


# --- booking ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Patient:
    name: str
    id_number: str
    phone: str


def check_patient(name: str, id_number: str, phone: str, w: When) -> Patient:
    clean = " ".join(name.split())
    if not 2 <= len(clean) <= 64:
        raise ValidationFailed("请填写就诊人真实姓名 / the patient's real name is required", code="name")
    info = idcheck.parse(id_number, today=w.today)
    return Patient(clean, info.number, idcheck.check_phone(phone))


def _active_key(h: Hospital, s: HospitalSession, id_number: str) -> str | None:
    if h.per_department_per_day != 1:
        return None  # a looser rule is counted in `check_person`, not held by the unique index
    return f"{s.hospital_id}:{s.department_id}:{s.day.isoformat()}:{id_number}"


async def check_person(
    session: AsyncSession, h: Hospital, s: HospitalSession, id_number: str, w: When
) -> None:
    block = (
        await session.execute(
            select(func.max(HospitalBlock.until)).where(
                HospitalBlock.hospital_id == h.id,
                HospitalBlock.id_number == id_number,
                HospitalBlock.until > w.today,
            )
        )
    ).scalar_one_or_none()
    if block is not None:
        raise ValidationFailed(
            f"因{h.no_show_window_days}天内爽约{h.no_show_limit}次，{block.isoformat()}前不能在本院预约 / "
            f"{h.no_show_limit} missed appointments in {h.no_show_window_days} days: booking at this "
            f"hospital is blocked until {block.isoformat()}",
            code="blocked_no_show",
        )
    same_day = (
        await session.execute(
            select(func.count())
            .select_from(HospitalBooking)
            .where(
                HospitalBooking.hospital_id == h.id,
                HospitalBooking.department_id == s.department_id,
                HospitalBooking.day == s.day,
                HospitalBooking.id_number == id_number,
                HospitalBooking.state.in_(
                    [BookingState.pending, BookingState.booked, BookingState.attended, BookingState.no_show]
                ),
            )
        )
    ).scalar_one()
    if same_day >= h.per_department_per_day:
        raise Conflict(_ONE_PER_DEPT, code="one_per_department")


_ONE_PER_DEPT = (
    "同一就诊人同一天同一科室只能预约一个号 / one booking per person per department per day: this "
    "person already has one"
)
_TAKEN = "该号刚被他人约走，请另选 / the place was just taken: please pick another"


async def _household(session: AsyncSession, household_id: int) -> tuple[Household, str]:
    row = (
        await session.execute(
            select(Household, Region.path)
            .join(Region, Region.id == Household.region_id)
            .where(Household.id == household_id)
        )
    ).first()
    if row is None:
        raise NotFound("household not found")
    return row[0], row[1]


async def book(
    session: AsyncSession,
    p: Principal,
    actor: Actor,
    *,
    hold_token: str | None,
    session_id: int | None,
    household_id: int | None,
    patient: Patient,
    w: When,
) -> HospitalBooking:
    """Book a held place (or the lowest free place of a session) for a member of a household."""
    target = household_id if household_id is not None else p.household_id
    if target is None:
        raise ValidationFailed("household_id is required", code="household_required")
    household, path = await _household(session, target)
    if not policy.may_book_for(p, household.id, path):
        raise NotFound("household not found")
    place: HospitalPlace | None = None
    if hold_token is not None:
        place = (
            await session.scalars(
                select(HospitalPlace).where(
                    HospitalPlace.hold_token == hold_token,
                    HospitalPlace.held_by == p.user_id,
                    HospitalPlace.booking_id.is_(None),
                )
            )
        ).first()
        if place is None or place.held_until is None or place.held_until <= w.now:
            raise Conflict(
                "保留的号已过期，请重新选择 / the hold has expired: pick a place again", code="hold_expired"
            )
        if session_id is not None and session_id != place.session_id:
            raise ValidationFailed("the hold is for another session", code="hold_session")
        session_id = place.session_id
    if session_id is None:
        raise ValidationFailed("give a hold or a session_id", code="place_required")
    s, h = await _load_session(session, session_id)
    _refuse_unbookable(h, s, w)
    await check_person(session, h, s, patient.id_number, w)
    token = hold_token or secrets.token_hex(16)
    if place is None:
        place = await _claim(session, s, None, token, w.now + timedelta(minutes=1), p.user_id, w)
        if place is None:
            raise Conflict("本时段已约满 / this session is fully booked", code="session_full")
    pending = policy.needs_household_ok(p)
    booking = HospitalBooking(
        hospital_id=h.id,
        department_id=s.department_id,
        doctor_id=s.doctor_id,
        session_id=s.id,
        number=place.number,
        serial=serial_of(s.period, place.number),
        day=s.day,
        period=s.period,
        arrival_at=arrival_at(h, s, place.number, w),
        household_id=household.id,
        booked_by=p.user_id,
        by_grid_worker=pending,
        patient_name=patient.name,
        id_number=patient.id_number,
        phone=patient.phone,
        state=BookingState.pending if pending else BookingState.booked,
        slot_key=f"{s.id}:{place.number}",
        active_key=_active_key(h, s, patient.id_number),
        created_at=w.now,
        note="",
    )
    session.add(booking)
    await _flush_booking(session)
    taken = await session.execute(
        update(HospitalPlace)
        .where(
            HospitalPlace.id == place.id,
            HospitalPlace.booking_id.is_(None),
            HospitalPlace.hold_token == token,
            HospitalPlace.held_until > w.now,
        )
        .values(booking_id=booking.id, hold_token=None, held_until=None, held_by=None)
        .execution_options(synchronize_session=False)
    )
    if timers.rowcount(taken) != 1:
        raise Conflict(_TAKEN, code="place_taken")
    dept = await session.get(HospitalDepartment, s.department_id)
    doctor = await session.get(HospitalDoctor, s.doctor_id)
    assert dept is not None and doctor is not None
    if pending:
        await _tell(session, booking, "pending_confirm", w, _texts_pending(booking, h, dept, doctor, w))
        due = min(w.now + CONFIRM_WITHIN, session_start(h, s, w))
        await timers.schedule(
            session, CONFIRM_KIND, due, {"booking_id": booking.id}, key=_confirm_key(booking.id)
        )
    else:
        await _tell(session, booking, "booked", w, _texts_booked(booking, h, dept, doctor, w))
        await _schedule_reminder(session, booking, w)
    await audit.append(
        session,
        actor,
        "hospital.book",
        at=w.now,
        target_type="hospital_booking",
        target_id=booking.id,
        detail={
            "session": s.id,
            "number": place.number,
            "household": household.id,
            "state": booking.state.value,
        },
    )
    return booking


async def _flush_booking(session: AsyncSession) -> None:
    """The unique keys of a live booking are the database's last word on a race."""
    try:
        await session.flush()
    except IntegrityError as exc:
        if "active_key" in str(exc.orig):
            raise Conflict(_ONE_PER_DEPT, code="one_per_department") from None
        raise Conflict(_TAKEN, code="place_taken") from None


def _reminder_key(booking_id: int) -> str:
    return f"hospital.reminder.{booking_id}"


def _confirm_key(booking_id: int) -> str:
    return f"hospital.confirm.{booking_id}"


async def _schedule_reminder(session: AsyncSession, booking: HospitalBooking, w: When) -> None:
    due = w.at(booking.day - timedelta(days=1), REMINDER_LOCAL_MIN)
    if due > w.now:  # booked later than that: the "booked" message is the reminder
        await timers.schedule(
            session, REMINDER_KIND, due, {"booking_id": booking.id}, key=_reminder_key(booking.id)
        )


# --- reading, cancelling, confirming ---------------------------------------------------------------


async def get_booking(session: AsyncSession, p: Principal, booking_id: int) -> HospitalBooking:
    b = await session.get(HospitalBooking, booking_id)
    if b is None or not policy.may_read_booking(p, b.household_id, b.booked_by):
        raise NotFound("booking not found")
    return b


async def list_bookings(
    session: AsyncSession, p: Principal, state: BookingState | None, limit: int, offset: int
) -> Sequence[HospitalBooking]:
    q = select(HospitalBooking).where(
        policy.booking_filter(p, HospitalBooking.household_id, HospitalBooking.booked_by)
    )
    if state is not None:
        q = q.where(HospitalBooking.state == state)
    q = q.order_by(HospitalBooking.day.desc(), HospitalBooking.arrival_at.desc(), HospitalBooking.id.desc())
    return (await session.scalars(q.limit(limit).offset(offset))).all()


async def note_read(
    session: AsyncSession, p: Principal, actor: Actor, bookings: Sequence[HospitalBooking], w: When
) -> None:
    """A grid worker reading the bookings they made for others reads personal data: audited. A
    household reading its own is not."""
    if p.role is Role.resident or not bookings:
        return
    await audit.append(
        session,
        actor,
        "hospital.booking.read",
        at=w.now,
        target_type="hospital_booking",
        target_id=bookings[0].id if len(bookings) == 1 else "",
        detail={"ids": [b.id for b in bookings[:100]], "count": len(bookings)},
    )


async def _free_place(session: AsyncSession, booking: HospitalBooking) -> None:
    await session.execute(
        update(HospitalPlace)
        .where(HospitalPlace.booking_id == booking.id)
        .values(booking_id=None)
        .execution_options(synchronize_session=False)
    )


async def _close(session: AsyncSession, b: HospitalBooking, state: BookingState, w: When) -> None:
    b.state = state
    b.slot_key = None
    b.active_key = None
    b.closed_at = w.now
    await _free_place(session, b)
    await timers.cancel(session, _reminder_key(b.id))
    await timers.cancel(session, _confirm_key(b.id))


async def cancel(
    session: AsyncSession, p: Principal, actor: Actor, booking_id: int, w: When, *, declined: bool = False
) -> HospitalBooking:
    b = await get_booking(session, p, booking_id)
    if declined and not policy.may_confirm(p, b.household_id):
        raise NotFound("booking not found")
    if b.state not in LIVE_STATES or (declined and b.state is not BookingState.pending):
        raise Conflict(f"this booking is {b.state.value}", code="not_cancellable")
    h = await get_hospital(session, b.hospital_id)
    until = cancel_until(h, b.day, w)
    if b.state is BookingState.booked and w.now >= until:
        local = until.astimezone(w.tz)
        raise ValidationFailed(
            f"就诊前一天{local:%H:%M}后不能取消，请联系医院 / bookings can be cancelled until "
            f"{local:%Y-%m-%d %H:%M}: please call the hospital",
            code="cancel_cutoff",
        )
    await _close(session, b, BookingState.cancelled, w)
    await _tell(
        session,
        b,
        "cancelled",
        w,
        (
            "预约已取消",
            "Booking cancelled",
            f"{b.patient_name} {b.day.isoformat()} {_period_zh(b.period)} {b.serial}号的预约已取消。",
            f"The booking of {b.patient_name} on {b.day.isoformat()} {b.period.value}, number {b.serial}, "
            "is cancelled.",
        ),
    )
    await audit.append(
        session,
        actor,
        "hospital.decline" if declined else "hospital.cancel",
        at=w.now,
        target_type="hospital_booking",
        target_id=b.id,
    )
    return b


async def confirm(
    session: AsyncSession, p: Principal, actor: Actor, booking_id: int, w: When
) -> HospitalBooking:
    """The household's OK on the TV to a booking a grid worker made for it."""
    b = await get_booking(session, p, booking_id)
    if not policy.may_confirm(p, b.household_id):
        raise NotFound("booking not found")
    if b.state is not BookingState.pending:
        raise Conflict(f"this booking is {b.state.value}", code="not_pending")
    b.state = BookingState.booked
    b.confirmed_at = w.now
    await timers.cancel(session, _confirm_key(b.id))
    h = await get_hospital(session, b.hospital_id)
    dept = await session.get(HospitalDepartment, b.department_id)
    doctor = await session.get(HospitalDoctor, b.doctor_id)
    assert dept is not None and doctor is not None
    await _tell(session, b, "booked", w, _texts_booked(b, h, dept, doctor, w))
    await _schedule_reminder(session, b, w)
    await audit.append(
        session, actor, "hospital.confirm", at=w.now, target_type="hospital_booking", target_id=b.id
    )
    return b


async def expire_pending(session: AsyncSession, booking_id: int, w: When) -> bool:
    """The confirmation timer: a booking still waiting for the household's OK is cancelled."""
    b = await session.get(HospitalBooking, booking_id)
    if b is None or b.state is not BookingState.pending:
        return False
    await _close(session, b, BookingState.cancelled, w)
    await _tell(
        session,
        b,
        "cancelled",
        w,
        (
            "预约未确认，已取消",
            "Unconfirmed booking cancelled",
            f"网格员为{b.patient_name}预约的{b.day.isoformat()} {_period_zh(b.period)}号"
            "未获确认，已自动取消。",
            f"The booking a grid worker made for {b.patient_name} on {b.day.isoformat()} was not confirmed "
            "and has been cancelled.",
        ),
    )
    await audit.append(
        session, audit.SYSTEM, "hospital.expire", at=w.now, target_type="hospital_booking", target_id=b.id
    )
    return True


async def remind(session: AsyncSession, booking_id: int, w: When) -> bool:
    """The reminder timer, the day before."""
    b = await session.get(HospitalBooking, booking_id)
    if b is None or b.state is not BookingState.booked:
        return False
    h = await get_hospital(session, b.hospital_id)
    dept = await session.get(HospitalDepartment, b.department_id)
    assert dept is not None
    local = b.arrival_at.astimezone(w.tz)
    cut = cancel_until(h, b.day, w).astimezone(w.tz)
    await _tell(
        session,
        b,
        "reminder",
        w,
        (
            "明天就诊提醒",
            "Appointment tomorrow",
            f"{b.patient_name}明天{local:%H:%M}到{h.name}{dept.name}就诊，序号{b.serial}。请带身份证。"
            f"不能去请在今天{cut:%H:%M}前取消。",
            f"{b.patient_name}: tomorrow at {local:%H:%M}, {h.name_en or h.name}, "
            f"{dept.name_en or dept.name}, "
            f"number {b.serial}. Bring the ID card. Cancel before {cut:%H:%M} today if you cannot go.",
        ),
    )
    return True


# --- messages --------------------------------------------------------------------------------------

Texts = tuple[str, str, str, str]  # title, title_en, body, body_en


def _period_zh(period: Period) -> str:
    return "上午" if period is Period.morning else "下午"


def _texts_booked(
    b: HospitalBooking, h: Hospital, d: HospitalDepartment, doc: HospitalDoctor, w: When
) -> Texts:
    local = b.arrival_at.astimezone(w.tz)
    return (
        "预约成功",
        "Booked",
        f"{b.patient_name}：{h.name} {d.name} {doc.name}{doc.title}，"
        f"{b.day.isoformat()} {_period_zh(b.period)}，"
        f"序号{b.serial}，请于{local:%H:%M}前到达。",
        f"{b.patient_name}: {h.name_en or h.name}, {d.name_en or d.name}, Dr {doc.name}, {b.day.isoformat()} "
        f"{b.period.value}, number {b.serial}; please arrive by {local:%H:%M}.",
    )


def _texts_pending(
    b: HospitalBooking, h: Hospital, d: HospitalDepartment, doc: HospitalDoctor, w: When
) -> Texts:
    _, _, body, body_en = _texts_booked(b, h, d, doc, w)
    return (
        "网格员为您预约，请按OK确认",
        "Your grid worker booked for you: press OK to confirm",
        body,
        body_en,
    )


async def _tell(session: AsyncSession, b: HospitalBooking, kind: str, w: When, texts: Texts) -> None:
    title, title_en, body, body_en = texts
    push.told(session, b.household_id)  # the TV and phone are nudged once this commits
    session.add(
        HospitalMessage(
            household_id=b.household_id,
            booking_id=b.id,
            kind=kind,
            title=title,
            title_en=title_en,
            body=body,
            body_en=body_en,
            created_at=w.now,
        )
    )


async def list_messages(
    session: AsyncSession, p: Principal, unread: bool, limit: int
) -> Sequence[HospitalMessage]:
    if p.role is not Role.resident or p.household_id is None:
        return []
    q = select(HospitalMessage).where(HospitalMessage.household_id == p.household_id)
    if unread:
        q = q.where(HospitalMessage.read_at.is_(None))
    return (await session.scalars(q.order_by(HospitalMessage.id.desc()).limit(limit))).all()


async def mark_read(session: AsyncSession, p: Principal, message_id: int, w: When) -> None:
    m = await session.get(HospitalMessage, message_id)
    if m is None or p.household_id is None or m.household_id != p.household_id or p.role is not Role.resident:
        raise NotFound("message not found")
    if m.read_at is None:
        m.read_at = w.now


# --- staff -----------------------------------------------------------------------------------------


async def linked_hospitals(session: AsyncSession, p: Principal) -> frozenset[int]:
    rows = await session.scalars(select(HospitalStaff.hospital_id).where(HospitalStaff.user_id == p.user_id))
    return frozenset(rows.all())


async def staff_hospital(
    session: AsyncSession, p: Principal, hospital_id: int, missing: str = "hospital not found"
) -> Hospital:
    """The hospital, if the caller runs it; otherwise the 404 of the object asked for (`missing`)."""
    if not policy.may_manage(p, hospital_id, await linked_hospitals(session, p)):
        raise NotFound(missing)
    return await get_hospital(session, hospital_id)


async def staff_hospitals(session: AsyncSession, p: Principal) -> Sequence[Hospital]:
    if policy.manages_all_hospitals(p):
        return await list_hospitals(session)
    linked = await linked_hospitals(session, p)
    return (
        await session.scalars(select(Hospital).where(Hospital.id.in_(linked)).order_by(Hospital.id))
    ).all()


async def default_hospital(session: AsyncSession, p: Principal, hospital_id: int | None) -> Hospital:
    if hospital_id is not None:
        return await staff_hospital(session, p, hospital_id)
    mine = await staff_hospitals(session, p)
    if not mine:
        raise NotFound("hospital not found")
    return mine[0]


async def staff_sessions(
    session: AsyncSession,
    p: Principal,
    hospital_id: int | None,
    day: date,
    department_id: int | None,
    w: When,
) -> list[SessionView]:
    h = await default_hospital(session, p, hospital_id)
    where: list[ColumnElement[bool]] = [HospitalSession.hospital_id == h.id, HospitalSession.day == day]
    if department_id is not None:
        where.append(HospitalSession.department_id == department_id)
    return await _session_views(session, where, w)


async def insert_places(session: AsyncSession, sessions: list[tuple[int, int]]) -> None:
    """Numbered places 1..capacity for each (session id, capacity), in one statement."""
    rows = [{"session_id": sid, "number": n} for sid, cap in sessions for n in range(1, cap + 1)]
    if rows:
        await session.execute(insert(HospitalPlace), rows)


async def create_session(
    session: AsyncSession,
    p: Principal,
    actor: Actor,
    *,
    doctor_id: int,
    day: date,
    period: Period,
    capacity: int,
    w: When,
) -> HospitalSession:
    doctor = await session.get(HospitalDoctor, doctor_id)
    if doctor is None:
        raise NotFound("doctor not found")
    dept = await get_department(session, doctor.department_id)
    await staff_hospital(session, p, dept.hospital_id, "doctor not found")
    if not 1 <= capacity <= MAX_CAPACITY:
        raise ValidationFailed(f"capacity must be 1-{MAX_CAPACITY}", code="capacity")
    if day < w.today:
        raise ValidationFailed("a session cannot be set up in the past", code="past_day")
    exists = await session.scalar(
        select(HospitalSession.id).where(
            HospitalSession.doctor_id == doctor_id,
            HospitalSession.day == day,
            HospitalSession.period == period,
        )
    )
    if exists is not None:
        raise Conflict("this doctor already has that session", code="session_exists")
    s = HospitalSession(
        hospital_id=dept.hospital_id,
        department_id=dept.id,
        doctor_id=doctor.id,
        day=day,
        period=period,
        capacity=capacity,
        stopped=False,
        stop_reason="",
    )
    session.add(s)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict("this doctor already has that session", code="session_exists") from None
    await insert_places(session, [(s.id, capacity)])
    await audit.append(
        session,
        actor,
        "hospital.session.create",
        at=w.now,
        target_type="hospital_session",
        target_id=s.id,
        detail={"doctor": doctor.id, "day": day.isoformat(), "period": period.value, "capacity": capacity},
    )
    return s


@dataclass(frozen=True)
class Schedule:
    created: int
    skipped: int  # the doctor already had that session


async def create_schedule(
    session: AsyncSession,
    p: Principal,
    actor: Actor,
    *,
    doctor_ids: list[int],
    start: date,
    end: date,
    periods: list[Period],
    capacity: int,
    w: When,
) -> Schedule:
    """A timetable at once (e.g. every doctor of a department, both periods, for the next weeks);
    sessions a doctor already has are left as they are."""
    if not 1 <= capacity <= MAX_CAPACITY:
        raise ValidationFailed(f"capacity must be 1-{MAX_CAPACITY}", code="capacity")
    if start < w.today or end < start or (end - start).days > 62:
        raise ValidationFailed("the days must run forward from today, at most 63 of them", code="days")
    doctors = (
        await session.execute(
            select(HospitalDoctor.id, HospitalDepartment.id, HospitalDepartment.hospital_id)
            .join(HospitalDepartment, HospitalDepartment.id == HospitalDoctor.department_id)
            .where(HospitalDoctor.id.in_(doctor_ids))
        )
    ).all()
    linked = await linked_hospitals(session, p)
    if len(doctors) != len(set(doctor_ids)) or not all(
        policy.may_manage(p, h, linked) for _, _, h in doctors
    ):
        raise NotFound("doctor not found")
    existing = set(
        (
            await session.execute(
                select(HospitalSession.doctor_id, HospitalSession.day, HospitalSession.period).where(
                    HospitalSession.doctor_id.in_(doctor_ids),
                    HospitalSession.day >= start,
                    HospitalSession.day <= end,
                )
            )
        ).all()
    )
    rows = []
    for doc, dept, hosp in doctors:
        for n in range((end - start).days + 1):
            day = start + timedelta(days=n)
            for period in dict.fromkeys(periods):
                if (doc, day, period) not in existing:
                    rows.append((doc, dept, hosp, day, period))
    created = []
    for doc, dept, hosp, day, period in rows:
        s = HospitalSession(
            hospital_id=hosp,
            department_id=dept,
            doctor_id=doc,
            day=day,
            period=period,
            capacity=capacity,
            stopped=False,
            stop_reason="",
        )
        session.add(s)
        created.append(s)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict("sessions were set up at the same time: try again", code="session_exists") from None
    await insert_places(session, [(s.id, capacity) for s in created])
    await audit.append(
        session,
        actor,
        "hospital.session.schedule",
        at=w.now,
        target_type="hospital_session",
        detail={
            "doctors": sorted(set(doctor_ids)),
            "from": start.isoformat(),
            "to": end.isoformat(),
            "periods": [x.value for x in periods],
            "capacity": capacity,
            "created": len(created),
        },
    )
    return Schedule(len(created), len(doctors) * ((end - start).days + 1) * len(set(periods)) - len(created))


@dataclass(frozen=True)
class StopResult:
    session: HospitalSession
    moved: int
    cancelled: int


async def stop_session(
    session: AsyncSession, p: Principal, actor: Actor, session_id: int, reason: str, move: bool, w: When
) -> StopResult:
    """停诊: each live booking moves to a free place of another open session of the department that day
    (same period first), else is cancelled; every household is told."""
    s, h = await _load_session(session, session_id)
    await staff_hospital(session, p, s.hospital_id, "session not found")
    if s.stopped:
        raise Conflict("this session is already stopped", code="already_stopped")
    s.stopped = True
    s.stopped_at = w.now
    s.stop_reason = reason.strip()[:200]
    await session.execute(
        update(HospitalPlace)
        .where(HospitalPlace.session_id == s.id, HospitalPlace.booking_id.is_(None))
        .values(hold_token=None, held_until=None, held_by=None)
        .execution_options(synchronize_session=False)
    )
    live = (
        await session.scalars(
            select(HospitalBooking)
            .where(HospitalBooking.session_id == s.id, HospitalBooking.state.in_(list(LIVE_STATES)))
            .order_by(HospitalBooking.number)
        )
    ).all()
    targets: list[HospitalSession] = []
    if move and live:
        others = (
            await session.scalars(
                select(HospitalSession).where(
                    HospitalSession.department_id == s.department_id,
                    HospitalSession.day == s.day,
                    HospitalSession.id != s.id,
                    HospitalSession.stopped.is_(False),
                )
            )
        ).all()
        targets = sorted(
            (o for o in others if session_start(h, o, w) > w.now),
            key=lambda o: (o.period is not s.period, o.period.value, o.doctor_id),
        )
    moved = cancelled = 0
    doctor = await session.get(HospitalDoctor, s.doctor_id)
    dept = await session.get(HospitalDepartment, s.department_id)
    assert doctor is not None and dept is not None
    for b in live:
        new = await _move(session, b, targets, h, w) if targets else None
        if new is not None:
            moved += 1
            new_doc = await session.get(HospitalDoctor, new.doctor_id)
            assert new_doc is not None
            local = new.arrival_at.astimezone(w.tz)
            await _tell(
                session,
                new,
                "moved",
                w,
                (
                    "医生停诊，已为您改约",
                    "Doctor unavailable: your booking was moved",
                    f"{doctor.name}医生{b.day.isoformat()} {_period_zh(b.period)}停诊。"
                    f"{new.patient_name}已改约"
                    f"{new_doc.name}{new_doc.title}，{_period_zh(new.period)}序号{new.serial}，请于{local:%H:%M}前到达。",
                    f"Dr {doctor.name} is not available on {b.day.isoformat()} {b.period.value}. "
                    f"{new.patient_name} is moved to Dr {new_doc.name}, {new.period.value}, "
                    f"number {new.serial}; "
                    f"please arrive by {local:%H:%M}.",
                ),
            )
        else:
            cancelled += 1
            await _close(session, b, BookingState.cancelled, w)
            b.note = "stopped"
            await _tell(
                session,
                b,
                "stopped_cancelled",
                w,
                (
                    "医生停诊，预约已取消",
                    "Doctor unavailable: booking cancelled",
                    f"{dept.name}{doctor.name}医生{b.day.isoformat()} {_period_zh(b.period)}停诊，"
                    f"{b.patient_name}的预约已取消，请另约。",
                    f"Dr {doctor.name} ({dept.name_en or dept.name}) is not available on {b.day.isoformat()} "
                    f"{b.period.value}; the booking of {b.patient_name} is cancelled. Please book again.",
                ),
            )
    await audit.append(
        session,
        actor,
        "hospital.session.stop",
        at=w.now,
        target_type="hospital_session",
        target_id=s.id,
        detail={"reason": s.stop_reason, "moved": moved, "cancelled": cancelled},
    )
    return StopResult(s, moved, cancelled)


async def _move(
    session: AsyncSession, b: HospitalBooking, targets: list[HospitalSession], h: Hospital, w: When
) -> HospitalBooking | None:
    for t in targets:
        token = secrets.token_hex(16)
        place = await _claim(session, t, None, token, w.now + timedelta(minutes=1), b.booked_by or 0, w)
        if place is None:
            continue
        state, active_key = b.state, b.active_key
        await _close(session, b, BookingState.moved, w)
        await session.flush()  # the old live keys go before the new booking takes them
        new = HospitalBooking(
            hospital_id=b.hospital_id,
            department_id=t.department_id,
            doctor_id=t.doctor_id,
            session_id=t.id,
            number=place.number,
            serial=serial_of(t.period, place.number),
            day=t.day,
            period=t.period,
            arrival_at=arrival_at(h, t, place.number, w),
            household_id=b.household_id,
            booked_by=b.booked_by,
            by_grid_worker=b.by_grid_worker,
            patient_name=b.patient_name,
            id_number=b.id_number,
            phone=b.phone,
            state=state,
            slot_key=f"{t.id}:{place.number}",
            active_key=active_key,
            created_at=w.now,
            confirmed_at=b.confirmed_at,
            note=f"moved from {b.id}",
        )
        session.add(new)
        await session.flush()
        b.moved_to_id = new.id
        taken = await session.execute(
            update(HospitalPlace)
            .where(HospitalPlace.id == place.id, HospitalPlace.hold_token == token)
            .values(booking_id=new.id, hold_token=None, held_until=None, held_by=None)
            .execution_options(synchronize_session=False)
        )
        assert timers.rowcount(taken) == 1  # claimed above in this transaction
        if state is BookingState.booked:
            await _schedule_reminder(session, new, w)
        else:
            due = min(w.now + CONFIRM_WITHIN, session_start(h, t, w))
            await timers.schedule(
                session, CONFIRM_KIND, due, {"booking_id": new.id}, key=_confirm_key(new.id)
            )
        return new
    return None


@dataclass(frozen=True)
class DayRow:
    booking: HospitalBooking
    department: str
    doctor: str
    booked_by: str


async def day_list(
    session: AsyncSession,
    p: Principal,
    actor: Actor,
    hospital_id: int | None,
    day: date,
    department_id: int | None,
    w: When,
) -> list[DayRow]:
    h = await default_hospital(session, p, hospital_id)
    q = (
        select(HospitalBooking, HospitalDepartment.name, HospitalDoctor.name, User.username)
        .join(HospitalDepartment, HospitalDepartment.id == HospitalBooking.department_id)
        .join(HospitalDoctor, HospitalDoctor.id == HospitalBooking.doctor_id)
        .outerjoin(User, User.id == HospitalBooking.booked_by)
        .where(
            HospitalBooking.hospital_id == h.id,
            HospitalBooking.day == day,
            HospitalBooking.state.not_in([BookingState.moved]),
        )
        .order_by(HospitalBooking.department_id, HospitalBooking.doctor_id, HospitalBooking.arrival_at)
    )
    if department_id is not None:
        q = q.where(HospitalBooking.department_id == department_id)
    rows = [DayRow(b, dn, dr, u or "") for b, dn, dr, u in (await session.execute(q)).all()]
    await audit.append(
        session,
        actor,
        "hospital.day_list",
        at=w.now,
        target_type="hospital",
        target_id=h.id,
        detail={"day": day.isoformat(), "department": department_id, "rows": len(rows)},
    )
    return rows


async def staff_booking(session: AsyncSession, p: Principal, booking_id: int) -> HospitalBooking:
    b = await session.get(HospitalBooking, booking_id)
    if b is None or not policy.may_manage(p, b.hospital_id, await linked_hospitals(session, p)):
        raise NotFound("booking not found")
    return b


async def read_personal(
    session: AsyncSession, p: Principal, actor: Actor, booking_id: int, w: When
) -> HospitalBooking:
    """The whole ID number and phone, for the desk: every read is on the audit trail."""
    b = await staff_booking(session, p, booking_id)
    await audit.append(
        session, actor, "hospital.booking.personal", at=w.now, target_type="hospital_booking", target_id=b.id
    )
    return b


async def mark(
    session: AsyncSession, p: Principal, actor: Actor, booking_id: int, state: BookingState, w: When
) -> HospitalBooking:
    """Attended or no-show, on or after the day; the limit-th no-show in the window blocks the ID."""
    assert state in (BookingState.attended, BookingState.no_show)
    b = await staff_booking(session, p, booking_id)
    if b.state not in (
        BookingState.booked,
        BookingState.pending,
        BookingState.attended,
        BookingState.no_show,
    ):
        raise Conflict(f"this booking is {b.state.value}", code="not_markable")
    if b.day > w.today:
        raise ValidationFailed("attendance is marked on the day, not before", code="not_yet")
    if b.state is state:
        return b
    b.state = state
    b.closed_at = w.now
    await timers.cancel(session, _reminder_key(b.id))
    await timers.cancel(session, _confirm_key(b.id))
    detail: dict[str, Any] = {}
    if state is BookingState.no_show:
        h = await get_hospital(session, b.hospital_id)
        await _tell(
            session,
            b,
            "no_show",
            w,
            (
                "爽约已记录",
                "Missed appointment recorded",
                f"{b.patient_name} {b.day.isoformat()} {_period_zh(b.period)}未按时就诊，已记爽约一次。"
                f"{h.no_show_window_days}天内爽约{h.no_show_limit}次将{h.block_days}天内不能预约。",
                f"{b.patient_name} missed the appointment on {b.day.isoformat()}. {h.no_show_limit} missed "
                f"appointments in {h.no_show_window_days} days block booking for {h.block_days} days.",
            ),
        )
        detail["blocked_until"] = await _maybe_block(session, h, b, w)
    await audit.append(
        session,
        actor,
        f"hospital.{state.value}",
        at=w.now,
        target_type="hospital_booking",
        target_id=b.id,
        detail=detail,
    )
    return b


async def _maybe_block(session: AsyncSession, h: Hospital, b: HospitalBooking, w: When) -> str | None:
    since = w.today - timedelta(days=h.no_show_window_days)
    count = (
        await session.execute(
            select(func.count())
            .select_from(HospitalBooking)
            .where(
                HospitalBooking.hospital_id == h.id,
                HospitalBooking.id_number == b.id_number,
                HospitalBooking.state == BookingState.no_show,
                HospitalBooking.day > since,
            )
        )
    ).scalar_one()
    if count < h.no_show_limit:
        return None
    until = w.today + timedelta(days=h.block_days)
    session.add(HospitalBlock(hospital_id=h.id, id_number=b.id_number, until=until, created_at=w.now))
    await _tell(
        session,
        b,
        "blocked",
        w,
        (
            "预约已暂停",
            "Booking suspended",
            f"{b.patient_name}在{h.name}{h.no_show_window_days}天内爽约{count}次，{until.isoformat()}前不能预约。",
            f"{b.patient_name} missed {count} appointments at {h.name_en or h.name} in "
            f"{h.no_show_window_days} days and may not book there until {until.isoformat()}.",
        ),
    )
    return until.isoformat()


async def link_staff(
    session: AsyncSession, actor: Actor, user_id: int, hospital_id: int, w: When
) -> HospitalStaff:
    user = await session.get(User, user_id)
    if user is None or user.role is not Role.hospital_staff:
        raise NotFound("hospital staff user not found")
    await get_hospital(session, hospital_id)
    link = (await session.scalars(select(HospitalStaff).where(HospitalStaff.user_id == user_id))).first()
    if link is None:
        link = HospitalStaff(user_id=user_id, hospital_id=hospital_id)
        session.add(link)
    else:
        link.hospital_id = hospital_id
    await session.flush()
    await audit.append(
        session,
        actor,
        "hospital.staff.link",
        at=w.now,
        target_type="user",
        target_id=user_id,
        detail={"hospital": hospital_id},
    )
    return link
