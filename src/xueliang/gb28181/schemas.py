"""API types of the gb28181 admin routes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from xueliang.core.bounds import DbId


class ChannelOut(BaseModel):
    channel_id: str
    name: str
    status: str
    camera_id: int | None


class DeviceOut(BaseModel):
    id: int
    device_id: str
    name: str
    region_id: int | None
    region_code: str | None
    has_password: bool
    transport: str
    contact: str
    online: bool
    registered_until: datetime | None
    last_keepalive: datetime | None
    manufacturer: str
    model: str
    firmware: str
    charset: str
    channels: list[ChannelOut] = []


class DeviceCreate(BaseModel):
    device_id: str = Field(pattern=r"^\d{20}$")
    region_id: DbId | None = None
    password: str | None = Field(default=None, min_length=8, max_length=128)


class DeviceBind(BaseModel):
    region_id: DbId


class DevicePassword(BaseModel):
    password: str = Field(min_length=8, max_length=128)


class PtzIn(BaseModel):
    action: Literal[
        "stop",
        "right",
        "left",
        "down",
        "up",
        "zoom_in",
        "zoom_out",
        "up_right",
        "up_left",
        "down_right",
        "down_left",
        "preset_set",
        "preset_call",
        "preset_delete",
    ]
    speed: int = Field(default=128, ge=0, le=255)
    preset: int = Field(default=0, ge=0, le=255)


class PtzOut(BaseModel):
    command: str
    held_by: str
    until: datetime
