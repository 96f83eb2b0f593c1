"""API types for grid management: routes and checkpoints, check-ins, the care registry and visits,
incidents, the offline batch, video patrol tours, the board and the statistics."""

from __future__ import annotations

import uuid as uuid_mod
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from xueliang.core.bounds import DbId, StoredDatetime
from xueliang.grid.geo import parse_hhmm
from xueliang.grid.models import (
    CareKind,
    IncidentCategory,
    IncidentState,
    Mark,
    Proof,
    RunState,
    TaskKind,
    TaskState,
    TourRunState,
    VisitOutcome,
    Wellbeing,
)


def _canonical_uuid(value: str) -> str:
    try:
        return str(uuid_mod.UUID(value))
    except (ValueError, AttributeError, TypeError) as exc:
        raise ValueError("uuid must be a UUID made by the phone") from exc


def _hhmm(value: str) -> str:
    parse_hhmm(value)
    return value


ClientUuid = Annotated[
    str, Field(description="Made on the phone; resend the same one."), AfterValidator(_canonical_uuid)
]
HhMm = Annotated[str, Field(examples=["08:00"]), AfterValidator(_hhmm)]
Lat = Annotated[float, Field(ge=-90, le=90)]
Lon = Annotated[float, Field(ge=-180, le=180)]


# --- routes -------------------------------------------------------------------------------------


class CheckpointIn(BaseModel):
    id: DbId | None = Field(default=None, description="An existing checkpoint to keep (its QR stays valid).")
    name: str = Field(min_length=1, max_length=100)
    lat: Lat
    lon: Lon
    radius_m: float = Field(default=50.0, gt=0, le=1000)
    place_id: DbId | None = None


class RouteIn(BaseModel):
    region_id: DbId = Field(description="The village the route runs through.")
    name: str = Field(min_length=1, max_length=100)
    line: list[tuple[Lon, Lat]] = Field(description="[[lon, lat], ...]: at least 2 points", max_length=2000)
    days: list[Annotated[int, Field(ge=1, le=7)]] = Field(
        default_factory=lambda: [1, 2, 3, 4, 5, 6, 7], description="ISO weekdays, 1 = Monday"
    )
    window_start: HhMm = "08:00"
    window_end: HhMm = "18:00"
    worker_id: DbId | None = None
    checkpoints: list[CheckpointIn] = Field(min_length=1, max_length=100)


class CheckpointOut(BaseModel):
    id: int
    seq: int
    name: str
    lat: float
    lon: float
    radius_m: float
    place_id: int | None
    done: bool | None = None  # in today's view: checked in today


class RouteOut(BaseModel):
    id: int
    region_id: int
    name: str
    line: list[list[float]]
    days: list[int]
    window_start: str
    window_end: str
    worker_id: int | None
    worker_name: str
    active: bool
    checkpoints: list[CheckpointOut]


# --- check-ins ----------------------------------------------------------------------------------


class CheckInIn(BaseModel):
    uuid: ClientUuid
    checkpoint_id: DbId
    at: StoredDatetime = Field(description="The phone's time of the fix (kept through offline queues).")
    lat: Lat | None = None
    lon: Lon | None = None
    accuracy_m: float | None = Field(default=None, ge=0, le=100_000)
    qr: str | None = Field(default=None, max_length=200, description="The scanned checkpoint code.")


class CheckInOut(BaseModel):
    id: int
    uuid: str
    checkpoint_id: int
    route_id: int
    at: datetime
    proof: Proof
    distance_m: float | None
    received_at: datetime
    duplicate: bool = False


# --- care registry and visits -------------------------------------------------------------------


class Contact(BaseModel):
    name: str = Field(max_length=64)
    relation: str = Field(default="", max_length=32)
    phone: str = Field(default="", max_length=32)
    city: str = Field(default="", max_length=64, description="Where they work")


