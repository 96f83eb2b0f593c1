"""API types for alarms. `AlarmOut` is what staff see; `AlarmStatusOut` is what the sender sees
(their TV or phone shows "received by the police station", then "an operator is on it")."""

from __future__ import annotations

import uuid as uuid_mod
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, Field, field_validator

from xueliang.alarms.models import AlarmKind, AlarmState, TaskState
from xueliang.core.bounds import DbId, StoredDatetime


def _canonical_uuid(value: str) -> str:
    try:
        return str(uuid_mod.UUID(value))
    except (ValueError, AttributeError, TypeError) as exc:
        raise ValueError("uuid must be a UUID made by the sender") from exc


class AlarmIn(BaseModel):
    uuid: str = Field(description="Made by the sender once per press; resend the same one on retry.")
    kind: AlarmKind = AlarmKind.emergency
    source: str = Field(default="app", pattern="^(tv|app|pc)$")
    household_id: DbId | None = Field(default=None, description="Staff only; a resident's is implied.")
    region_id: DbId | None = Field(default=None, description="Staff raising at a place, not a household.")
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    pressed_at: StoredDatetime | None = None
    note: str = Field(default="", max_length=1000)

    @field_validator("uuid")
    @classmethod
    def _uuid(cls, value: str) -> str:
        return _canonical_uuid(value)


class CameraRef(BaseModel):
    camera_id: int
    name: str
    distance_m: float
    covers: bool


class AlarmEventOut(BaseModel):
    at: datetime
    action: str
    actor: str
    note: str
    detail: dict[str, Any]


class AlarmStatusOut(BaseModel):
    id: int
    uuid: str
    kind: AlarmKind
    state: AlarmState
    status: str = Field(description="received | in_progress | closed")
    received_at: datetime
    acknowledged_at: datetime | None
    closed_at: datetime | None
    press_count: int
    version: int


class AlarmOut(AlarmStatusOut):
    source: str
    region_id: int
    region_name: str
    region_path: str
    station_region_id: int
    station_name: str
    household_id: int | None
    household_code: str | None
    household_address: str | None
    household_head: str | None
    household_phone: str | None
    camera_id: int | None
    device_id: str | None
    raised_by: int | None
    lat: float | None
    lon: float | None
    cameras: list[CameraRef]
    note: str
    pressed_at: datetime | None
    last_press_at: datetime
    ack_due_at: datetime | None
    escalation_level: int
    escalated_at: datetime | None
    acknowledged_by: int | None
    dispatched_at: datetime | None
    dispatched_to: str
    dispatched_user_id: int | None
    on_scene_at: datetime | None
    closed_by: int | None


class AlarmDetailOut(AlarmOut):
    events: list[AlarmEventOut]


class RaiseOut(BaseModel):
    alarm: AlarmStatusOut | AlarmOut
    created: bool = Field(description="False for a retry (same uuid) or a press coalesced into an open alarm")
    duplicate: bool = Field(description="True when this uuid had been received before")


class NoteIn(BaseModel):
    note: str = Field(default="", max_length=2000)


class DispatchIn(NoteIn):
    to: str = Field(min_length=1, max_length=200, description="Patrol, duty officer, grid worker...")
    user_id: DbId | None = Field(
        default=None, description="A user of the alarm's area (its station's township)."
    )


class StationConfigIn(BaseModel):
    escalate_after_s: list[int] = Field(min_length=1, max_length=5)

    @field_validator("escalate_after_s")
    @classmethod
    def _increasing(cls, value: list[int]) -> list[int]:
        if any(v < 5 or v > 86_400 for v in value) or value != sorted(set(value)):
            raise ValueError("escalation delays are increasing seconds between 5 and 86400")
        return value


class StationConfigOut(StationConfigIn):
    region_id: int


class DeviceIn(BaseModel):
    device_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")
    name: str = Field(default="", max_length=100)
    household_id: DbId | None = None
    region_id: DbId | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)


class DeviceOut(DeviceIn):
    id: int
    last_seen_at: datetime | None


class StatsRow(BaseModel):
    station_region_id: int
    station_name: str
    alarms: int
    acknowledged: int
    tta_p50_s: float | None
    tta_p90_s: float | None
    tta_p985_s: float | None
    acked_within_30s: float | None = Field(description="share of alarms, 0..1")
    acked_within_60s: float | None
    false_alarm_share: float | None
    escalated: int


# A control line's vertex, [lon, lat] in WGS 84 as the map draws it: bounded like every number a client sends.
LineVertex = Annotated[list[Annotated[float, Field(ge=-180, le=180)]], Field(min_length=2, max_length=2)]


class GuardPointIn(BaseModel):
    id: DbId | None = None
    kind: str = Field(pattern="^(exit|control_line)$")
    name: str = Field(min_length=1, max_length=100)
    place_id: DbId | None = None
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)
    line: list[LineVertex] | None = Field(default=None, max_length=200)
    assignees: list[DbId] = Field(default_factory=list, max_length=50)


class PlanIn(BaseModel):
    points: list[GuardPointIn] = Field(max_length=100)


class GuardPointOut(GuardPointIn):
    id: int
    assignee_names: list[str]


class PlanOut(BaseModel):
    region_id: int
    region_name: str
    points: list[GuardPointOut]


class TaskOut(BaseModel):
    id: int
    mobilization_id: int
    alarm_id: int
    point_id: int
    point_name: str
    point_kind: str
    lat: float
    lon: float
    user_id: int
    user_name: str
    state: TaskState
    assigned_at: datetime
    in_position_at: datetime | None
    closed_at: datetime | None


class MobilizationOut(BaseModel):
    id: int
    alarm_id: int
    region_id: int
    activated_at: datetime
    stood_down_at: datetime | None
    tasks: list[TaskOut]
    points_total: int
    points_manned: int
