"""Federation tables: enrollment codes, the outbox and inbox of the link, and audit anchors."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from xueliang.core.db import Base, UtcDateTime


class NodeInvite(Base):
    """A one-time enrollment code, kept only as its SHA-256: a copy of the database cannot enroll."""

    __tablename__ = "federation_invites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    region_code: Mapped[str | None] = mapped_column(String(12), default=None)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime(timezone=True), default=None)
    used_by: Mapped[str | None] = mapped_column(String(20), default=None)


class OutboxMessage(Base):
    """A message for a peer, written with (or swept from) the change it reports; the relay sends rows in
    id order and marks them sent once the peer's JetStream acknowledged them."""

    __tablename__ = "federation_outbox"
    __table_args__ = (UniqueConstraint("source", "source_id", "peer_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("nodes.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    # Where the row came from, so a sweep after a crash adds nothing twice ("alarm_event", 812).
    source: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[str] = mapped_column(String(64))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime(timezone=True), default=None, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class InboxMessage(Base):
    """Ids of the messages applied from peers: a redelivered or replayed message is applied once."""

    __tablename__ = "federation_inbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    msg_id: Mapped[str] = mapped_column(String(80), unique=True)
    peer_id: Mapped[int] = mapped_column(ForeignKey("nodes.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    applied_at: Mapped[datetime] = mapped_column(UtcDateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(200), default="applied")


class AuditAnchor(Base):
    """A child's audit chain head as its parent received it: deleting the child's newest audit rows
    leaves its chain shorter than the anchor, which `xueliang audit verify` on the child reports."""

    __tablename__ = "federation_audit_anchors"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    head_hash: Mapped[str] = mapped_column(String(64))
    anchored_at: Mapped[datetime] = mapped_column(UtcDateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime(timezone=True))


class RemoteCameraStatus(Base):
    """The last status a child node reported for a camera it hosts. Nothing pulls an idle relayed camera
    here, so this is what it shows while nobody watches, also after a restart of this node."""

    __tablename__ = "federation_camera_status"

    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(200), default="")
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime(timezone=True))
