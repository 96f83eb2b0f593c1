"""WebSocket /api/v1/alarms/ws: consoles, TVs and phones get alarm and task changes in their scope
the moment they are committed. On connect a `hello` carries the open alarms (and tasks) so a console
that reconnects is whole again; a `resync` asks the client to do the same after it fell behind.

Authenticated by the session cookie (then the Origin must be our own host, against cross-site
WebSocket hijacking) or by `Authorization: Bearer`. The session is re-checked while the socket is
open (issue 14: staff views went on for up to 12 h after a logout): at once when this process logs it
out or changes the user (accounts' `UserAccessChanged`, which `AlarmSockets` hears), and every
`recheck_s` (25 s; with the 5 s session cache, within 30 s as for live video) for changes made by
another process. A session gone closes the socket with 1008; a changed role or region re-derives
what it receives and asks the client to `resync`."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import datetime

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from xueliang.accounts.deps import Caller, caller_from_websocket, resolve_token
from xueliang.accounts.events import UserAccessChanged
from xueliang.accounts.policy import Principal
from xueliang.alarms import mobilization, service
from xueliang.alarms.policy import may_handle_alarm
from xueliang.alarms.push import audience_for
from xueliang.alarms.render import alarm_out, status_out
from xueliang.core.aio import first_done
from xueliang.core.context import AppContext
from xueliang.notify.hub import Event, Hub, Subscription

router = APIRouter()
POLICY_VIOLATION = 1008
SNAPSHOT_LIMIT = 200
RECHECK_S = 25.0  # + the session cache's 5 s: a revoked session is seen within 30 s


class AlarmSockets:
    """The open alarm sockets of this process by user: a change of a user's sessions or rights made
    here wakes theirs at once (registered by alarms/runtime.py, on accounts' `UserAccessChanged`)."""

    def __init__(self, recheck_s: float = RECHECK_S) -> None:
        self.recheck_s = recheck_s
        self._by_user: defaultdict[int, set[asyncio.Event]] = defaultdict(set)

    @contextlib.contextmanager
    def watch(self, user_id: int) -> Iterator[asyncio.Event]:
        wake = asyncio.Event()
        self._by_user[user_id].add(wake)
        try:
            yield wake
        finally:
            self._by_user[user_id].discard(wake)
            if not self._by_user[user_id]:
                del self._by_user[user_id]

    async def user_changed(self, event: UserAccessChanged) -> None:
        for wake in self._by_user.get(event.user_id, ()):
            wake.set()  # each socket re-checks its own session: a logout ends only the one it names


class _Scope:
    """What one socket receives, re-derived when the user's role or region changes."""

    def __init__(self, principal: Principal) -> None:
        self.principal = principal
        self._choose = audience_for(principal)

    def change(self, principal: Principal) -> None:
        self.principal, self._choose = principal, audience_for(principal)

    def __call__(self, event: Event) -> str | None:
        return self._choose(event)


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


async def _guard(
    ctx: AppContext, ws: WebSocket, caller: Caller, scope: _Scope, wake: asyncio.Event, every: float
) -> str:
    """Returns why the session ended; re-derives `scope` when the user's rights changed."""
    expires_at: datetime = caller.auth.expires_at
    while True:
        left = (expires_at - ctx.clock.now()).total_seconds()
        if left <= 0:
            return "session expired"
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(min(every, left)):  # not wait_for: 3.11's can eat a cancel
                await wake.wait()
        wake.clear()  # before the look: a change during it wakes the next round
        resolved = await resolve_token(ctx, caller.token)
        if resolved is None:
            return "session ended"
        expires_at = resolved.auth.expires_at
        if resolved.principal != scope.principal:
            scope.change(resolved.principal)
            await ws.send_text('{"type":"resync"}')


@router.websocket("/ws")
async def alarm_socket(ws: WebSocket) -> None:
    ctx: AppContext = ws.app.state.ctx
    caller = await caller_from_websocket(ws)
    if caller is None:
        await ws.close(code=POLICY_VIOLATION, reason="log in first")
        return
    await ws.accept()
    hub = ctx.services.require(Hub)
    sockets = ctx.services.require(AlarmSockets)
    scope = _Scope(caller.principal)
    sub = hub.subscribe(scope)  # before the snapshot: nothing falls between
    try:
        with sockets.watch(caller.user.id) as wake:
            await ws.send_text(await _hello(ctx, caller))
            guard = asyncio.ensure_future(_guard(ctx, ws, caller, scope, wake, sockets.recheck_s))
            done = await first_done(_pump(ws, sub), _listen(ws), guard)
            for task in done:
                with contextlib.suppress(Exception):  # the peer went away; nothing to tell it
                    task.result()
            if guard in done and not guard.cancelled() and guard.exception() is None:
                with contextlib.suppress(RuntimeError):
                    await ws.close(code=POLICY_VIOLATION, reason=guard.result())
    except WebSocketDisconnect:
        pass
    finally:
        hub.unsubscribe(sub)
