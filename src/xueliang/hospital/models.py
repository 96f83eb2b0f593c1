"""Hospital booking tables: hospitals with their rules, departments, doctors, sessions, one row per
numbered place, bookings, holds (on the place row), no-show blocks, staff links and messages.

Why a row per place: "never double-booked" is held by the database. A place is taken by a
conditional UPDATE (`... WHERE booking_id IS NULL AND the hold is ours or gone`), which exactly one of
any number of concurrent transactions wins on SQLite and on PostgreSQL; `booking_id` is unique too.
Bookings carry `slot_key` (session and number) and `active_key` (hospital, department, day, ID number)
while they are live and NULL after, so unique indexes also hold "one booking per place" and "one per
person per department per day" whatever the application code does."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    Enum,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from xueliang.core.db import Base, UtcDateTime


def _enum(cls: type[enum.StrEnum]) -> Enum:
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class Period(enum.StrEnum):
    morning = "morning"
    afternoon = "afternoon"


class BookingState(enum.StrEnum):
    pending = "pending"  # made by a grid worker; the household confirms on the TV
    booked = "booked"
    cancelled = "cancelled"
    attended = "attended"
    no_show = "no_show"
    moved = "moved"  # the session stopped; the booking continues as `moved_to_id`


LIVE_STATES = frozenset({BookingState.pending, BookingState.booked})


class Hospital(Base):
    """A county hospital and its booking rules (settable per hospital)."""

    __tablename__ = "hospitals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    address: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    booking_window_days: Mapped[int] = mapped_column(Integer, default=7)
    cancel_cutoff_hour: Mapped[int] = mapped_column(Integer, default=17)  # local hour, the day before
    per_department_per_day: Mapped[int] = mapped_column(Integer, default=1)
    no_show_limit: Mapped[int] = mapped_column(Integer, default=3)
    no_show_window_days: Mapped[int] = mapped_column(Integer, default=90)
    block_days: Mapped[int] = mapped_column(Integer, default=30)
    hold_minutes: Mapped[int] = mapped_column(Integer, default=5)
    morning_start_min: Mapped[int] = mapped_column(Integer, default=8 * 60)  # local minutes of the day
    afternoon_start_min: Mapped[int] = mapped_column(Integer, default=14 * 60)
    place_minutes: Mapped[int] = mapped_column(Integer, default=10)  # arrival times are this far apart


class HospitalDepartment(Base):
    __tablename__ = "hospital_departments"
    __table_args__ = (UniqueConstraint("hospital_id", "code", name="uq_hospital_departments_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    location: Mapped[str] = mapped_column(String(100), default="")


class HospitalDoctor(Base):
    __tablename__ = "hospital_doctors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    department_id: Mapped[int] = mapped_column(
        ForeignKey("hospital_departments.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(32), default="")  # 主任医师, 副主任医师, 主治医师
    specialty: Mapped[str] = mapped_column(String(200), default="")


class HospitalSession(Base):
    """One doctor's half day (出诊): its numbered places are rows of `hospital_places`."""

    __tablename__ = "hospital_sessions"
    __table_args__ = (
        UniqueConstraint("doctor_id", "day", "period", name="uq_hospital_sessions_doctor_day_period"),
        Index("ix_hospital_sessions_department_day", "department_id", "day"),
        Index("ix_hospital_sessions_hospital_day", "hospital_id", "day"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id", ondelete="CASCADE"))
    department_id: Mapped[int] = mapped_column(ForeignKey("hospital_departments.id", ondelete="CASCADE"))
    doctor_id: Mapped[int] = mapped_column(ForeignKey("hospital_doctors.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)  # local date
    period: Mapped[Period] = mapped_column(_enum(Period))
    capacity: Mapped[int] = mapped_column(Integer)
    stopped: Mapped[bool] = mapped_column(Boolean, default=False)
    stopped_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    stop_reason: Mapped[str] = mapped_column(String(200), default="")


class HospitalPlace(Base):
    """A numbered place (号源). Free: `booking_id` NULL and no live hold (`held_until` NULL or past)."""

    __tablename__ = "hospital_places"
    __table_args__ = (
        UniqueConstraint("session_id", "number", name="uq_hospital_places_session_number"),
        # Lookups by "free places of a session" and "holds of a user": two-column equality, so that
        # SQLite never prefers the unique index on booking_id alone (every free place has it NULL).
        Index("ix_hospital_places_session_booking", "session_id", "booking_id"),
        Index("ix_hospital_places_holder_booking", "held_by", "booking_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("hospital_sessions.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    booking_id: Mapped[int | None] = mapped_column(
        ForeignKey("hospital_bookings.id", ondelete="SET NULL"), unique=True
    )
    hold_token: Mapped[str | None] = mapped_column(String(32), unique=True)
    held_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    held_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class HospitalBooking(Base):
    __tablename__ = "hospital_bookings"
    __table_args__ = (
        Index("ix_hospital_bookings_session_state", "session_id", "state"),
        Index("ix_hospital_bookings_hospital_day", "hospital_id", "day"),
        Index("ix_hospital_bookings_id_number_state", "id_number", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id", ondelete="CASCADE"))
    department_id: Mapped[int] = mapped_column(ForeignKey("hospital_departments.id", ondelete="CASCADE"))
    doctor_id: Mapped[int] = mapped_column(ForeignKey("hospital_doctors.id", ondelete="CASCADE"))
    session_id: Mapped[int] = mapped_column(ForeignKey("hospital_sessions.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    serial: Mapped[str] = mapped_column(String(8))  # the queue number shown large: A07, P12
    day: Mapped[date] = mapped_column(Date)
    period: Mapped[Period] = mapped_column(_enum(Period))
    arrival_at: Mapped[datetime] = mapped_column(UtcDateTime)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    booked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    by_grid_worker: Mapped[bool] = mapped_column(Boolean, default=False)
    patient_name: Mapped[str] = mapped_column(String(64))
    id_number: Mapped[str] = mapped_column(String(18))  # stored whole, shown masked
    phone: Mapped[str] = mapped_column(String(32))
    state: Mapped[BookingState] = mapped_column(_enum(BookingState))
    slot_key: Mapped[str | None] = mapped_column(String(40), unique=True)  # "session:number" while live
    active_key: Mapped[str | None] = mapped_column(String(80), unique=True)  # one per person/dept/day
    moved_to_id: Mapped[int | None] = mapped_column(ForeignKey("hospital_bookings.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # cancelled, attended, no-show, moved
    note: Mapped[str] = mapped_column(String(200), default="")


class HospitalBlock(Base):
    """An ID number may not book at a hospital until `until` (the no-show rule)."""

    __tablename__ = "hospital_blocks"
    __table_args__ = (Index("ix_hospital_blocks_lookup", "hospital_id", "id_number", "until"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id", ondelete="CASCADE"))
    id_number: Mapped[str] = mapped_column(String(18))
    until: Mapped[date] = mapped_column(Date)  # first local day booking is allowed again
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class HospitalStaff(Base):
    """Which hospital a `hospital_staff` user works for."""

    __tablename__ = "hospital_staff"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    hospital_id: Mapped[int] = mapped_column(ForeignKey("hospitals.id", ondelete="CASCADE"), index=True)


class HospitalMessage(Base):
    """A notice to a household about its bookings, read on the TV and the phone."""

    __tablename__ = "hospital_messages"
    __table_args__ = (Index("ix_hospital_messages_household", "household_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id", ondelete="CASCADE"))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("hospital_bookings.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(24))
    title: Mapped[str] = mapped_column(String(100))
    title_en: Mapped[str] = mapped_column(String(100), default="")
    body: Mapped[str] = mapped_column(Text, default="")
    body_en: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
