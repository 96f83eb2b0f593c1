"""API types for cameras."""

from __future__ import annotations

from pydantic import BaseModel, Field

from xueliang.cameras.models import CameraKind
from xueliang.core.bounds import DbId


class CameraOut(BaseModel):
    id: int
    gb_id: str
    name: str
    name_en: str
    region_id: int
    region_code: str
    region_name: str
    kind: CameraKind
    lat: float
    lon: float
    heading: float
    fov_angle: float
    fov_range: float
    ptz: bool
    public_view: bool
    enabled: bool
    record: bool


class CameraAdminOut(CameraOut):
    """Adds what only managers see: the source URL may carry device credentials."""

    stream_url: str
    retention_days: int
    audio_enabled: bool  # sound carried live and recorded; off unless turned on (docs/media-audio.md)


class CameraFields(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    name_en: str | None = Field(default=None, max_length=100)
    kind: CameraKind | None = None
    lat: float | None = Field(default=None, ge=-90, le=90)
    lon: float | None = Field(default=None, ge=-180, le=180)
    heading: float | None = Field(default=None, ge=0, lt=360)
    fov_angle: float | None = Field(default=None, gt=0, le=360)
    fov_range: float | None = Field(default=None, gt=0, le=5000)
    ptz: bool | None = None
    public_view: bool | None = None
    enabled: bool | None = None
    record: bool | None = None
    stream_url: str | None = Field(default=None, max_length=500)
    retention_days: int | None = Field(default=None, ge=1, le=3650)
    audio_enabled: bool | None = None


class CameraCreate(CameraFields):
    gb_id: str = Field(pattern=r"^\d{20}$")
    region_id: DbId


class OpenOut(BaseModel):
    camera: CameraOut
    streams: dict[str, str]
    expires_in: int
