"""Hospital API types, in and out (docs/hospital-api.md)."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from xueliang.core.bounds import DbId
from xueliang.hospital.models import BookingState, Period


class RulesOut(BaseModel):
    booking_window_days: int
    cancel_cutoff_hour: int
    per_department_per_day: int
    no_show_limit: int
    no_show_window_days: int
    block_days: int
    hold_minutes: int


class HospitalOut(BaseModel):
    id: int
    code: str
    name: str
    name_en: str
    address: str
    phone: str
    rules: RulesOut


class DepartmentOut(BaseModel):
    id: int
    hospital_id: int
    code: str
    name: str
    name_en: str
    location: str


class DoctorOut(BaseModel):
    id: int
    department_id: int
    name: str
    title: str
    specialty: str


class SessionOut(BaseModel):
    id: int
    hospital_id: int
    department_id: int
    doctor_id: int
    doctor_name: str
    doctor_title: str
    day: date
    period: Period
    starts_at: datetime
    capacity: int
    free: int
    booked: int
    stopped: bool
    stop_reason: str
    bookable: bool
    reason: str


class PlaceOut(BaseModel):
    number: int
    arrival_at: datetime
    free: bool


class SessionDetailOut(SessionOut):
    places: list[PlaceOut]


class HoldIn(BaseModel):
    session_id: DbId
    number: int | None = Field(default=None, ge=1, le=1000)


class HoldOut(BaseModel):
    token: str
    session_id: int
    number: int
    arrival_at: datetime
    expires_at: datetime


class BookingIn(BaseModel):
    hold: str | None = Field(default=None, min_length=1, max_length=64)
    session_id: DbId | None = None
    household_id: DbId | None = None
    patient_name: str = Field(max_length=64)
    id_number: str = Field(max_length=32)
    phone: str = Field(max_length=32)


class BookingOut(BaseModel):
    id: int
    reference: str
    serial: str
    number: int
    state: BookingState
    hospital_id: int
    hospital_name: str
    department_id: int
    department_name: str
    doctor_id: int
    doctor_name: str
    session_id: int
    day: date
    period: Period
    arrival_at: datetime
    household_id: int
    patient_name: str
    id_masked: str
    phone_masked: str
    created_at: datetime
    cancel_until: datetime
    moved_to_id: int | None
    booked_by_grid_worker: bool


class StaffBookingOut(BookingOut):
    booked_by: str


class PersonalOut(BaseModel):
    id: int
    patient_name: str
    id_number: str
    phone: str


class MessageOut(BaseModel):
    id: int
    kind: str
    booking_id: int | None
    title: str
    title_en: str
    body: str
    body_en: str
    created_at: datetime
    read_at: datetime | None


class IdCheckIn(BaseModel):
    id_number: str = Field(max_length=32)


class IdCheckOut(BaseModel):
    ok: bool
    birth_date: date
    sex: str
    masked: str


class SessionIn(BaseModel):
    doctor_id: DbId
    day: date = Field(ge=date(2000, 1, 1), le=date(2199, 12, 31))
    period: Period
    capacity: int = Field(ge=1, le=200)


class ScheduleIn(BaseModel):
    doctor_ids: list[DbId] = Field(min_length=1, max_length=50)
    start: date = Field(alias="from", ge=date(2000, 1, 1), le=date(2199, 12, 31))
    end: date = Field(alias="to", ge=date(2000, 1, 1), le=date(2199, 12, 31))
    periods: list[Period] = Field(default_factory=lambda: [Period.morning, Period.afternoon], min_length=1)
    capacity: int = Field(ge=1, le=200)


class ScheduleOut(BaseModel):
    created: int
    skipped: int


class StopIn(BaseModel):
    reason: str = Field(default="", max_length=200)
    move: bool = True


class StopOut(BaseModel):
    session: SessionOut
    moved: int
    cancelled: int


class StaffLinkIn(BaseModel):
    user_id: DbId
    hospital_id: DbId


class StaffLinkOut(BaseModel):
    user_id: int
    hospital_id: int
