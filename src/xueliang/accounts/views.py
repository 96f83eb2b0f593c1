"""Routes for login, logout, the caller, and user administration."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts import mfa, service, session_cache
from xueliang.accounts.config import AccountSettings
from xueliang.accounts.deps import SESSION_COOKIE, Ctx, CurrentCaller, Session, client_address, require
from xueliang.accounts.events import UserAccessChanged
from xueliang.accounts.models import AuthSession, Role, User
from xueliang.accounts.policy import ROLE_PERMISSIONS, Permission
from xueliang.accounts.schemas import (
    LocaleIn,
    LoginIn,
    LoginOut,
    MeOut,
    MfaConfirmIn,
    MfaEnrollIn,
    MfaEnrollOut,
    MfaStatusOut,
    RecoveryCodesOut,
    SessionOut,
    TokenOut,
    UserCreate,
    UserOut,
    UserPatch,
)
from xueliang.audit import service as audit
from xueliang.audit.service import Actor
from xueliang.core.bounds import PathId
from xueliang.core.context import AppContext
from xueliang.core.errors import Conflict, NotFound, Unauthorized
from xueliang.regions.models import Region

router = APIRouter(tags=["accounts"])

LANDING = {
    Role.admin: "/",
    Role.operator: "/",
    Role.duty_officer: "/",
    Role.auditor: "/audit",
    Role.grid_worker: "/m",
    Role.volunteer: "/m",
    Role.resident: "/m",
    Role.portal_editor: "/portal-admin",
    Role.hospital_staff: "/hospital",
}
ALLOWED_NEXT = (
    "/",
    "/tv",
    "/m",
    "/audit",
    "/admin",
    "/alarms",
    "/playback",
    "/grid",
    "/portal",
    "/portal-admin",
    "/portal-admin/preview",
    "/hospital",
    "/account",
    "/cascade",
    "/approvals",
    "/system",
)


def user_out(user: User, region: Region) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        region_id=region.id,
        region_code=region.code,
        region_name=region.name,
        household_id=user.household_id,
        disabled=user.disabled,
        locale=user.locale,
    )


def allowed_next(wanted: str) -> str | None:
    """Only our own pages are accepted as `next`, so a login link cannot redirect off-site (the API's
    `landing` and the login page's links both use this rule); None for anything else."""
    path = wanted.split("?", 1)[0]
    if path in ALLOWED_NEXT or path.startswith(("/tv/", "/m/")):
        return path
    return None


def _landing(role: Role, wanted: str) -> str:
    return allowed_next(wanted) or LANDING[role]


async def _check_login(
    body: LoginIn, request: Request, ctx: AppContext, session: AsyncSession, kind: str
) -> service.IssuedSession:
    s = ctx.services.require(AccountSettings)
    issued = await service.login(
        session,
        username=body.username,
        password=body.password,
        address=client_address(request),
        kind=kind,
        now=ctx.clock.now(),
        hours=s.session_hours,
        rules=service.login_rules(s, ctx.secret),
        otp=body.otp,
        client=request.headers.get("user-agent", ""),
    )
    await session.commit()
    return issued


@router.post("/auth/login", response_model=LoginOut)
async def login(body: LoginIn, request: Request, response: Response, ctx: Ctx, session: Session) -> LoginOut:
    s = ctx.services.require(AccountSettings)
    issued = await _check_login(body, request, ctx, session, "cookie")
    response.set_cookie(
        SESSION_COOKIE,
        issued.token,
        max_age=s.session_hours * 3600,
        httponly=True,
        samesite="strict",
        secure=s.cookie_secure,
        path="/",
    )
    region = await session.get(Region, issued.user.region_id)
    assert region is not None
    return LoginOut(
        user=user_out(issued.user, region),
        landing=_landing(issued.user.role, body.next),
        csrf_token=issued.csrf_token,
        expires_at=issued.expires_at,
    )


@router.post("/auth/token", response_model=TokenOut)
async def device_token(body: LoginIn, request: Request, ctx: Ctx, session: Session) -> TokenOut:
    """Bearer tokens for devices and scripts that cannot keep cookies."""
    issued = await _check_login(body, request, ctx, session, "bearer")
    return TokenOut(access_token=issued.token, expires_at=issued.expires_at)


@router.post("/auth/logout", status_code=204)
async def logout(caller: CurrentCaller, response: Response, ctx: Ctx, session: Session) -> None:
    await service.logout(session, caller.token, caller.actor, ctx.clock.now())
    ctx.events.publish(session, UserAccessChanged(caller.user.id, service.token_hash(caller.token)))
    await session.commit()
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/me", response_model=MeOut)
async def me(caller: CurrentCaller, session: Session) -> MeOut:
    region = await session.get(Region, caller.user.region_id)
    assert region is not None
    base = user_out(caller.user, region)
    return MeOut(
        **base.model_dump(),
        csrf_token=caller.auth.csrf_token,
        permissions=sorted(a.value for a in ROLE_PERMISSIONS[caller.user.role]),
    )


@router.put("/me/locale", status_code=204)
async def set_locale(body: LocaleIn, caller: CurrentCaller, session: Session) -> None:
    user = await session.get(User, caller.user.id)
    assert user is not None
    user.locale = body.locale
    session_cache.forget(session, user_id=user.id)
    await session.commit()


async def _scoped_user(session: Session, caller: CurrentCaller, user_id: int) -> tuple[User, Region]:
    row = (
        await session.execute(
            select(User, Region).join(Region, Region.id == User.region_id).where(User.id == user_id)
        )
    ).first()
    if row is None or not row[1].path.startswith(caller.principal.region_path):
        raise NotFound("user not found")
    return row[0], row[1]


@router.get("/users", response_model=list[UserOut])
async def list_users(caller: CurrentCaller, session: Session) -> list[UserOut]:
    require(caller, Permission.manage_users)
    return [user_out(u, r) for u, r in await service.list_users(session, caller.principal.region_path)]


@router.post("/users", response_model=UserOut, status_code=201)
async def create_user(body: UserCreate, caller: CurrentCaller, ctx: Ctx, session: Session) -> UserOut:
    require(caller, Permission.manage_users)
    region = await service.region_by_code(session, body.region_code)
    if not region.path.startswith(caller.principal.region_path):
        raise NotFound("region not found")
    user = await service.create_user(
        session,
        caller.actor,
        username=body.username,
        password=body.password,
        role=body.role,
        region=region,
        display_name=body.display_name,
        phone=body.phone,
        now=ctx.clock.now(),
    )
    await session.commit()
    return user_out(user, region)


@router.get("/users/{user_id}", response_model=UserOut)
async def get_user(user_id: PathId, caller: CurrentCaller, session: Session) -> UserOut:
    require(caller, Permission.manage_users)
    return user_out(*await _scoped_user(session, caller, user_id))


@router.patch("/users/{user_id}", response_model=UserOut)
async def patch_user(
    user_id: PathId, body: UserPatch, caller: CurrentCaller, ctx: Ctx, session: Session
) -> UserOut:
    require(caller, Permission.manage_users)
    user, region = await _scoped_user(session, caller, user_id)
    new_region = None
    if body.region_code is not None:
        new_region = await service.region_by_code(session, body.region_code)
        if not new_region.path.startswith(caller.principal.region_path):
            raise NotFound("region not found")
    await service.update_user(
        session,
        caller.actor,
        user,
        now=ctx.clock.now(),
        role=body.role,
        region=new_region,
        display_name=body.display_name,
        disabled=body.disabled,
        password=body.password,
    )
    ctx.events.publish(session, UserAccessChanged(user.id))
    await session.commit()
    return user_out(user, new_region or region)


# -- second factors (accounts/mfa.py) -------------------------------------------------------------------


@router.post("/auth/mfa/enroll", response_model=MfaEnrollOut)
async def mfa_enroll(body: MfaEnrollIn, request: Request, ctx: Ctx, session: Session) -> MfaEnrollOut:
    """Step 1: the password again, then a new secret for the authenticator app (not yet asked for at
    login). Refused while a confirmed factor exists: an admin resets a lost one."""
    s = ctx.services.require(AccountSettings)
    rules = service.login_rules(s, ctx.secret)
    now, address = ctx.clock.now(), client_address(request)
    user = await service.authenticate(
        session, username=body.username, password=body.password, address=address, now=now, rules=rules
    )
    if await mfa.enrolled(session, user.id):
        raise Conflict(
            "a second factor is already set up; an administrator can reset it", code="mfa_enrolled"
        )
    secret, uri = await mfa.start(session, rules.mfa_key, user, now)
    await audit.append(
        session,
        Actor(user.id, user.username, address),
        "auth.mfa_enroll",
        at=now,
        target_type="user",
        target_id=user.id,
    )
    await session.commit()
    return MfaEnrollOut(secret=secret, otpauth_uri=uri)


@router.post("/auth/mfa/confirm", response_model=RecoveryCodesOut)
async def mfa_confirm(body: MfaConfirmIn, request: Request, ctx: Ctx, session: Session) -> RecoveryCodesOut:
    """Step 2: a code from the app turns the factor on; the recovery codes are shown this once."""
    s = ctx.services.require(AccountSettings)
    rules = service.login_rules(s, ctx.secret)
    now, address = ctx.clock.now(), client_address(request)
    user = await service.authenticate(
        session, username=body.username, password=body.password, address=address, now=now, rules=rules
    )
    codes = await mfa.confirm(session, rules.mfa_key, user, body.otp, now)
    if codes is None:
        await service.refuse(session, user, body.username, address, now, "bad_otp")
        raise Unauthorized("wrong one-time code, or no enrolment pending", code="bad_otp")
    await audit.append(
        session,
        Actor(user.id, user.username, address),
        "auth.mfa_enabled",
        at=now,
        target_type="user",
        target_id=user.id,
    )
    await session.commit()
    return RecoveryCodesOut(recovery_codes=codes)


@router.get("/me/mfa", response_model=MfaStatusOut)
async def my_mfa(caller: CurrentCaller, ctx: Ctx, session: Session) -> MfaStatusOut:
    s = ctx.services.require(AccountSettings)
    return MfaStatusOut(
        enrolled=await mfa.enrolled(session, caller.user.id),
        required=mfa.required_for(caller.user.role, s.mfa_required),
        recovery_codes_left=await mfa.recovery_codes_left(session, caller.user.id),
    )


@router.delete("/users/{user_id}/mfa", status_code=204)
async def reset_mfa(user_id: PathId, caller: CurrentCaller, ctx: Ctx, session: Session) -> None:
    """An admin's reset for a lost phone: the factor and its codes go, and so do the user's sessions."""
    require(caller, Permission.manage_users)
    user, _region = await _scoped_user(session, caller, user_id)
    now = ctx.clock.now()
    if not await mfa.remove(session, user.id):
        raise NotFound("no second factor set up")
    await service.revoke_sessions(session, caller.actor, user, now)
    await audit.append(
        session,
        caller.actor,
        "auth.mfa_reset",
        at=now,
        target_type="user",
        target_id=user.id,
        detail={"username": user.username},
    )
    ctx.events.publish(session, UserAccessChanged(user.id))
    await session.commit()


# -- sessions ---------------------------------------------------------------------------------------------


def _sessions_out(rows: list[AuthSession], current: str | None = None) -> list[SessionOut]:
    return [
        SessionOut(
            id=row.id,
            kind=row.kind,
            created_at=row.created_at,
            expires_at=row.expires_at,
            client=row.client,
            current=row.token_hash == current,
        )
        for row in rows
    ]


@router.get("/me/sessions", response_model=list[SessionOut])
async def my_sessions(caller: CurrentCaller, ctx: Ctx, session: Session) -> list[SessionOut]:
    rows = await service.active_sessions(session, caller.user.id, ctx.clock.now())
    return _sessions_out(rows, service.token_hash(caller.token))


@router.delete("/me/sessions/{session_id}", status_code=204)
async def revoke_my_session(session_id: PathId, caller: CurrentCaller, ctx: Ctx, session: Session) -> None:
    user = await session.get(User, caller.user.id)
    assert user is not None
    ended = await service.revoke_sessions(session, caller.actor, user, ctx.clock.now(), session_id)
    for hashed in ended:
        ctx.events.publish(session, UserAccessChanged(user.id, hashed))
    await session.commit()


@router.get("/users/{user_id}/sessions", response_model=list[SessionOut])
async def user_sessions(
    user_id: PathId, caller: CurrentCaller, ctx: Ctx, session: Session
) -> list[SessionOut]:
    """Another user's sessions (where they are logged in from): personal data, so the read is audited."""
    require(caller, Permission.manage_users)
    user, _region = await _scoped_user(session, caller, user_id)
    now = ctx.clock.now()
    rows = await service.active_sessions(session, user.id, now)
    await audit.append(
        session,
        caller.actor,
        "user.sessions_view",
        at=now,
        target_type="user",
        target_id=user.id,
        detail={"username": user.username, "sessions": len(rows)},
    )
    await session.commit()
    return _sessions_out(rows)


@router.delete("/users/{user_id}/sessions", status_code=204)
async def revoke_user_sessions(user_id: PathId, caller: CurrentCaller, ctx: Ctx, session: Session) -> None:
    require(caller, Permission.manage_users)
    user, _region = await _scoped_user(session, caller, user_id)
    await service.revoke_sessions(session, caller.actor, user, ctx.clock.now())
    ctx.events.publish(session, UserAccessChanged(user.id))
    await session.commit()


@router.delete("/users/{user_id}/sessions/{session_id}", status_code=204)
async def revoke_user_session(
    user_id: PathId, session_id: PathId, caller: CurrentCaller, ctx: Ctx, session: Session
) -> None:
    require(caller, Permission.manage_users)
    user, _region = await _scoped_user(session, caller, user_id)
    ended = await service.revoke_sessions(session, caller.actor, user, ctx.clock.now(), session_id)
    for hashed in ended:
        ctx.events.publish(session, UserAccessChanged(user.id, hashed))
    await session.commit()