class CarePersonIn(BaseModel):
    kind: CareKind
    name: str = Field(min_length=1, max_length=64)
    birth_year: int = Field(ge=1900, le=2100)
    region_id: DbId
    household_id: DbId | None = None
    address: str = Field(default="", max_length=200)
    lat: Lat | None = None
    lon: Lon | None = None
    contacts: list[Contact] = Field(default_factory=list, max_length=10)
    worker_id: DbId | None = None
    visit_every_days: int = Field(default=1, ge=1, le=90)
    ok_check: bool = False
    ok_deadline: HhMm = "10:00"
    notes: str = Field(default="", max_length=2000)


class VisitOut(BaseModel):
    id: int
    uuid: str
    person_id: int
    user_id: int
    at: datetime
    outcome: VisitOutcome
    wellbeing: Wellbeing | None
    note: str
    needs: list[str]
    lat: float | None
    lon: float | None
    late: bool
    received_at: datetime
    duplicate: bool = False


class CarePersonOut(BaseModel):
    id: int
    kind: CareKind
    name: str
    birth_year: int
    region_id: int
    household_id: int | None
    address: str
    lat: float | None
    lon: float | None
    contacts: list[dict[str, Any]]
    worker_id: int | None
    visit_every_days: int
    ok_check: bool
    ok_deadline: str
    notes: str
    last_visit_at: datetime | None = None
    flagged: list[str] = Field(default_factory=list, description="needs and poor wellbeing of the last visit")


class CarePersonDetail(CarePersonOut):
    visits: list[VisitOut]


class VisitIn(BaseModel):
    uuid: ClientUuid
    person_id: DbId
    at: StoredDatetime
    outcome: VisitOutcome
    wellbeing: Wellbeing | None = None
    note: str = Field(default="", max_length=2000)
    needs: list[Annotated[str, Field(max_length=200)]] = Field(default_factory=list, max_length=20)
    lat: Lat | None = None
    lon: Lon | None = None


# --- incidents ----------------------------------------------------------------------------------


class IncidentIn(BaseModel):
    uuid: ClientUuid
    category: IncidentCategory
    text: str = Field(default="", max_length=4000)
    at: StoredDatetime
    lat: Lat | None = None
    lon: Lon | None = None
    region_id: DbId | None = Field(default=None, description="Default: the reporter's own region.")


class IncidentEventOut(BaseModel):
    at: datetime
    user_id: int | None
    from_state: str
    to_state: str
    note: str


class IncidentOut(BaseModel):
    id: int
    uuid: str
    category: IncidentCategory
    text: str
    lat: float | None
    lon: float | None
    region_id: int
    reporter_id: int | None
    assignee_id: int | None
    state: IncidentState
    source: str
    camera_id: int | None
    reported_at: datetime
    received_at: datetime
    closed_at: datetime | None
    photos: list[int] = Field(default_factory=list, description="photo ids: GET .../photos/{id}")
    events: list[IncidentEventOut] = Field(default_factory=list)
    duplicate: bool = False


class TransitionIn(BaseModel):
    to: IncidentState
    assignee_id: DbId | None = Field(default=None, description="Whom to assign (to: assigned)")
    note: str = Field(default="", max_length=2000)


# --- offline batch ------------------------------------------------------------------------------


class SyncCheckIn(CheckInIn):
    type: Literal["checkin"]


class SyncVisit(VisitIn):
    type: Literal["visit"]


class SyncIncident(IncidentIn):
    type: Literal["incident"]


SyncItem = Annotated[SyncCheckIn | SyncVisit | SyncIncident, Field(discriminator="type")]


class SyncIn(BaseModel):
    """Items are checked one by one (`SyncItem`), so one bad item is answered "error" on its own
    instead of refusing the whole queue."""

    items: list[dict[str, Any]] = Field(max_length=1000)


class SyncResult(BaseModel):
    uuid: str
    type: str
    status: Literal["ok", "duplicate", "error"]
    id: int | None = None
    code: str = ""
    message: str = ""
    # a catalogued refusal (grid/errors.py): its key and parameters, for the phone's own words
    key: str = ""
    params: dict[str, str | int | float] = Field(default_factory=dict)


