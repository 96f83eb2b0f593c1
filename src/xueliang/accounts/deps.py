"""FastAPI dependencies: the database session and the authenticated caller for every route."""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request, WebSocket
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts import service
from xueliang.accounts.models import AuthSession, User
from xueliang.accounts.policy import Action, Principal, allows
from xueliang.audit.service import Actor
from xueliang.core.context import AppContext
from xueliang.core.errors import Forbidden, Unauthorized

SESSION_COOKIE = "xl_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


def get_ctx(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


async def db_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_ctx(request).db.session() as session:
        yield session


async def db_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with get_ctx(request).db.read_session() as session:
        yield session


Ctx = Annotated[AppContext, Depends(get_ctx)]
Session = Annotated[AsyncSession, Depends(db_session)]
ReadSession = Annotated[AsyncSession, Depends(db_read_session)]  # routes that never write


@dataclass(frozen=True)
class Caller:
    user: User
    principal: Principal
    auth: AuthSession
    token: str
    address: str

    @property
    def actor(self) -> Actor:
        return Actor(self.user.id, self.user.username, self.address)


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


def _token_from(request: Request) -> tuple[str, bool] | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie else None


async def caller_from_request(request: Request, session: AsyncSession) -> Caller | None:
    found = _token_from(request)
    if found is None:
        return None
    token, _ = found
    resolved = await service.resolve_session(session, token, get_ctx(request).clock.now())
    if resolved is None:
        return None
    auth, user = resolved
    return Caller(user, await service.principal_for(session, user), auth, token, client_address(request))


async def caller_from_websocket(websocket: WebSocket) -> Caller | None:
    """WebSockets authenticate by the session cookie (same-origin pages) or `Authorization: Bearer`.
    The handshake is a GET, so no CSRF token applies; Origin is checked instead."""
    origin = websocket.headers.get("origin")
    host = websocket.headers.get("host", "")
    if origin is not None and origin.split("://", 1)[-1] != host:
        return None
    header = websocket.headers.get("authorization", "")
    token = (
        header[7:].strip() if header.lower().startswith("bearer ") else websocket.cookies.get(SESSION_COOKIE)
    )
    if not token:
        return None
    ctx: AppContext = websocket.app.state.ctx
    async with ctx.db.read_session() as session:
        resolved = await service.resolve_session(session, token, ctx.clock.now())
        if resolved is None:
            return None
        auth, user = resolved
        address = websocket.client.host if websocket.client else ""
        return Caller(user, await service.principal_for(session, user), auth, token, address)


async def current_caller(request: Request) -> Caller:
    """The logged-in caller. Cookie sessions must echo their CSRF token on state-changing requests;
    bearer tokens are not sent by browsers on their own, so they need none. Looked up in a read
    session of its own, so a request holds no write turn (SQLite) until its handler writes."""
    found = _token_from(request)
    async with get_ctx(request).db.read_session() as session:
        caller = await caller_from_request(request, session)
    if caller is None or found is None:
        raise Unauthorized("log in first", code="not_logged_in")
    if found[1] and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), caller.auth.csrf_token.encode()):
            raise Forbidden("missing or wrong CSRF token", code="csrf")
    return caller


CurrentCaller = Annotated[Caller, Depends(current_caller)]


def require(caller: Caller, action: Action) -> None:
    """Role-level check. Callers without the right get 403 on collection routes; object routes answer
    404 instead, through the scoped queries."""
    if not allows(caller.principal, action):
        raise Forbidden("your role may not do this", code="forbidden")
