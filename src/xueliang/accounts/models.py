"""Users and their sessions."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Enum, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from xueliang.core.db import Base, UtcDateTime


class Role(enum.StrEnum):
    admin = "admin"  # county admin
    operator = "operator"  # police station operator (township)
    duty_officer = "duty_officer"  # village duty officer
    grid_worker = "grid_worker"
    volunteer = "volunteer"
    resident = "resident"
    auditor = "auditor"
    hospital_staff = "hospital_staff"  # county hospital staff, linked to one hospital (hospital domain)
    portal_editor = "portal_editor"  # portal content, scoped to departments or the county (portal domain)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=16))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"))
    phone: Mapped[str] = mapped_column(String(32), default="")
    locale: Mapped[str] = mapped_column(String(8), default="")
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    password_changed_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AuthSession(Base):
    """A login. Only the SHA-256 of the token is stored, so a database leak yields no live sessions."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "cookie" or "bearer"
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
    client: Mapped[str] = mapped_column(String(200), default="")
