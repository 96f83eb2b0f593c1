"""The hospital API under /api/v1/hospital (docs/hospital-api.md). Thin: a route checks the role,
calls the service with the caller and `When` (the injected clock, the node's time zone), commits
changes, then answers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.deps import Ctx, CurrentCaller, ReadSession, Session, require
from xueliang.accounts.models import Role
from xueliang.accounts.policy import Permission
from xueliang.core.bounds import MAX_INT64, PathId, QueryId
from xueliang.core.context import AppContext
from xueliang.core.errors import Conflict, Forbidden
from xueliang.hospital import idcheck, policy, service
from xueliang.hospital.models import (
    BookingState,
    Hospital,
    HospitalBooking,
    HospitalDepartment,
    HospitalDoctor,
)
from xueliang.hospital.schemas import (
    BookingIn,
    BookingOut,
    DepartmentOut,
    DoctorOut,
    HoldIn,
    HoldOut,
    HospitalOut,
    IdCheckIn,
    IdCheckOut,
    MessageOut,
    PersonalOut,
    PlaceOut,
    RulesOut,
    ScheduleIn,
    ScheduleOut,
    SessionDetailOut,
    SessionIn,
    SessionOut,
    StaffBookingOut,
    StaffLinkIn,
    StaffLinkOut,
    StopIn,
    StopOut,
)

router = APIRouter(prefix="/hospital", tags=["hospital"])

DayQuery = Annotated[date, Query(ge=date(2000, 1, 1), le=date(2199, 12, 31))]


def when(ctx: AppContext) -> service.When:
    return service.When(ctx.clock.now(), ZoneInfo(ctx.settings.timezone))


def hospital_out(h: Hospital) -> HospitalOut:
    return HospitalOut(
        id=h.id,
        code=h.code,
        name=h.name,
        name_en=h.name_en,
        address=h.address,
        phone=h.phone,
        rules=RulesOut(
            booking_window_days=h.booking_window_days,
            cancel_cutoff_hour=h.cancel_cutoff_hour,
            per_department_per_day=h.per_department_per_day,
            no_show_limit=h.no_show_limit,
            no_show_window_days=h.no_show_window_days,
            block_days=h.block_days,
            hold_minutes=h.hold_minutes,
        ),
    )


def session_out(v: service.SessionView) -> SessionOut:
    s = v.session
    return SessionOut(
        id=s.id,
        hospital_id=s.hospital_id,
        department_id=s.department_id,
        doctor_id=s.doctor_id,
        doctor_name=v.doctor.name,
        doctor_title=v.doctor.title,
        day=s.day,
        period=s.period,
        starts_at=v.starts_at,
        capacity=s.capacity,
        free=v.free,
        booked=v.booked,
        stopped=s.stopped,
        stop_reason=s.stop_reason,
        bookable=v.why_not is None,
        reason="" if v.why_not is None else v.why_not[1],
    )


async def booking_outs(
    session: AsyncSession, bookings: Sequence[HospitalBooking], w: service.When
) -> list[BookingOut]:
    """Bookings with the names of their hospital, department and doctor (three lookups in all)."""
    hospitals = {h.id: h for h in await service.list_hospitals(session)}
    dept_ids = {b.department_id for b in bookings}
    doc_ids = {b.doctor_id for b in bookings}
    depts = {
        d.id: d.name
        for d in (
            await session.scalars(select(HospitalDepartment).where(HospitalDepartment.id.in_(dept_ids)))
        ).all()
    }
    docs = {
        d.id: d.name
        for d in (await session.scalars(select(HospitalDoctor).where(HospitalDoctor.id.in_(doc_ids)))).all()
    }
    out = []
    for b in bookings:
        h = hospitals[b.hospital_id]
        out.append(
            BookingOut(
                id=b.id,
                reference=f"{h.code}{b.day:%y%m%d}-{b.id:06d}",
                serial=b.serial,
                number=b.number,
                state=b.state,
                hospital_id=h.id,
                hospital_name=h.name,
                department_id=b.department_id,
                department_name=depts.get(b.department_id, ""),
                doctor_id=b.doctor_id,
                doctor_name=docs.get(b.doctor_id, ""),
                session_id=b.session_id,
                day=b.day,
                period=b.period,
                arrival_at=b.arrival_at,
                household_id=b.household_id,
                patient_name=b.patient_name,
                id_masked=idcheck.mask(b.id_number),
                phone_masked=idcheck.mask_phone(b.phone),
                created_at=b.created_at,
                cancel_until=service.cancel_until(h, b.day, w),
                moved_to_id=b.moved_to_id,
                booked_by_grid_worker=b.by_grid_worker,
            )
        )
    return out


async def booking_out(session: AsyncSession, b: HospitalBooking, w: service.When) -> BookingOut:
    return (await booking_outs(session, [b], w))[0]


# --- browse ----------------------------------------------------------------------------------------


@router.get("/hospitals", response_model=list[HospitalOut])
async def list_hospitals(caller: CurrentCaller, session: ReadSession) -> list[HospitalOut]:
    del caller  # any logged-in user: public information
    return [hospital_out(h) for h in await service.list_hospitals(session)]


@router.get("/hospitals/{hospital_id}/departments", response_model=list[DepartmentOut])
async def list_departments(
    hospital_id: PathId, caller: CurrentCaller, session: ReadSession
) -> list[DepartmentOut]:
    del caller
    return [
        DepartmentOut(
            id=d.id,
            hospital_id=d.hospital_id,
            code=d.code,
            name=d.name,
            name_en=d.name_en,
            location=d.location,
        )
        for d in await service.list_departments(session, hospital_id)
    ]


@router.get("/departments/{department_id}/doctors", response_model=list[DoctorOut])
async def list_doctors(department_id: PathId, caller: CurrentCaller, session: ReadSession) -> list[DoctorOut]:
    del caller
    return [
        DoctorOut(id=d.id, department_id=d.department_id, name=d.name, title=d.title, specialty=d.specialty)
        for d in await service.list_doctors(session, department_id)
    ]


@router.get("/departments/{department_id}/sessions", response_model=list[SessionOut])
async def list_sessions(
    department_id: PathId,
    caller: CurrentCaller,
    ctx: Ctx,
    session: ReadSession,
    start: DayQuery | None = Query(default=None, alias="from"),
    end: DayQuery | None = Query(default=None, alias="to"),
    doctor_id: QueryId | None = None,
) -> list[SessionOut]:
    del caller
    w = when(ctx)
    views = await service.list_sessions(session, department_id, w, start=start, end=end, doctor_id=doctor_id)
    return [session_out(v) for v in views]


@router.get("/sessions/{session_id}", response_model=SessionDetailOut)
async def get_session(
    session_id: PathId, caller: CurrentCaller, ctx: Ctx, session: ReadSession
) -> SessionDetailOut:
    del caller
    w = when(ctx)
    v = await service.session_view(session, session_id, w)
    places = [
        PlaceOut(number=n, arrival_at=at, free=free)
        for n, at, free in await service.session_places(session, v, w)
    ]
    return SessionDetailOut(**session_out(v).model_dump(), places=places)


# --- holds and bookings ----------------------------------------------------------------------------


def _may_book(caller: CurrentCaller) -> None:
    if not policy.may_book(caller.principal):
        raise Forbidden("your role may not book hospital places", code="forbidden")


@router.post("/holds", response_model=HoldOut, status_code=201)
async def hold(body: HoldIn, caller: CurrentCaller, ctx: Ctx, session: Session) -> HoldOut:
    _may_book(caller)
    held = await service.hold_place(session, caller.principal, body.session_id, body.number, when(ctx))
    await session.commit()
    return HoldOut(
        token=held.token,
        session_id=held.session_id,
        number=held.number,
        arrival_at=held.arrival_at,
        expires_at=held.expires_at,
    )


@router.delete("/holds/{token}", status_code=204, response_class=Response)
async def release(token: str, caller: CurrentCaller, ctx: Ctx, session: Session) -> Response:
    _may_book(caller)
    await service.release_hold(session, caller.principal, token[:64], when(ctx))
    await session.commit()
    return Response(status_code=204)


@router.post("/bookings", response_model=BookingOut, status_code=201)
async def book(
    body: BookingIn, caller: CurrentCaller, ctx: Ctx, session: Session, read: ReadSession
) -> BookingOut:
    _may_book(caller)
    w = when(ctx)
    patient = service.check_patient(body.patient_name, body.id_number, body.phone, w)
    if body.hold is None and body.session_id is not None:
        if not await service.has_free_place(read, body.session_id, w):
            raise Conflict("本时段已约满 / this session is fully booked", code="session_full")
        await read.rollback()  # its snapshot is not needed while the booking waits for the write turn
    b = await service.book(
        session,
        caller.principal,
        caller.actor,
        hold_token=body.hold,
        session_id=body.session_id,
        household_id=body.household_id,
        patient=patient,
        w=w,
    )
    out = await booking_out(session, b, w)
    await session.commit()
    return out


@router.get("/bookings", response_model=list[BookingOut])
async def list_bookings(
    caller: CurrentCaller,
    ctx: Ctx,
    session: Session,
    state: BookingState | None = None,
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=MAX_INT64),
) -> list[BookingOut]:
    w = when(ctx)
    found = await service.list_bookings(session, caller.principal, state, limit, offset)
    out = await booking_outs(session, found, w)
    await service.note_read(session, caller.principal, caller.actor, found, w)
    await session.commit()
    return out


@router.get("/bookings/{booking_id}", response_model=BookingOut)
async def get_booking(booking_id: PathId, caller: CurrentCaller, ctx: Ctx, session: Session) -> BookingOut:
    w = when(ctx)
    b = await service.get_booking(session, caller.principal, booking_id)
    out = await booking_out(session, b, w)
    await service.note_read(session, caller.principal, caller.actor, [b], w)
    await session.commit()
    return out


@router.post("/bookings/{booking_id}/cancel", response_model=BookingOut)
async def cancel(booking_id: PathId, caller: CurrentCaller, ctx: Ctx, session: Session) -> BookingOut:
    w = when(ctx)
    b = await service.cancel(session, caller.principal, caller.actor, booking_id, w)
    out = await booking_out(session, b, w)
    await session.commit()
    return out


@router.post("/bookings/{booking_id}/confirm", response_model=BookingOut)
async def confirm(booking_id: PathId, caller: CurrentCaller, ctx: Ctx, session: Session) -> BookingOut:
    w = when(ctx)
    b = await service.confirm(session, caller.principal, caller.actor, booking_id, w)
    out = await booking_out(session, b, w)
    await session.commit()
    return out


@router.post("/bookings/{booking_id}/decline", response_model=BookingOut)
async def decline(booking_id: PathId, caller: CurrentCaller, ctx: Ctx, session: Session) -> BookingOut:
    w = when(ctx)
    b = await service.cancel(session, caller.principal, caller.actor, booking_id, w, declined=True)
    out = await booking_out(session, b, w)
    await session.commit()
    return out


@router.get("/messages", response_model=list[MessageOut])
async def list_messages(
    caller: CurrentCaller,
    session: ReadSession,
    unread: bool = False,
    limit: int = Query(default=50, ge=1, le=500),
) -> list[MessageOut]:
    return [
        MessageOut(
            id=m.id,
            kind=m.kind,
            booking_id=m.booking_id,
            title=m.title,
            title_en=m.title_en,
            body=m.body,
            body_en=m.body_en,
            created_at=m.created_at,
            read_at=m.read_at,
        )
        for m in await service.list_messages(session, caller.principal, unread, limit)
    ]


@router.post("/messages/{message_id}/read", status_code=204, response_class=Response)
async def read_message(message_id: PathId, caller: CurrentCaller, ctx: Ctx, session: Session) -> Response:
    await service.mark_read(session, caller.principal, message_id, when(ctx))
    await session.commit()
    return Response(status_code=204)


@router.post("/id-check", response_model=IdCheckOut)
async def id_check(body: IdCheckIn, caller: CurrentCaller, ctx: Ctx) -> IdCheckOut:
    del caller
    info = idcheck.parse(body.id_number, today=when(ctx).today)
    return IdCheckOut(ok=True, birth_date=info.birth_date, sex=info.sex, masked=idcheck.mask(info.number))


# --- staff -----------------------------------------------------------------------------------------


@router.get("/staff/hospitals", response_model=list[HospitalOut])
async def staff_hospitals(caller: CurrentCaller, session: ReadSession) -> list[HospitalOut]:
    require(caller, Permission.manage_hospital)
    return [hospital_out(h) for h in await service.staff_hospitals(session, caller.principal)]


@router.get("/staff/sessions", response_model=list[SessionOut])
async def staff_sessions(
    caller: CurrentCaller,
    ctx: Ctx,
    session: ReadSession,
    day: DayQuery | None = None,
    hospital_id: QueryId | None = None,
    department_id: QueryId | None = None,
) -> list[SessionOut]:
    require(caller, Permission.manage_hospital)
    w = when(ctx)
    views = await service.staff_sessions(
        session, caller.principal, hospital_id, day or w.today, department_id, w
    )
    return [session_out(v) for v in views]


@router.post("/staff/sessions", response_model=SessionOut, status_code=201)
async def create_session(body: SessionIn, caller: CurrentCaller, ctx: Ctx, session: Session) -> SessionOut:
    require(caller, Permission.manage_hospital)
    w = when(ctx)
    s = await service.create_session(
        session,
        caller.principal,
        caller.actor,
        doctor_id=body.doctor_id,
        day=body.day,
        period=body.period,
        capacity=body.capacity,
        w=w,
    )
    await session.commit()
    return session_out(await service.session_view(session, s.id, w))


@router.post("/staff/schedule", response_model=ScheduleOut, status_code=201)
async def create_schedule(body: ScheduleIn, caller: CurrentCaller, ctx: Ctx, session: Session) -> ScheduleOut:
    """Many sessions at once: doctors x days x periods; those that exist are skipped."""
    require(caller, Permission.manage_hospital)
    done = await service.create_schedule(
        session,
        caller.principal,
        caller.actor,
        doctor_ids=list(body.doctor_ids),
        start=body.start,
        end=body.end,
        periods=list(body.periods),
        capacity=body.capacity,
        w=when(ctx),
    )
    await session.commit()
    return ScheduleOut(created=done.created, skipped=done.skipped)


@router.post("/staff/sessions/{session_id}/stop", response_model=StopOut)
async def stop_session(
    session_id: PathId, body: StopIn, caller: CurrentCaller, ctx: Ctx, session: Session
) -> StopOut:
    require(caller, Permission.manage_hospital)
    w = when(ctx)
    result = await service.stop_session(
        session, caller.principal, caller.actor, session_id, body.reason, body.move, w
    )
    await session.commit()
    view = await service.session_view(session, result.session.id, w)
    return StopOut(session=session_out(view), moved=result.moved, cancelled=result.cancelled)


async def _staff_outs(
    session: AsyncSession, rows: list[service.DayRow], w: service.When
) -> list[StaffBookingOut]:
    outs = await booking_outs(session, [r.booking for r in rows], w)
    return [StaffBookingOut(**o.model_dump(), booked_by=r.booked_by) for o, r in zip(outs, rows, strict=True)]


@router.get("/staff/day", response_model=list[StaffBookingOut])
async def day_list(
    caller: CurrentCaller,
    ctx: Ctx,
    session: Session,
    day: DayQuery | None = None,
    hospital_id: QueryId | None = None,
    department_id: QueryId | None = None,
) -> list[StaffBookingOut]:
    """The day's list (patients' names, masked IDs): the read is audited."""
    require(caller, Permission.manage_hospital)
    w = when(ctx)
    rows = await service.day_list(
        session, caller.principal, caller.actor, hospital_id, day or w.today, department_id, w
    )
    out = await _staff_outs(session, rows, w)
    await session.commit()
    return out


@router.get("/staff/bookings/{booking_id}/personal", response_model=PersonalOut)
async def personal(booking_id: PathId, caller: CurrentCaller, ctx: Ctx, session: Session) -> PersonalOut:
    """The whole ID number and phone; every read is audited."""
    require(caller, Permission.manage_hospital)
    b = await service.read_personal(session, caller.principal, caller.actor, booking_id, when(ctx))
    out = PersonalOut(id=b.id, patient_name=b.patient_name, id_number=b.id_number, phone=b.phone)
    await session.commit()
    return out


async def _mark(
    booking_id: int, state: BookingState, caller: CurrentCaller, ctx: AppContext, session: AsyncSession
) -> StaffBookingOut:
    require(caller, Permission.manage_hospital)
    w = when(ctx)
    b = await service.mark(session, caller.principal, caller.actor, booking_id, state, w)
    out = await booking_out(session, b, w)
    await session.commit()
    return StaffBookingOut(**out.model_dump(), booked_by="")


@router.post("/staff/bookings/{booking_id}/attended", response_model=StaffBookingOut)
async def attended(booking_id: PathId, caller: CurrentCaller, ctx: Ctx, session: Session) -> StaffBookingOut:
    return await _mark(booking_id, BookingState.attended, caller, ctx, session)


@router.post("/staff/bookings/{booking_id}/no-show", response_model=StaffBookingOut)
async def no_show(booking_id: PathId, caller: CurrentCaller, ctx: Ctx, session: Session) -> StaffBookingOut:
    return await _mark(booking_id, BookingState.no_show, caller, ctx, session)


@router.post("/staff/links", response_model=StaffLinkOut, status_code=201)
async def link_staff(body: StaffLinkIn, caller: CurrentCaller, ctx: Ctx, session: Session) -> StaffLinkOut:
    if caller.principal.role is not Role.admin:
        raise Forbidden("only the county admin links hospital staff", code="forbidden")
    link = await service.link_staff(session, caller.actor, body.user_id, body.hospital_id, when(ctx))
    await session.commit()
    return StaffLinkOut(user_id=link.user_id, hospital_id=link.hospital_id)