class SyncOut(BaseModel):
    results: list[SyncResult]


# --- today, tasks, OK ---------------------------------------------------------------------------


class RunOut(BaseModel):
    id: int
    route_id: int
    day: date
    state: RunState
    checked: int
    total: int
    window_start_at: datetime
    window_end_at: datetime
    missed: list[int]


class TodayRoute(BaseModel):
    route: RouteOut
    run: RunOut | None


class TaskOut(BaseModel):
    id: int
    kind: TaskKind
    day: date
    person_id: int | None
    route_id: int | None
    user_id: int | None
    due_at: datetime
    state: TaskState
    done_at: datetime | None


class TodayVisit(BaseModel):
    person: CarePersonOut
    tasks: list[TaskOut]
    visited_today: bool


class TodayOut(BaseModel):
    day: date
    routes: list[TodayRoute]
    visits: list[TodayVisit]


class OkStatus(BaseModel):
    enabled: bool
    answered: bool
    day: date
    deadline: str | None


# --- tours --------------------------------------------------------------------------------------


class TourStep(BaseModel):
    camera_id: DbId
    seconds: int = Field(default=20, ge=5, le=600)


class TourIn(BaseModel):
    region_id: DbId = Field(description="The station (township) or village the tour belongs to.")
    name: str = Field(min_length=1, max_length=100)
    steps: list[TourStep] = Field(min_length=1, max_length=200)
    times: list[HhMm] = Field(default_factory=list, max_length=24)


class TourOut(BaseModel):
    id: int
    region_id: int
    name: str
    steps: list[dict[str, int]]
    times: list[str]
    active: bool


class TourRunIn(BaseModel):
    slot: HhMm | None = Field(default=None, description="The scheduled time this run answers.")


class MarkIn(BaseModel):
    camera_id: DbId
    mark: Mark
    note: str = Field(default="", max_length=2000)


class MarkOut(BaseModel):
    camera_id: int
    mark: Mark
    note: str
    at: datetime
    incident_id: int | None


class TourRunOut(BaseModel):
    id: int
    tour_id: int
    day: date
    slot: str
    state: TourRunState
    user_id: int | None
    started_at: datetime
    finished_at: datetime | None
    marks: list[MarkOut]


# --- board and statistics -----------------------------------------------------------------------


class WorkerVisits(BaseModel):
    user_id: int
    username: str
    done: int
    open: int
    missed: int
    late: int


class OpenIncident(BaseModel):
    id: int
    category: IncidentCategory
    state: IncidentState
    region_id: int
    reported_at: datetime
    age_hours: float


class MissedCheckpoint(BaseModel):
    run_id: int
    route_id: int
    route_name: str
    checkpoint_id: int
    checkpoint_name: str
    day: date


class NoticeOut(BaseModel):
    id: int
    kind: str
    text: str
    detail: dict[str, Any]
    at: datetime


class TourSlot(BaseModel):
    tour_id: int
    name: str
    slot: str
    state: str  # done, running, paused, missed, upcoming


class BoardOut(BaseModel):
    day: date
    runs: list[RunOut]
    missed_checkpoints: list[MissedCheckpoint]
    visits: list[WorkerVisits]
    open_incidents: list[OpenIncident]
    tours: list[TourSlot]
    notices: list[NoticeOut]


class StatsRow(BaseModel):
    day: date
    region_id: int
    region_name: str
    user_id: int | None
    username: str
    runs: int
    runs_done: int
    checkpoints_missed: int
    visits_done: int
    visits_late: int
    visits_missed: int
    ok_answered: int
    incidents: int
    incidents_closed: int
    close_hours_avg: float | None
    tours_done: int
    # incidents reported, per category (models.IncidentCategory)
    cat_public_safety: int = 0
    cat_road_traffic: int = 0
    cat_fire_hazard: int = 0
    cat_dispute: int = 0
    cat_environment: int = 0
    cat_infrastructure: int = 0
    cat_help_needed: int = 0
    cat_other: int = 0
