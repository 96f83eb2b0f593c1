"""FastAPI dependencies: the database session and the authenticated caller for every route."""

from __future__ import annotations

import functools
import hmac
import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request, WebSocket
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts import service, session_cache
from xueliang.accounts.config import AccountSettings
from xueliang.accounts.models import AuthSession, User
from xueliang.accounts.policy import Permission, Principal, allows
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


async def ctx_dependency(request: Request) -> AppContext:
    """`get_ctx` as a dependency: async, because FastAPI runs a plain function dependency on a worker
    thread, a hand-off to another thread and back (~0.3 ms, and a wake-up to wait for on a busy CPU)
    on each of 135 routes for one attribute read."""
    return get_ctx(request)


Ctx = Annotated[AppContext, Depends(ctx_dependency)]
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


@functools.lru_cache(maxsize=8)
def _networks(trusted: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(item, strict=False) for item in trusted)


def _is_trusted(host: str, trusted: tuple[str, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(host.strip().removeprefix("[").removesuffix("]"))
    except ValueError:
        return False
    return any(ip in net for net in _networks(trusted))


def forwarded_client(peer: str, forwarded_for: list[str], trusted: tuple[str, ...]) -> str:
    """The client behind trusted proxies: X-Forwarded-For is read only when the peer is one of them,
    from the right (the nearest hop), skipping trusted hops; the first other one is the client.
    Anything the client itself wrote further left is never believed."""
    if not trusted or not forwarded_for or not _is_trusted(peer, trusted):
        return peer
    hops = [hop.strip() for value in forwarded_for for hop in value.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted):
            return hop[:64]
    return hops[0][:64] if hops else peer


def client_address(request: Request | WebSocket) -> str:
    """The caller's address for audit rows and login throttling: the peer, or the client named by a
    trusted reverse proxy (AccountSettings.trusted_proxies)."""
    peer = request.client.host if request.client else ""
    trusted = tuple(get_ctx_any(request).services.require(AccountSettings).trusted_proxies)
    return forwarded_client(peer, request.headers.getlist("x-forwarded-for"), trusted)


def get_ctx_any(connection: Request | WebSocket) -> AppContext:
    ctx: AppContext = connection.app.state.ctx
    return ctx


def _token_from(request: Request) -> tuple[str, bool] | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), False
    cookie = request.cookies.get(SESSION_COOKIE)
    return (cookie, True) if cookie else None


async def resolve_token(ctx: AppContext, token: str) -> session_cache.Resolved | None:
    """Token → session, user and principal: from the session cache while fresh, else from a read
    session of its own (a request holds no write turn on SQLite until its handler writes)."""
    hashed = service.token_hash(token)
    db = str(ctx.db.engine.url)
    found = session_cache.get(db, hashed)
    if found is None:
        generation = session_cache.generation()
        async with ctx.db.read_session() as session:
            row = await service.session_row(session, hashed)
            if row is None:
                return None
            auth, user = row
            found = session_cache.Resolved(auth, user, await service.principal_for(session, user))
        session_cache.put(db, hashed, found, generation)
    if found.auth.expires_at <= ctx.clock.now() or found.user.disabled:
        return None
    return found


async def caller_from_request(request: Request) -> Caller | None:
    found = _token_from(request)
    if found is None:
        return None
    token, _ = found
    resolved = await resolve_token(get_ctx(request), token)
    if resolved is None:
        return None
    return Caller(resolved.user, resolved.principal, resolved.auth, token, client_address(request))


def websocket_token(websocket: WebSocket) -> str | None:
    """`Authorization: Bearer`, or the session cookie of a same-origin page. The handshake is a GET,
    so no CSRF token applies; the Origin is checked instead (cross-site WebSocket hijacking)."""
    origin = websocket.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != websocket.headers.get("host", ""):
        return None
    header = websocket.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return websocket.cookies.get(SESSION_COOKIE) or None


async def caller_from_websocket(websocket: WebSocket) -> Caller | None:
    token = websocket_token(websocket)
    if token is None:
        return None
    resolved = await resolve_token(websocket.app.state.ctx, token)
    if resolved is None:
        return None
    address = client_address(websocket)
    return Caller(resolved.user, resolved.principal, resolved.auth, token, address)


async def current_caller(request: Request) -> Caller:
    """The logged-in caller. Cookie sessions must echo their CSRF token on state-changing requests;
    bearer tokens are not sent by browsers on their own, so they need none."""
    found = _token_from(request)
    caller = await caller_from_request(request)
    if caller is None or found is None:
        raise Unauthorized("log in first", code="not_logged_in")
    if found[1] and request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent.encode(), caller.auth.csrf_token.encode()):
            raise Forbidden("missing or wrong CSRF token", code="csrf")
    return caller


CurrentCaller = Annotated[Caller, Depends(current_caller)]


def require(caller: Caller, permission: Permission) -> None:
    """Role-level check. Callers without the right get 403 on collection routes; object routes answer
    404 instead, through the scoped queries."""
    if not allows(caller.principal, permission):
        raise Forbidden("your role may not do this", code="forbidden")
