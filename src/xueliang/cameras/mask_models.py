"""Privacy tables of a camera: its masks (polygons over private windows and yards) and the facts its
privacy page states (what it watches, why, who runs it, whom to contact, whether it is sensitive).

Kept beside `cameras` rather than in it so a camera without privacy data costs no columns, and the
privacy page can say "not stated" instead of inventing a purpose."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from xueliang.core.db import Base, UtcDateTime


class CameraMask(Base):
    """One polygon, in coordinates normalised to the picture (0..1 from the top-left corner)."""

    __tablename__ = "camera_masks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    points: Mapped[list[Any]] = mapped_column(JSON)  # [[x, y], ...], 3..64 points
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class CameraPrivacy(Base):
    """What the camera's privacy page says; `sensitive` makes exports need a second person's approval."""

    __tablename__ = "camera_privacy"

    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True)
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    watches: Mapped[str] = mapped_column(String(300), default="")  # what it looks at
    purpose: Mapped[str] = mapped_column(String(300), default="")  # why
    controller: Mapped[str] = mapped_column(String(200), default="")  # who runs it
    contact: Mapped[str] = mapped_column(String(200), default="")  # whom to ask
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime)
