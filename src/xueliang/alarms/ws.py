"""WebSocket /api/v1/alarms/ws: consoles, TVs and phones get alarm and task changes in their scope
the moment they are committed. On connect a `hello` carries the open alarms (and tasks) so a console
that reconnects is whole again; a `resync` asks the client to do the same after it fell behind.

Authenticated by the session cookie (then the Origin must be our own host, against cross-site
WebSocket hijacking) or by `Authorization: Bearer`."""

from __future__ import annotations

import asyncio
import contextlib
import json

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from xueliang.accounts.deps import Caller, caller_from_websocket
from xueliang.alarms import mobilization, service
from xueliang.alarms.policy import may_handle_alarm
from xueliang.alarms.push import audience_for
from xueliang.alarms.render import alarm_out, status_out
from xueliang.core.context import AppContext
from xueliang.notify.hub import Hub, Subscription

router = APIRouter()
POLICY_VIOLATION = 1008
SNAPSHOT_LIMIT = 200


async def _hello(ctx: AppContext, caller: Caller) -> str:
    p = caller.principal
    async with ctx.db.read_session() as session:
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
    caller = await caller_from_websocket(ws)
    if caller is None:
        await ws.close(code=POLICY_VIOLATION, reason="log in first")
        return
    await ws.accept()
    hub = ctx.services.require(Hub)
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
