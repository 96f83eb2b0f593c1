"""Alarm tables: the alarm, every press that fed it, its history, station settings, devices,
and the village mobilization plans with their tasks."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Enum, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xueliang.core.db import Base, UtcDateTime


class AlarmState(enum.StrEnum):
    new = "new"
    acknowledged = "acknowledged"
    dispatched = "dispatched"
    on_scene = "on_scene"
    resolved = "resolved"
    false_alarm = "false_alarm"


class AlarmKind(enum.StrEnum):
    emergency = "emergency"  # the one-click button: TV red key, phone, PC, hardware button
    fire = "fire"
    medical = "medical"
    intrusion = "intrusion"
    camera_offline = "camera_offline"  # technical: a camera stopped sending
    link_down = "link_down"  # technical: a federation link to a parent or child node is down


TECHNICAL_KINDS = frozenset({AlarmKind.camera_offline, AlarmKind.link_down})


def _enum(cls: type[enum.StrEnum]) -> Enum:
    return Enum(cls, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e])


class Alarm(Base):
    """One incident. `uuid` is the first press's sender-made key; later presses (retries, floods)
    are rows of `alarm_presses`. `open_key` is the sender's key while the alarm is open and NULL
    after, so a unique index makes "one open alarm per sender" hold even under concurrent presses."""

    __tablename__ = "alarms"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    kind: Mapped[AlarmKind] = mapped_column(_enum(AlarmKind))
    source: Mapped[str] = mapped_column(String(16))  # tv, app, pc, mqtt, system
    state: Mapped[AlarmState] = mapped_column(_enum(AlarmState), index=True)
    sender_key: Mapped[str] = mapped_column(String(64), default="")
    open_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)  # village (or finer)
    region_path: Mapped[str] = mapped_column(String(255), index=True)
    station_region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)  # township
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"), index=True)
    camera_id: Mapped[int | None] = mapped_column(ForeignKey("cameras.id"))
    device_id: Mapped[str | None] = mapped_column(String(64))
    raised_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    cameras: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # nearest, chosen at intake
    note: Mapped[str] = mapped_column(Text, default="")
    pressed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # the sender's clock
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)  # committed here
    last_press_at: Mapped[datetime] = mapped_column(UtcDateTime)
    press_count: Mapped[int] = mapped_column(Integer, default=1)
    ack_due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # next escalation if still new
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    dispatched_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    dispatched_to: Mapped[str] = mapped_column(String(200), default="")
    dispatched_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    on_scene_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)


class AlarmPress(Base):
    """Every accepted press by its sender-made UUID: a retry finds its alarm here."""

    __tablename__ = "alarm_presses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uuid: Mapped[str] = mapped_column(String(36), unique=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(16))
    pressed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    received_at: Mapped[datetime] = mapped_column(UtcDateTime)
    seq: Mapped[int | None] = mapped_column(Integer)  # device sequence number, if it sends one


class AlarmEvent(Base):
    """The alarm's own timeline (who did what when, with notes), shown beside it on the console."""

    __tablename__ = "alarm_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    action: Mapped[str] = mapped_column(String(32))
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class StationConfig(Base):
    """Per police station (township): seconds without acknowledgement before each escalation level."""

    __tablename__ = "alarm_station_configs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), unique=True)
    escalate_after_s: Mapped[list[int]] = mapped_column(JSON, default=lambda: [60])


class AlarmDevice(Base):
    """A hardware alarm button bound to a household or a fixed place."""

    __tablename__ = "alarm_devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class GuardPoint(Base):
    """A point of a village's mobilization plan: an exit ("four gates") or a control line."""

    __tablename__ = "guard_points"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)  # the village
    kind: Mapped[str] = mapped_column(String(16))  # "exit" or "control_line"
    name: Mapped[str] = mapped_column(String(100))
    place_id: Mapped[int | None] = mapped_column(ForeignKey("places.id"))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    line: Mapped[list[list[float]] | None] = mapped_column(JSON)  # [[lon, lat], ...] for control lines
    position: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)  # removed points stay for old tasks


class GuardAssignment(Base):
    __tablename__ = "guard_assignments"
    __table_args__ = (UniqueConstraint("point_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    point_id: Mapped[int] = mapped_column(ForeignKey("guard_points.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)


class Mobilization(Base):
    """A plan activated for one alarm; open until stand-down."""

    __tablename__ = "mobilizations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id"), unique=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    activated_at: Mapped[datetime] = mapped_column(UtcDateTime)
    activated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    stood_down_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    stood_down_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class TaskState(enum.StrEnum):
    assigned = "assigned"
    in_position = "in_position"
    closed = "closed"


class MobilizationTask(Base):
    __tablename__ = "mobilization_tasks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mobilization_id: Mapped[int] = mapped_column(ForeignKey("mobilizations.id"), index=True)
    point_id: Mapped[int] = mapped_column(ForeignKey("guard_points.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    state: Mapped[TaskState] = mapped_column(_enum(TaskState))
    assigned_at: Mapped[datetime] = mapped_column(UtcDateTime)
    in_position_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
