"""Recording tables: the segment index, explicit gaps, evidence locks and exports.

The index is the only way in: playback, export and retention find files by these rows and never list
directories (59 cameras x 30 days is 2.5 million files). Times are UTC; `starts_at` of segments and
gaps is indexed per camera because every query is "this camera, around this time"."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, Enum, ForeignKey, Index, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from xueliang.core.db import Base, UtcDateTime


class SegmentState(enum.StrEnum):
    open = "open"  # being written; after a crash, the start-up repair closes it
    closed = "closed"


class RecordingSegment(Base):
    __tablename__ = "recording_segments"
    __table_args__ = (
        Index("ix_recording_segments_camera_start", "camera_id", "starts_at"),
        Index("ix_recording_segments_start", "starts_at"),
        Index("ix_recording_segments_state", "state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    path: Mapped[str] = mapped_column(String(255))  # relative to the recordings root
    state: Mapped[SegmentState] = mapped_column(Enum(SegmentState, native_enum=False, length=16))
    init_size: Mapped[int] = mapped_column(Integer, default=0)
    media_start: Mapped[int] = mapped_column(BigInteger, default=0)  # tfdt of the first fragment, 90 kHz
    media_end: Mapped[int] = mapped_column(BigInteger, default=0)
    frames: Mapped[int] = mapped_column(Integer, default=0)
    keyframes: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [[ms from start, byte offset]]
    codec: Mapped[str] = mapped_column(String(64), default="")
    repaired: Mapped[bool] = mapped_column(Boolean, default=False)


class RecordingGap(Base):
    """A stretch without recording and why (camera offline, storage error, node restart)."""

    __tablename__ = "recording_gaps"
    __table_args__ = (Index("ix_recording_gaps_camera_start", "camera_id", "starts_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # None: still going on
    reason: Mapped[str] = mapped_column(String(200))


class EvidenceLock(Base):
    """Segments of the camera overlapping [starts_at, ends_at) are kept until the lock is released."""

    __tablename__ = "recording_locks"
    __table_args__ = (Index("ix_recording_locks_camera", "camera_id", "released_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    released_by: Mapped[str] = mapped_column(String(64), default="")


class ExportState(enum.StrEnum):
    running = "running"
    ready = "ready"
    failed = "failed"


class RecordingExport(Base):
    __tablename__ = "recording_exports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), index=True)
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(String(500))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    username: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    state: Mapped[ExportState] = mapped_column(Enum(ExportState, native_enum=False, length=16))
    error: Mapped[str] = mapped_column(Text, default="")
    directory: Mapped[str] = mapped_column(String(255), default="")  # relative to the exports root
    files: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{"name", "bytes", "sha256"}]
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    # Privacy masks filled in the exported video (a masked camera exported without an approved lift).
    masked: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
