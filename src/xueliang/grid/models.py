"""Grid management tables (issue 16): patrol routes and their checkpoints, route runs per local day,
check-ins, the care registry (关爱对象) with its visits and "I'm OK" answers, the daily tasks, field
incidents (事件上报) with their event log and photos, video patrol tours with their runs and marks,
and the notices raised for the station when something is missed.

Every row that a client can resend offline (check-ins, visits, incidents) carries the phone's UUID
under a unique constraint, so a resend finds the first record instead of making a second. Rows that
scope decides on carry the village's region path, so a list is one prefix match."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    Enum,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from xueliang.core.db import Base, UtcDateTime


def _enum(cls: type[enum.StrEnum]) -> Enum:
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class Proof(enum.StrEnum):
    gps = "gps"
    qr = "qr"


class RunState(enum.StrEnum):
    planned = "planned"
    in_progress = "in_progress"
    done = "done"  # every checkpoint checked in
    missed = "missed"  # the window closed with checkpoints unvisited


class CareKind(enum.StrEnum):
    child = "child"  # 留守儿童
    elderly = "elderly"  # 留守老人


class VisitOutcome(enum.StrEnum):
    seen = "seen"
    not_home = "not_home"
    unreachable = "unreachable"


class Wellbeing(enum.StrEnum):
    good = "good"
    fair = "fair"
    poor = "poor"
    urgent = "urgent"


class TaskKind(enum.StrEnum):
    visit = "visit"
    ok_followup = "ok_followup"  # no "I'm OK" by the deadline: go and look within 2 h
    route_run = "route_run"


class TaskState(enum.StrEnum):
    open = "open"
    done = "done"
    missed = "missed"


class IncidentCategory(enum.StrEnum):
    public_safety = "public_safety"
    road_traffic = "road_traffic"
    fire_hazard = "fire_hazard"
    dispute = "dispute"
    environment = "environment"
    infrastructure = "infrastructure"
    help_needed = "help_needed"
    other = "other"


class IncidentState(enum.StrEnum):
    reported = "reported"  # 上报
    assigned = "assigned"  # 分派
    in_hand = "in_hand"  # 处理
    resolved = "resolved"
    checked = "checked"  # 核查: closed


class TourRunState(enum.StrEnum):
    running = "running"
    paused = "paused"
    done = "done"
    missed = "missed"


class Mark(enum.StrEnum):
    normal = "normal"
    abnormal = "abnormal"


class PatrolRoute(Base):
    """A planned walk through one village: the line, the days (ISO weekdays 1-7) and a local time
    window ("08:00"-"18:00"), walked by one grid worker."""

    __tablename__ = "grid_routes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    region_path: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(100))
    line: Mapped[list[list[float]]] = mapped_column(JSON, default=list)  # [[lon, lat], ...]
    days: Mapped[list[int]] = mapped_column(JSON, default=list)
    window_start: Mapped[str] = mapped_column(String(5), default="08:00")
    window_end: Mapped[str] = mapped_column(String(5), default="18:00")
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Checkpoint(Base):
    """One ordered point of a route. An edit retires the old points (`active` false) instead of
    deleting them, so the check-ins made at them keep their meaning."""

    __tablename__ = "grid_checkpoints"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("grid_routes.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    radius_m: Mapped[float] = mapped_column(Float, default=50.0)
    place_id: Mapped[int | None] = mapped_column(ForeignKey("places.id", ondelete="SET NULL"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class RouteRun(Base):
    """A route on one local day; made by the daily task generation, closed when the window ends."""

    __tablename__ = "grid_route_runs"
    __table_args__ = (UniqueConstraint("route_id", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    route_id: Mapped[int] = mapped_column(ForeignKey("grid_routes.id", ondelete="CASCADE"), index=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    region_path: Mapped[str] = mapped_column(String(255), index=True)
    window_start_at: Mapped[datetime] = mapped_column(UtcDateTime)
    window_end_at: Mapped[datetime] = mapped_column(UtcDateTime)
    state: Mapped[RunState] = mapped_column(_enum(RunState), default=RunState.planned)
    checked: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    missed: Mapped[list[int]] = mapped_column(JSON, default=list)  # checkpoint ids, once closed
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class CheckIn(Base):
    """A grid worker at a checkpoint. `at` is the phone's time of the fix (kept through offline
    queues), `received_at` the server's. Deleted after the track retention (30 days by default)."""

    __tablename__ = "grid_checkins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    checkpoint_id: Mapped[int] = mapped_column(
        ForeignKey("grid_checkpoints.id", ondelete="CASCADE"), index=True
    )
    route_id: Mapped[int] = mapped_column(ForeignKey("grid_routes.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("grid_route_runs.id", ondelete="SET NULL"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    region_path: Mapped[str] = mapped_column(String(255), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    distance_m: Mapped[float | None] = mapped_column(Float)
    proof: Mapped[Proof] = mapped_column(_enum(Proof))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CarePerson(Base):
    """A left-behind child or elderly person (关爱对象): personal data of minors and vulnerable
    people, read only by the assigned worker, the village's duty officer, the township station and
    admins, and every read audited."""

    __tablename__ = "grid_care_persons"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[CareKind] = mapped_column(_enum(CareKind))
    name: Mapped[str] = mapped_column(String(64))
    birth_year: Mapped[int] = mapped_column(Integer)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    region_path: Mapped[str] = mapped_column(String(255), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"), index=True)
    address: Mapped[str] = mapped_column(String(200), default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    contacts: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    worker_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    visit_every_days: Mapped[int] = mapped_column(Integer, default=1)
    ok_check: Mapped[bool] = mapped_column(Boolean, default=False)
    ok_deadline: Mapped[str] = mapped_column(String(5), default="10:00")
    notes: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class Visit(Base):
    """A visit to a person in the registry. Never refused for lateness: `late` marks a visit made
    after its day's window (or its task's due time)."""

    __tablename__ = "grid_visits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("grid_care_persons.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    region_path: Mapped[str] = mapped_column(String(255), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
    outcome: Mapped[VisitOutcome] = mapped_column(_enum(VisitOutcome))
    wellbeing: Mapped[Wellbeing | None] = mapped_column(_enum(Wellbeing))
    note: Mapped[str] = mapped_column(Text, default="")
    needs: Mapped[list[str]] = mapped_column(JSON, default=list)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    late: Mapped[bool] = mapped_column(Boolean, default=False)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)


class GridTask(Base):
    """A daily task. `key` names it uniquely ("visit:<person>:<day>", "ok:<person>:<day>",
    "run:<route>:<day>"), so generation is insert-or-ignore: a restart, a missed midnight or two
    processes at once never make a task twice."""

    __tablename__ = "grid_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    kind: Mapped[TaskKind] = mapped_column(_enum(TaskKind))
    day: Mapped[date] = mapped_column(Date, index=True)
    region_path: Mapped[str] = mapped_column(String(255), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("grid_care_persons.id", ondelete="CASCADE"))
    route_id: Mapped[int | None] = mapped_column(ForeignKey("grid_routes.id", ondelete="CASCADE"))
    due_at: Mapped[datetime] = mapped_column(UtcDateTime)
    state: Mapped[TaskState] = mapped_column(_enum(TaskState), default=TaskState.open)
    done_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class OkAnswer(Base):
    """ "I'm OK" (报平安) from the TV, one per person and local day."""

    __tablename__ = "grid_ok_answers"
    __table_args__ = (UniqueConstraint("person_id", "day"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("grid_care_persons.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Incident(Base):
    """A field report (事件上报): reported → assigned → in hand → resolved → checked."""

    __tablename__ = "grid_incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    category: Mapped[IncidentCategory] = mapped_column(_enum(IncidentCategory), index=True)
    text: Mapped[str] = mapped_column(Text, default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    region_path: Mapped[str] = mapped_column(String(255), index=True)
    reporter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    state: Mapped[IncidentState] = mapped_column(_enum(IncidentState), index=True)
    source: Mapped[str] = mapped_column(String(16), default="phone")  # phone, tour, console
    camera_id: Mapped[int | None] = mapped_column(ForeignKey("cameras.id", ondelete="SET NULL"))
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)  # the phone's clock
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class IncidentEvent(Base):
    """The incident's log: every transition, who made it and when."""

    __tablename__ = "grid_incident_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("grid_incidents.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    from_state: Mapped[str] = mapped_column(String(16), default="")
    to_state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")


class IncidentPhoto(Base):
    """A photo stored under data_dir/grid/photos; served only to staff in the incident's scope."""

    __tablename__ = "grid_incident_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("grid_incidents.id", ondelete="CASCADE"), index=True)
    path: Mapped[str] = mapped_column(String(255))  # relative to data_dir
    content_type: Mapped[str] = mapped_column(String(32))
    bytes: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class PatrolTour(Base):
    """A video patrol tour (视频巡点): ordered cameras, seconds on each, local start times."""

    __tablename__ = "grid_tours"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)  # station or village
    region_path: Mapped[str] = mapped_column(String(255), index=True)
    name: Mapped[str] = mapped_column(String(100))
    steps: Mapped[list[dict[str, int]]] = mapped_column(JSON, default=list)  # {camera_id, seconds}
    times: Mapped[list[str]] = mapped_column(JSON, default=list)  # ["09:00", "15:00", "21:00"]
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class TourRun(Base):
    """One playing of a tour by an operator; `slot` is the local schedule time it answers."""

    __tablename__ = "grid_tour_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tour_id: Mapped[int] = mapped_column(ForeignKey("grid_tours.id", ondelete="CASCADE"), index=True)
    region_path: Mapped[str] = mapped_column(String(255), index=True)
    day: Mapped[date] = mapped_column(Date, index=True)
    slot: Mapped[str] = mapped_column(String(5), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    state: Mapped[TourRunState] = mapped_column(_enum(TourRunState))
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class TourMark(Base):
    """The operator's verdict on one camera of a tour run; "abnormal" opens an incident."""

    __tablename__ = "grid_tour_marks"
    __table_args__ = (UniqueConstraint("run_id", "camera_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("grid_tour_runs.id", ondelete="CASCADE"), index=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    mark: Mapped[Mark] = mapped_column(_enum(Mark))
    note: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("grid_incidents.id", ondelete="SET NULL"))


class GridNotice(Base):
    """Something the station must hear of (a missed checkpoint, a missed visit, no "I'm OK" and no
    follow-up): stored, so a console that was closed sees it on the board, and pushed live."""

    __tablename__ = "grid_notices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)  # one notice per missed thing
    kind: Mapped[str] = mapped_column(String(32))
    region_path: Mapped[str] = mapped_column(String(255), index=True)
    text: Mapped[str] = mapped_column(String(255))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)
