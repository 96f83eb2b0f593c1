"""API types for recordings, playback, locks, retention and exports. Times are ISO 8601 UTC."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from xueliang.core.bounds import DbId, StoredDatetime

_FROM = Field(alias="from")


class RangeIn(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    camera_id: DbId
    lo: StoredDatetime = _FROM
    hi: StoredDatetime = Field(alias="to")


class PlaybackIn(RangeIn):
    refresh: bool = False  # a fresh token for a view already open: not audited again
    view: DbId | None = None  # with `refresh`: the view it renews (`PlaybackOut.view`), same camera and range
    approval: DbId | None = None  # an approved lift of the camera's masks (recordings/approvals.py)


class PlaybackOut(BaseModel):
    camera_id: int
    view: int  # the view's `recording.view` audit row; a refresh names it
    token: str
    expires_in: int
    hls: str
    plan: str
    masked: bool = False  # the camera's privacy masks are filled (no approved lift): masked_playback.py
    approval: int | None = None  # the approved lift the token is bound to (recordings/lifts.py)


class SegmentOut(BaseModel):
    id: int
    camera_id: int
    start: datetime
    end: datetime
    bytes: int
    frames: int
    state: str
    path: str
    repaired: bool


class SpanOut(BaseModel):
    start: datetime
    end: datetime


class GapOut(BaseModel):
    start: datetime
    end: datetime | None
    reason: str


class LockOut(BaseModel):
    id: int
    camera_id: int
    start: datetime
    end: datetime
    reason: str
    created_by: str
    created_at: datetime


class TimelineOut(BaseModel):
    camera_id: int
    start: datetime
    end: datetime
    spans: list[SpanOut]
    gaps: list[GapOut]
    locks: list[LockOut]
    keyframes: list[float] | None  # Unix seconds; only for ranges up to one hour
    segments: int
    bytes: int
    codec: str | None


class LockIn(RangeIn):
    reason: str = Field(min_length=1, max_length=500)


class RetentionIn(BaseModel):
    days: int | None = Field(default=None, ge=1, le=3650)
    record: bool | None = None


class RetentionOut(BaseModel):
    camera_id: int
    retention_days: int
    record: bool


class ExportIn(RangeIn):
    reason: str = Field(min_length=1, max_length=500)
    approval: DbId | None = None  # masked or sensitive camera: the approved request (four eyes)


class ExportFileOut(BaseModel):
    name: str
    bytes: int
    sha256: str
    url: str | None = None  # with a short-lived token, while the export is ready


class ExportOut(BaseModel):
    id: int
    masked: bool = False  # privacy masks filled in (a masked camera exported without an approved lift)
    camera_id: int
    start: datetime
    end: datetime
    reason: str
    username: str
    created_at: datetime
    state: str
    error: str
    bytes: int
    files: list[ExportFileOut]
    expires_in: int | None = None


class CameraStorageOut(BaseModel):
    camera_id: int
    reason: str
    since: float
    dropped_frames: int


class StorageEventOut(BaseModel):
    camera_id: int
    status: str
    reason: str
    at: float


class HealthOut(BaseModel):
    ok: bool
    total_bytes: int
    free_bytes: int
    guard_bytes: int
    recorder_running: bool
    recording: int
    failing: list[CameraStorageOut]
    events: list[StorageEventOut]
    last_retention: dict[str, object] | None
