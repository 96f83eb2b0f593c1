"""Second factors: a TOTP secret per user (encrypted with a key derived from the node's secret, so a
database copy alone yields no codes) and single-use recovery codes (only their SHA-256 is kept)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from xueliang.core.db import Base, UtcDateTime


class MfaCredential(Base):
    """One per user. Unconfirmed (`confirmed_at` None) until the user proves a code from their app;
    only then does login ask for codes. `last_step` is the last TOTP time step accepted: a code is
    good once."""

    __tablename__ = "mfa_credentials"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    secret_sealed: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_step: Mapped[int] = mapped_column(Integer, default=0)


class MfaRecoveryCode(Base):
    __tablename__ = "mfa_recovery_codes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
