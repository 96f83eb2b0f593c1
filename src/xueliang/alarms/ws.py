"""WebSocket /api/v1/alarms/ws: consoles, TVs and phones get alarm and task changes in their scope
the moment they are committed. On connect a `hello` carries the open alarms (and tasks) so a console
that reconnects is whole again; a `resync` asks the client to do the same after it fell behind.

Authenticated by the session cookie (then the Origin must be our own host, against cross-site
WebSocket hijacking) or by `Authorization: Bearer`."""

from __future__ import annotations

import asyncio
import contextlib
import json
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from xueliang.accounts import service as accounts
from xueliang.accounts.deps import SESSION_COOKIE, Caller
from xueliang.accounts.policy import may_handle_alarm
from xueliang.alarms import mobilization, service
from xueliang.alarms.push import audience_for
from xueliang.alarms.render import alarm_out, status_out
from xueliang.core.context import AppContext
from xueliang.notify.hub import Subscription, hub_of

router = APIRouter()
POLICY_VIOLATION = 1008
SNAPSHOT_LIMIT = 200


def _origin_ok(ws: WebSocket) -> bool:
    origin = ws.headers.get("origin")
    if origin is None:
        return True  # not a browser
    return urlsplit(origin).netloc == ws.headers.get("host", "")


async def _authenticate(ws: WebSocket, ctx: AppContext) -> Caller | None:
    header = ws.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        token = header[7:].strip()
    else:
        token = ws.cookies.get(SESSION_COOKIE, "")
        if not token or not _origin_ok(ws):
            return None
    async with ctx.db.session() as session:
        resolved = await accounts.resolve_session(session, token, ctx.clock.now())
        if resolved is None:
            return None
        auth, user = resolved
        principal = await accounts.principal_for(session, user)
    address = ws.client.host if ws.client else ""
    return Caller(user, principal, auth, token, address)


async def _hello(ctx: AppContext, caller: Caller) -> str:
    p = caller.principal
    async with ctx.db.session() as session:
        alarms = await service.list_alarms(session, p, service.AlarmQuery(open_only=True), SNAPSHOT_LIMIT)
        rendered = [
            (await alarm_out(session, a)).model_dump(mode="json")
            if may_handle_alarm(p, a.region_path)
            else status_out(a).model_dump(mode="json")
            for a in alarms
        ]
        tasks = [t.model_dump(mode="json") for t in await mobilization.my_tasks(session, p)]
    me = {"id": caller.user.id, "username": caller.user.username, "role": caller.user.role.value}
    return json.dumps({"type": "hello", "user": me, "alarms": rendered, "tasks": tasks}, ensure_ascii=False)


async def _pump(ws: WebSocket, sub: Subscription) -> None:
    while True:
        await ws.send_text(await sub.next())


async def _listen(ws: WebSocket) -> None:
    while True:
        text = await ws.receive_text()
        try:
            kind = json.loads(text).get("type")
        except (ValueError, AttributeError):
            kind = None
        if kind == "ping":
            await ws.send_text('{"type":"pong"}')


@router.websocket("/ws")
async def alarm_socket(ws: WebSocket) -> None:
    ctx: AppContext = ws.app.state.ctx
    caller = await _authenticate(ws, ctx)
    if caller is None:
        await ws.close(code=POLICY_VIOLATION, reason="log in first")
        return
    await ws.accept()
    hub = hub_of(ctx)
    sub = hub.subscribe(audience_for(caller.principal))  # before the snapshot: nothing falls between
    try:
        await ws.send_text(await _hello(ctx, caller))
        expires_in = max(0.0, (caller.auth.expires_at - ctx.clock.now()).total_seconds())
        tasks = [asyncio.create_task(_pump(ws, sub)), asyncio.create_task(_listen(ws))]
        done, pending = await asyncio.wait(tasks, timeout=expires_in, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await task
        for task in done:
            with contextlib.suppress(Exception):  # the peer went away; nothing to tell it
                task.result()
        if not done:
            with contextlib.suppress(RuntimeError):
                await ws.close(code=POLICY_VIOLATION, reason="session expired")
    except WebSocketDisconnect:
        pass
    finally:
        hub.unsubscribe(sub)
