"""Alarm test helpers: the app's context and timer runner, logins to an app, a user's principal."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from tests.support.app import LoggedIn
from xueliang.accounts import service as accounts
from xueliang.accounts.models import User
from xueliang.accounts.policy import Principal
from xueliang.core.context import AppContext
from xueliang.core.db import Database
from xueliang.core.timers import TimerRunner

Login = Callable[..., Awaitable[httpx.AsyncClient]]


def ctx_of(app: FastAPI) -> AppContext:
    ctx: AppContext = app.state.ctx
    return ctx


def runner(app: FastAPI) -> TimerRunner:
    found = ctx_of(app).services.require(TimerRunner)
    return found


@asynccontextmanager
async def logins_to(app: FastAPI) -> AsyncIterator[Login]:
    """`c = await login("op-qingxi")`: clients of `app` logged in as that user, closed at the end."""
    clients: list[httpx.AsyncClient] = []

    async def do(username: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50002))
        c = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        clients.append(c)
        return await LoggedIn(c).login(username)

    try:
        yield do
    finally:
        for c in clients:
            await c.aclose()


async def principal(db: Database, username: str) -> Principal:
    async with db.session() as session:
        user = await accounts.find_user(session, username)
        assert isinstance(user, User)
        return await accounts.principal_for(session, user)


def new_uuid() -> str:
    return str(uuid.uuid4())
