"""TOTP second factors (RFC 6238, `pyotp`) and recovery codes (issue 14, MFA).

A user enrols by proving their password (`start`: a new secret, not yet asked for at login), then a
code from their authenticator app (`confirm`: from then on login needs a code; ten recovery codes
are handed out once). Login accepts a current code (one step of clock drift either way), each time
step once, or an unused recovery code. `AccountSettings.mfa_required` makes it compulsory for the
roles that see the most (admin, operator, auditor); it is off by default (the demo, the tests).
The secret is sealed with AES-GCM under a key derived from the node's secret; functions here never
commit (the routes do)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.mfa_models import MfaCredential, MfaRecoveryCode
from xueliang.accounts.models import Role, User

MFA_ROLES = frozenset({Role.admin, Role.operator, Role.auditor})
ISSUER = "Xueliang"
RECOVERY_CODES = 10
_CODE_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i


def mfa_key(node_secret: str) -> bytes:
    """The sealing key: derived from the node's secret, so it is never stored beside the data."""
    return hmac.new(node_secret.encode(), b"xueliang-mfa-seal", hashlib.sha256).digest()


def _seal(key: bytes, user_id: int, secret: str) -> str:
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(key).encrypt(nonce, secret.encode(), str(user_id).encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def _unseal(key: bytes, user_id: int, sealed: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(sealed.encode())
        return AESGCM(key).decrypt(raw[:12], raw[12:], str(user_id).encode()).decode()
    except (ValueError, InvalidTag):
        return None  # another node's secret (or a tampered row): no code can match


def _code_hash(code: str) -> str:
    return hashlib.sha256(normalize(code).encode()).hexdigest()


def normalize(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


async def credential(session: AsyncSession, user_id: int) -> MfaCredential | None:
    return await session.get(MfaCredential, user_id)


async def enrolled(session: AsyncSession, user_id: int) -> bool:
    cred = await credential(session, user_id)
    return cred is not None and cred.confirmed_at is not None


async def start(session: AsyncSession, key: bytes, user: User, now: datetime) -> tuple[str, str]:
    """A new, unconfirmed secret for a user who has no confirmed one; (secret, otpauth:// URI for a QR
    code). The caller has checked the password and that no confirmed factor exists."""
    secret = pyotp.random_base32()
    cred = await credential(session, user.id)
    if cred is None:
        cred = MfaCredential(user_id=user.id, secret_sealed="", created_at=now, last_step=0)
        session.add(cred)
    cred.secret_sealed = _seal(key, user.id, secret)
    cred.created_at, cred.confirmed_at, cred.last_step = now, None, 0
    await session.flush()
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)
    return secret, uri


def _accept_totp(key: bytes, cred: MfaCredential, code: str, now: datetime) -> bool:
    """A current code (±1 step), each step once: `last_step` moves past the step used."""
    secret = _unseal(key, cred.user_id, cred.secret_sealed)
    digits = normalize(code)
    if secret is None or len(digits) != 6 or not digits.isascii() or not digits.isdigit():
        return False
    totp = pyotp.TOTP(secret)
    step = totp.timecode(now)
    for offset in (-1, 0, 1):
        if step + offset > cred.last_step and hmac.compare_digest(
            totp.at(now, counter_offset=offset).encode(), digits.encode()
        ):
            cred.last_step = step + offset
            return True
    return False


async def confirm(
    session: AsyncSession, key: bytes, user: User, code: str, now: datetime
) -> list[str] | None:
    """Confirms the pending secret with a code from the app; the new recovery codes (to show once), or
    None if the code is wrong or nothing is pending."""
    cred = await credential(session, user.id)
    if cred is None or cred.confirmed_at is not None or not _accept_totp(key, cred, code, now):
        return None
    cred.confirmed_at = now
    return await new_recovery_codes(session, user.id)


async def new_recovery_codes(session: AsyncSession, user_id: int) -> list[str]:
    """Replaces the user's recovery codes; the plain codes are returned once and never stored."""
    await session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(10))
        code = f"{raw[:5]}-{raw[5:]}"
        codes.append(code)
        session.add(MfaRecoveryCode(user_id=user_id, code_hash=_code_hash(code)))
    await session.flush()
    return codes


async def check(session: AsyncSession, key: bytes, user_id: int, code: str, now: datetime) -> str | None:
    """At login: "totp" or "recovery" for a good code (used up), None for a wrong one."""
    cred = await credential(session, user_id)
    if cred is None or cred.confirmed_at is None or not code or len(code) > 64:
        return None
    if _accept_totp(key, cred, code, now):
        return "totp"
    wanted = _code_hash(code)
    row = (
        await session.scalars(
            select(MfaRecoveryCode).where(
                MfaRecoveryCode.user_id == user_id,
                MfaRecoveryCode.code_hash == wanted,
                MfaRecoveryCode.used_at.is_(None),
            )
        )
    ).first()
    if row is None:
        return None
    row.used_at = now
    return "recovery"


async def recovery_codes_left(session: AsyncSession, user_id: int) -> int:
    q = select(func.count()).where(MfaRecoveryCode.user_id == user_id, MfaRecoveryCode.used_at.is_(None))
    return int((await session.execute(q)).scalar_one())


async def remove(session: AsyncSession, user_id: int) -> bool:
    """Drops the user's factor and codes (an admin's reset for a lost phone); True if there was one."""
    found = await credential(session, user_id)
    await session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user_id))
    await session.execute(delete(MfaCredential).where(MfaCredential.user_id == user_id))
    return found is not None


def required_for(role: Role, mfa_required: bool) -> bool:
    return mfa_required and role in MFA_ROLES
