"""Platform nodes: one per platform instance, each with its GB/T 28181 ID and its parent node."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from xueliang.core.db import Base, UtcDateTime


class Node(Base):
    """A platform instance (county, township or village level) with its GB/T 28181 ID (type 200)."""

    __tablename__ = "nodes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    gb_id: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("nodes.id"))
    is_local: Mapped[bool] = mapped_column(default=False)
    # Federation (federation/): the peer's raw Ed25519 public key (hex) once enrolled, how this node
    # reaches it (set on a child for its parent row only: a parent never dials a child), and the link's life.
    public_key: Mapped[str | None] = mapped_column(String(64), default=None)
    base_url: Mapped[str | None] = mapped_column(String(300), default=None)
    enrolled_at: Mapped[datetime | None] = mapped_column(UtcDateTime(timezone=True), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime(timezone=True), default=None)
    last_seen_at: Mapped[datetime | None] = mapped_column(UtcDateTime(timezone=True), default=None)
