"""Privacy tables of a camera: its masks (polygons over private windows and yards) and the facts its
privacy page states (what it watches, why, who runs it, whom to contact, whether it is sensitive).

Kept beside `cameras` rather than in it so a camera without privacy data costs no columns, and the
privacy page can say "not stated" instead of inventing a purpose."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from xueliang.core.db import Base, UtcDateTime


class CameraMask(Base):
    """One polygon, in coordinates normalised to the picture (0..1 from the top-left corner)."""

    __tablename__ = "camera_masks"
    __table_args__ = (Index("ix_camera_masks_camera_preset", "camera_id", "preset"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), index=True)
    preset: Mapped[int] = mapped_column(SmallInteger, default=0, server_default="0")  # 0: default set
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


class CameraMaskSet(Base):
    """A PTZ camera's mask set for one preset (its polygons are the `CameraMask` rows of that preset):
    when it was drawn, and when the preset was last saved on the camera. A set drawn before its preset
    was saved again shows the old view's areas: it is not in force until drawn again (fail closed)."""

    __tablename__ = "camera_mask_sets"

    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True)
    preset: Mapped[int] = mapped_column(SmallInteger, primary_key=True)  # 1..255
    drawn_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    drawn_by: Mapped[str] = mapped_column(String(64), default="", server_default="")
    preset_saved_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


class CameraPtzPosition(Base):
    """Where one of our PTZ commands left a camera, from `at` on: at `preset`, or (NULL) moved by hand
    or still on its way. Masked playback reads these to mask each frame with the set then in force."""

    __tablename__ = "camera_ptz_positions"
    __table_args__ = (Index("ix_camera_ptz_positions_camera_at", "camera_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    camera_id: Mapped[int] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UtcDateTime)
    preset: Mapped[int | None] = mapped_column(SmallInteger, nullable=True)
    cause: Mapped[str] = mapped_column(String(16))  # preset_call, moving, move, upper
    actor: Mapped[str] = mapped_column(String(64), default="", server_default="")
