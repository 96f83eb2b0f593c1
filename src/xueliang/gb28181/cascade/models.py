"""Upper platforms this node registers to, the cameras shared with each (a stable channel ID each), and
the outbox of alarms to forward to each.

`gb_upper_channels` rows are never deleted when a camera stops being shared (`shared` goes false): the
channel ID a province once saw for a camera stays that camera's, and is never given to another.
`gb_upper_alarms` is the durable outbox: one row per (upper, alarm), `sent_at` set only once the upper
answered 200, so a restart resends exactly what was not confirmed, with the same SN."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xueliang.core.db import Base, UtcDateTime


class GbUpper(Base):
    __tablename__ = "gb_uppers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    sip_id: Mapped[str] = mapped_column(String(20), unique=True)  # the upper platform's ID (type 200)
    domain: Mapped[str] = mapped_column(String(10))
    host: Mapped[str] = mapped_column(String(64))
    port: Mapped[int] = mapped_column(Integer, default=5060)
    transport: Mapped[str] = mapped_column(String(8), default="UDP")
    # A client credential: kept as given (Digest needs it with whatever realm the upper challenges in).
    password: Mapped[str] = mapped_column(String(128), default="")
    local_id: Mapped[str] = mapped_column(String(20), default="")  # our ID towards it; "" = the node's
    register_expires: Mapped[int] = mapped_column(Integer, default=3600)
    keepalive_period: Mapped[int] = mapped_column(Integer, default=60)
    charset: Mapped[str] = mapped_column(String(16), default="GB2312")
    catalog_page: Mapped[int] = mapped_column(Integer, default=4)  # items per catalog MESSAGE
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # The link as last seen by the node that runs it (the console's view).
    state: Mapped[str] = mapped_column(String(16), default="idle")
    registered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_keepalive: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_error: Mapped[str] = mapped_column(String(200), default="")
    last_error_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    catalog_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # last catalog answered or notified
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class GbUpperChannel(Base):
    __tablename__ = "gb_upper_channels"
    __table_args__ = (
        UniqueConstraint("camera_id", "upper_id"),  # (named after their first column: camera first)
        UniqueConstraint("channel_id", "upper_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    upper_id: Mapped[int] = mapped_column(ForeignKey("gb_uppers.id", ondelete="CASCADE"), index=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), index=True)
    channel_id: Mapped[str] = mapped_column(String(20))
    shared: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class GbUpperAlarm(Base):
    __tablename__ = "gb_upper_alarms"
    __table_args__ = (UniqueConstraint("upper_id", "alarm_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    upper_id: Mapped[int] = mapped_column(ForeignKey("gb_uppers.id", ondelete="CASCADE"), index=True)
    alarm_id: Mapped[int] = mapped_column(ForeignKey("alarms.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(String(200), default="")
