"""Four-eyes requests: lifting a privacy mask on playback or export, or exporting from a sensitive
camera, needs a second authorised user's approval. A grant is bound to requester, camera, range and
action, and expires."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from xueliang.core.db import Base, UtcDateTime


class ApprovalAction(enum.StrEnum):
    playback = "playback"  # play the range unmasked
    export = "export"  # export the range unmasked (and from a sensitive camera at all)


class ApprovalState(enum.StrEnum):
    pending = "pending"
    approved = "approved"
    denied = "denied"


class PrivacyApproval(Base):
    __tablename__ = "privacy_approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), index=True)
    action: Mapped[ApprovalAction] = mapped_column(Enum(ApprovalAction, native_enum=False, length=16))
    starts_at: Mapped[datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[datetime] = mapped_column(UtcDateTime)
    reason: Mapped[str] = mapped_column(String(500))
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    requester_name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    state: Mapped[ApprovalState] = mapped_column(Enum(ApprovalState, native_enum=False, length=16))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    decider_name: Mapped[str] = mapped_column(String(64), default="")
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    decision_reason: Mapped[str] = mapped_column(String(500), default="")
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)  # pending: void after; approved: grant ends
