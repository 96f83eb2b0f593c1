"""WebSocket /api/v1/grid/ws: the board and the phone hear grid changes the moment they are
committed (check-ins, visits, incidents and their steps, tour marks, notices of missed checkpoints,
visits and OK follow-ups). Messages carry ids and states; the client refetches the board (or the
incident) through the ordinary, audited routes. `hello` on connect, `resync` when the client fell
behind or the user's rights changed.

Authenticated like the alarm socket (session cookie from our own origin, or a bearer token); the
session is re-checked every 25 s (with the 5 s session cache: within 30 s), and a session gone closes
the socket with 1008."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import datetime

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from xueliang.accounts.deps import Caller, caller_from_websocket, resolve_token
from xueliang.accounts.policy import Permission, allows
from xueliang.core.aio import first_done
from xueliang.core.context import AppContext
from xueliang.grid.push import audience_for
from xueliang.notify.hub import Event, Hub, Subscription

router = APIRouter()
POLICY_VIOLATION = 1008
RECHECK_S = 25.0


class _Scope:
    def __init__(self, caller: Caller) -> None:
        self.principal = caller.principal
        self.choose = audience_for(caller.principal)

    def __call__(self, event: Event) -> str | None:
        return self.choose(event)


async def _pump(ws: WebSocket, sub: Subscription) -> None:
    while True:
        await ws.send_text(await sub.next())


async def _listen(ws: WebSocket) -> None:
    while True:
        text = await ws.receive_text()
        with contextlib.suppress(ValueError, AttributeError):
            if json.loads(text).get("type") == "ping":
                await ws.send_text('{"type":"pong"}')


async def _guard(ctx: AppContext, ws: WebSocket, caller: Caller, scope: _Scope, every: float) -> str:
    expires_at: datetime = caller.auth.expires_at
    while True:
        left = (expires_at - ctx.clock.now()).total_seconds()
        if left <= 0:
            return "session expired"
        await asyncio.sleep(min(every, left))
        resolved = await resolve_token(ctx, caller.token)
        if resolved is None:
            return "session ended"
        expires_at = resolved.auth.expires_at
        if resolved.principal != scope.principal:
            scope.principal, scope.choose = resolved.principal, audience_for(resolved.principal)
            await ws.send_text('{"type":"resync"}')


@router.websocket("/ws")
async def grid_socket(ws: WebSocket) -> None:
    ctx: AppContext = ws.app.state.ctx
    caller = await caller_from_websocket(ws)
    if caller is None or not (
        allows(caller.principal, Permission.manage_grid) or allows(caller.principal, Permission.patrol)
    ):
        await ws.close(code=POLICY_VIOLATION, reason="log in first")
        return
    await ws.accept()
    hub = ctx.services.require(Hub)
    scope = _Scope(caller)
    sub = hub.subscribe(scope)
    try:
        await ws.send_text(
            json.dumps({"type": "hello", "user": {"id": caller.user.id, "role": caller.user.role.value}})
        )
        guard = asyncio.ensure_future(_guard(ctx, ws, caller, scope, RECHECK_S))
        done = await first_done(_pump(ws, sub), _listen(ws), guard)
        for task in done:
            with contextlib.suppress(Exception):
                task.result()
        if guard in done and not guard.cancelled() and guard.exception() is None:
            with contextlib.suppress(RuntimeError):
                await ws.close(code=POLICY_VIOLATION, reason=guard.result())
    except WebSocketDisconnect:
        pass
    finally:
        hub.unsubscribe(sub)
