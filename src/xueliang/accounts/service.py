"""Users, logins and sessions."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts import mfa, passwords, session_cache, throttle
from xueliang.accounts.config import AccountSettings
from xueliang.accounts.models import AuthSession, Role, User
from xueliang.accounts.policy import Principal
from xueliang.audit import service as audit
from xueliang.audit.service import Actor
from xueliang.core.errors import (
    Conflict,
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthorized,
    ValidationFailed,
)
from xueliang.regions.models import Region, RegionLevel

# The region level each role is bound to: an operator to a township, a resident to a village...
ROLE_LEVELS: dict[Role, set[RegionLevel]] = {
    Role.admin: {RegionLevel.county, RegionLevel.province},
    Role.auditor: {RegionLevel.county, RegionLevel.province},
    Role.operator: {RegionLevel.township},
    Role.duty_officer: {RegionLevel.village},
    Role.volunteer: {RegionLevel.village},
    Role.resident: {RegionLevel.village},
    Role.grid_worker: {RegionLevel.village, RegionLevel.grid},
    Role.hospital_staff: {RegionLevel.county},
    Role.portal_editor: {RegionLevel.county},
}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def principal_for(session: AsyncSession, user: User) -> Principal:
    region = await session.get(Region, user.region_id)
    assert region is not None
    return Principal(user.id, user.username, user.role, region.id, region.path, user.household_id)


async def get_user(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("user not found")
    return user


async def find_user(session: AsyncSession, username: str) -> User | None:
    return (await session.scalars(select(User).where(User.username == username))).first()


async def region_by_code(session: AsyncSession, code: str) -> Region:
    region = (await session.scalars(select(Region).where(Region.code == code))).first()
    if region is None:
        raise ValidationFailed(f"no region with code {code!r}")
    return region


def _check_binding(role: Role, region: Region) -> None:
    if region.level not in ROLE_LEVELS[role]:
        allowed = ", ".join(sorted(level.value for level in ROLE_LEVELS[role]))
        raise ValidationFailed(
            f"a {role.value} must belong to a region of level {allowed}, "
            f"not {region.level.value} {region.code}"
        )


async def create_user(
    session: AsyncSession,
    actor: Actor,
    *,
    username: str,
    password: str,
    role: Role,
    region: Region,
    display_name: str = "",
    household_id: int | None = None,
    phone: str = "",
    now: datetime,
    audit_it: bool = True,
) -> User:
    username = username.strip()
    if (
        not username
        or len(username) > 64
        or not username.replace("_", "").replace("-", "").replace(".", "").isalnum()
    ):
        raise ValidationFailed("username must be 1-64 letters, digits, '.', '-' or '_'")
    try:
        passwords.check_strength(password)
    except ValueError as exc:
        raise ValidationFailed(str(exc)) from exc
    _check_binding(role, region)
    if await find_user(session, username) is not None:
        raise Conflict(f"user {username!r} already exists")
    user = User(
        username=username,
        display_name=display_name or username,
        password_hash=passwords.hash_password(password),
        role=role,
        region_id=region.id,
        household_id=household_id,
        phone=phone,
        created_at=now,
        password_changed_at=now,
    )
    session.add(user)
    await session.flush()
    if audit_it:
        await audit.append(
            session,
            actor,
            "user.create",
            at=now,
            target_type="user",
            target_id=user.id,
            detail={"username": username, "role": role.value, "region": region.code},
        )
    return user


async def update_user(
    session: AsyncSession,
    actor: Actor,
    user: User,
    *,
    now: datetime,
    role: Role | None = None,
    region: Region | None = None,
    display_name: str | None = None,
    disabled: bool | None = None,
    password: str | None = None,
) -> User:
    changes: dict[str, object] = {}
    new_role = role or user.role
    if region is not None or role is not None:
        target_region = region or await session.get(Region, user.region_id)
        assert target_region is not None
        _check_binding(new_role, target_region)
    if role is not None and role != user.role:
        changes["role"] = [user.role.value, role.value]
        user.role = role
    if region is not None and region.id != user.region_id:
        changes["region"] = region.code
        user.region_id = region.id
    if display_name is not None and display_name != user.display_name:
        changes["display_name"] = display_name
        user.display_name = display_name
    if disabled is not None and disabled != user.disabled:
        changes["disabled"] = disabled
        user.disabled = disabled
    if password is not None:
        try:
            passwords.check_strength(password)
        except ValueError as exc:
            raise ValidationFailed(str(exc)) from exc
        user.password_hash = passwords.hash_password(password)
        user.password_changed_at = now
        changes["password"] = "changed"  # noqa: S105 - a marker, not a secret
    if changes:
        if "password" in changes or "disabled" in changes or "role" in changes or "region" in changes:
            # Rights changed: existing sessions must not keep the old rights.
            await session.execute(delete(AuthSession).where(AuthSession.user_id == user.id))
        session_cache.forget(session, user_id=user.id)  # cached callers hold the old row
        await audit.append(
            session,
            actor,
            "user.update",
            at=now,
            target_type="user",
            target_id=user.id,
            detail={"username": user.username, **changes},
        )
    return user


@dataclass(frozen=True)
class IssuedSession:
    token: str
    csrf_token: str
    expires_at: datetime
    user: User


@dataclass(frozen=True)
class LoginRules:
    """How logins are checked: the throttle (accounts/throttle.py) and second factors (accounts/mfa.py)."""

    window_s: int
    account: throttle.Rule
    address: throttle.Rule
    mfa_key: bytes = b""
    mfa_required: bool = False  # for MFA_ROLES: no session without a confirmed factor
    known_address_s: int = 0  # the account's delay does not hold where it logged in within this time


def login_rules(s: AccountSettings, node_secret: str) -> LoginRules:
    return LoginRules(
        window_s=s.login_window_seconds,
        account=throttle.Rule(
            s.login_free_failures_per_account, s.login_delay_first_s, s.login_delay_max_account_s
        ),
        address=throttle.Rule(
            s.login_free_failures_per_address, s.login_delay_first_s, s.login_delay_max_address_s
        ),
        mfa_key=mfa.mfa_key(node_secret),
        mfa_required=s.mfa_required,
        known_address_s=s.login_known_address_days * 86400,
    )


async def refuse(
    session: AsyncSession, user: User | None, username: str, address: str, now: datetime, reason: str
) -> None:
    """Records a failed login and commits it, so that it counts (in every process) before we raise."""
    await audit.append(
        session,
        Actor(user.id if user else None, username[:64], address),
        "auth.login_failed",
        at=now,
        target_type="user",
        detail={"reason": reason},
    )
    await session.commit()


async def authenticate(
    session: AsyncSession, *, username: str, password: str, address: str, now: datetime, rules: LoginRules
) -> User:
    """Check the password, slowed by recent failures per account and per address (accounts/throttle.py:
    counted from the audit trail, so the delay holds across processes and restarts; a try within the
    delay is refused before the password is looked at). Owns its transaction on refusal: the failure's
    audit row is committed before it raises."""
    wait, scope = await throttle.wait_needed(
        session,
        username=username,
        address=address,
        now=now,
        window_s=rules.window_s,
        account=rules.account,
        per_address=rules.address,
        known_address_s=rules.known_address_s,
    )
    if wait > 0:
        seconds = throttle.retry_after(wait)
        raise TooManyRequests(
            f"too many failed logins for this {scope}; try again in {seconds} s", code="login_locked"
        )
    user = await find_user(session, username)
    ok = False
    if user is None:
        passwords.burn_time(password)
    else:
        ok = passwords.verify_password(user.password_hash, password) and not user.disabled
    if not ok or user is None:
        reason = "disabled" if user is not None and user.disabled else "bad_credentials"
        await refuse(session, user, username, address, now, reason)
        raise Unauthorized("wrong username or password", code="bad_credentials")
    return user


async def login(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    address: str,
    kind: str,
    now: datetime,
    hours: int,
    rules: LoginRules,
    otp: str = "",
    client: str = "",
) -> IssuedSession:
    """`authenticate`, then the second factor where the user has one (a wrong code counts as a failed
    login, so codes are throttled like passwords), then a new session."""
    user = await authenticate(
        session, username=username, password=password, address=address, now=now, rules=rules
    )
    factor = "none"
    if await mfa.enrolled(session, user.id):
        if not otp:
            raise Unauthorized("enter the one-time code from your authenticator app", code="mfa_required")
        used = await mfa.check(session, rules.mfa_key, user.id, otp, now)
        if used is None:
            await refuse(session, user, username, address, now, "bad_otp")
            raise Unauthorized("wrong or already used one-time code", code="bad_otp")
        factor = used
    elif mfa.required_for(user.role, rules.mfa_required):
        raise Forbidden(
            "your role must set up a second factor first (POST /api/v1/auth/mfa/enroll)",
            code="mfa_enrollment_required",
        )
    token = secrets.token_urlsafe(32)
    issued = IssuedSession(token, secrets.token_urlsafe(24), now + timedelta(hours=hours), user)
    session.add(
        AuthSession(
            token_hash=token_hash(token),
            user_id=user.id,
            kind=kind,
            csrf_token=issued.csrf_token,
            created_at=now,
            expires_at=issued.expires_at,
            client=client[:200],
        )
    )
    await audit.append(
        session,
        Actor(user.id, user.username, address),
        "auth.login",
        at=now,
        target_type="user",
        target_id=user.id,
        detail={"kind": kind, "factor": factor},
    )
    return issued


async def session_row(session: AsyncSession, hashed_token: str) -> tuple[AuthSession, User] | None:
    """The session and its user, whether expired or disabled or not: the caller judges by its clock."""
    row = (
        await session.execute(
            select(AuthSession, User)
            .join(User, User.id == AuthSession.user_id)
            .where(AuthSession.token_hash == hashed_token)
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


async def resolve_session(
    session: AsyncSession, token: str, now: datetime
) -> tuple[AuthSession, User] | None:
    row = await session_row(session, token_hash(token))
    if row is None:
        return None
    auth, user = row
    if auth.expires_at <= now or user.disabled:
        return None
    return auth, user


async def logout(session: AsyncSession, token: str, actor: Actor, now: datetime) -> None:
    session_cache.forget(session, token_hash=token_hash(token))
    await session.execute(delete(AuthSession).where(AuthSession.token_hash == token_hash(token)))
    await audit.append(session, actor, "auth.logout", at=now, target_type="user", target_id=actor.id or "")


async def list_users(session: AsyncSession, scope_path: str) -> list[tuple[User, Region]]:
    rows = await session.execute(
        select(User, Region)
        .join(Region, Region.id == User.region_id)
        .where(Region.path.startswith(scope_path, autoescape=True))
        .order_by(User.role, User.username)
    )
    return [(u, r) for u, r in rows.all()]


async def active_sessions(session: AsyncSession, user_id: int, now: datetime) -> list[AuthSession]:
    """A user's sessions that have not expired, newest first."""
    rows = await session.scalars(
        select(AuthSession)
        .where(AuthSession.user_id == user_id, AuthSession.expires_at > now)
        .order_by(AuthSession.created_at.desc(), AuthSession.id.desc())
    )
    return list(rows)


async def revoke_sessions(
    session: AsyncSession, actor: Actor, user: User, now: datetime, session_id: int | None = None
) -> list[str]:
    """Ends one of the user's sessions (`session_id`; NotFound if it is not theirs) or all of them;
    audited. Returns the token hashes ended, for the caller to tell whoever holds them open."""
    q = select(AuthSession).where(AuthSession.user_id == user.id)
    if session_id is not None:
        q = q.where(AuthSession.id == session_id)
    ended = list(await session.scalars(q))
    if session_id is not None and not ended:
        raise NotFound("session not found")
    for row in ended:
        session_cache.forget(session, token_hash=row.token_hash)
        await session.delete(row)
    await audit.append(
        session,
        actor,
        "auth.session_revoke",
        at=now,
        target_type="user",
        target_id=user.id,
        detail={"username": user.username, "sessions": [row.id for row in ended]},
    )
    await session.flush()
    return [row.token_hash for row in ended]
