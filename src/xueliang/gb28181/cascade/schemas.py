"""API types of the cascade's admin routes (upper platforms, shared cameras)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

GB_ID = r"^\d{20}$"


class UpperIn(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    sip_id: str = Field(pattern=GB_ID)
    domain: str = Field(pattern=r"^\d{10}$")
    host: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9.:\-]+$")
    port: int = Field(default=5060, ge=1, le=65535)
    transport: Literal["UDP", "TCP"] = "UDP"
    password: str = Field(default="", max_length=128)
    local_id: str = Field(default="", pattern=r"^(\d{20})?$")
    register_expires: int = Field(default=3600, ge=60, le=86400)
    keepalive_period: int = Field(default=60, ge=1, le=3600)
    charset: Literal["GB2312", "UTF-8"] = "GB2312"
    catalog_page: int = Field(default=4, ge=1, le=50)
    enabled: bool = True


class UpperPatch(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    sip_id: str | None = Field(default=None, pattern=GB_ID)
    domain: str | None = Field(default=None, pattern=r"^\d{10}$")
    host: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9.:\-]+$")
    port: int | None = Field(default=None, ge=1, le=65535)
    transport: Literal["UDP", "TCP"] | None = None
    password: str | None = Field(default=None, max_length=128)
    local_id: str | None = Field(default=None, pattern=r"^(\d{20})?$")
    register_expires: int | None = Field(default=None, ge=60, le=86400)
    keepalive_period: int | None = Field(default=None, ge=1, le=3600)
    charset: Literal["GB2312", "UTF-8"] | None = None
    catalog_page: int | None = Field(default=None, ge=1, le=50)
    enabled: bool | None = None


class UpperOut(BaseModel):
    id: int
    name: str
    sip_id: str
    domain: str
    host: str
    port: int
    transport: str
    has_password: bool
    local_id: str
    register_expires: int
    keepalive_period: int
    charset: str
    catalog_page: int
    enabled: bool
    state: str
    registered_at: datetime | None
    last_keepalive: datetime | None
    last_error: str
    last_error_at: datetime | None
    catalog_at: datetime | None
    shared: int
    alarms_pending: int


class ShareIn(BaseModel):
    shared: bool


class SharedOut(BaseModel):
    camera_id: int
    camera_name: str
    channel_id: str
    shared: bool
