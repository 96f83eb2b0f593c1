"""API types for logins and users."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from xueliang.accounts.models import Role


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    next: str = ""
    otp: str = Field(default="", max_length=64)  # a TOTP or recovery code, for users with a second factor


class MfaEnrollIn(BaseModel):
    """Enrolling proves the password again (it also works before a first login, when the setting
    requires a second factor)."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class MfaEnrollOut(BaseModel):
    secret: str  # base32, for typing into the app
    otpauth_uri: str  # for a QR code


class MfaConfirmIn(MfaEnrollIn):
    otp: str = Field(min_length=1, max_length=64)


class RecoveryCodesOut(BaseModel):
    recovery_codes: list[str]  # shown once: only their hashes are kept


class MfaStatusOut(BaseModel):
    enrolled: bool
    required: bool
    recovery_codes_left: int


class SessionOut(BaseModel):
    id: int
    kind: str
    created_at: datetime
    expires_at: datetime
    client: str
    current: bool


class LoginOut(BaseModel):
    user: UserOut
    landing: str
    csrf_token: str
    expires_at: datetime


class TokenOut(BaseModel):
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth token type name
    expires_at: datetime


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    role: Role
    region_id: int
    region_code: str
    region_name: str
    household_id: int | None
    disabled: bool
    locale: str


class MeOut(UserOut):
    csrf_token: str
    permissions: list[str]


class UserCreate(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=256)
    role: Role
    region_code: str
    display_name: str = Field(default="", max_length=100)
    phone: str = Field(default="", max_length=32)


class UserPatch(BaseModel):
    display_name: str | None = Field(default=None, max_length=100)
    role: Role | None = None
    region_code: str | None = None
    disabled: bool | None = None
    password: str | None = Field(default=None, min_length=8, max_length=256)


class LocaleIn(BaseModel):
    locale: str = Field(pattern=r"^(zh_CN|en)$")


LoginOut.model_rebuild()
