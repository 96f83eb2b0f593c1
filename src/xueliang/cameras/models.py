"""Cameras: where they stand, where they look, and who may see them."""

from __future__ import annotations

import enum

from sqlalchemy import Boolean, Enum, Float, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column

from xueliang.core.db import Base


class CameraKind(enum.StrEnum):
    key_place = "key_place"
    intersection = "intersection"
    settlement = "settlement"


class Camera(Base):
    __tablename__ = "cameras"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gb_id: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    node_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id"))
    # Federation: the child node that hosts this camera (NULL: hosted here) and its id there.
    host_node_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id"), default=None)
    remote_id: Mapped[int | None] = mapped_column(Integer, default=None)
    kind: Mapped[CameraKind] = mapped_column(Enum(CameraKind, native_enum=False, length=16))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    heading: Mapped[float] = mapped_column(Float, default=0.0)
    fov_angle: Mapped[float] = mapped_column(Float, default=90.0)
    fov_range: Mapped[float] = mapped_column(Float, default=50.0)
    ptz: Mapped[bool] = mapped_column(Boolean, default=False)
    public_view: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    record: Mapped[bool] = mapped_column(Boolean, default=True)
    # Sound is carried (live, recorded) only where an operator turned it on: docs/media-audio.md.
    audio_enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    stream_url: Mapped[str] = mapped_column(String(500))
    retention_days: Mapped[int] = mapped_column(Integer, default=30)
