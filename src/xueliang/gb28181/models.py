"""GB/T 28181 devices (cameras and NVRs that register to this node) and their channels.

A device's channels become cameras in the registry once an admin binds the device to a village (or
grid): `gb_channels.camera_id` links them. The password is kept as Digest HA1 for the node's realm."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xueliang.core.db import Base, UtcDateTime


class GbDevice(Base):
    __tablename__ = "gb_devices"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100), default="")
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    ha1: Mapped[str | None] = mapped_column(String(32))  # MD5(device_id:realm:password)
    ha1_realm: Mapped[str] = mapped_column(String(10), default="")
    transport: Mapped[str] = mapped_column(String(8), default="UDP")
    contact_host: Mapped[str] = mapped_column(String(64), default="")
    contact_port: Mapped[int] = mapped_column(Integer, default=0)
    call_id: Mapped[str] = mapped_column(String(128), default="")  # of the current registration
    registered_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_keepalive: Mapped[datetime | None] = mapped_column(UtcDateTime)
    online: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    manufacturer: Mapped[str] = mapped_column(String(100), default="")
    model: Mapped[str] = mapped_column(String(100), default="")
    firmware: Mapped[str] = mapped_column(String(100), default="")
    charset: Mapped[str] = mapped_column(String(16), default="GB2312")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class GbChannel(Base):
    __tablename__ = "gb_channels"
    __table_args__ = (UniqueConstraint("device_pk", "channel_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_pk: Mapped[int] = mapped_column(ForeignKey("gb_devices.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(8), default="ON")
    ptz_type: Mapped[int] = mapped_column(Integer, default=0)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    camera_id: Mapped[int | None] = mapped_column(ForeignKey("cameras.id", ondelete="SET NULL"), unique=True)
