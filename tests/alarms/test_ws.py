"""The console WebSocket on a real uvicorn server: pushes in scope at once, the sender's status view,
and who may connect."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select, update
from tests.support.alarms import new_uuid
from tests.support.app import LiveServer, make_settings
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from xueliang.accounts.models import AuthSession, User
from xueliang.alarms.ws import RECHECK_S, AlarmSockets
from xueliang.app import create_app
from xueliang.core.db import Database
from xueliang.regions.models import Region

API = "/api/v1/alarms"
QINGXI, SHIMEN = "513223101", "513223102"
PASSWORD = "ws-test-Passw0rd!"  # users the tests make


@pytest.fixture(scope="module")
def server(alarm_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = make_settings(alarm_url, tmp_path_factory.mktemp("ws"))
    live = LiveServer(create_app(settings, migrate_on_start=False))
    live.start()
    yield live
    live.stop()


async def token(server: LiveServer, username: str) -> str:
    async with httpx.AsyncClient(base_url=server.url) as c:
        r = await c.post("/api/v1/auth/token", json={"username": username, "password": "xueliang-demo"})
        value: str = r.json()["access_token"]
        return value


def ws_url(server: LiveServer) -> str:
    return server.url.replace("http://", "ws://") + f"{API}/ws"


async def receive(ws: ClientConnection, wait_s: float = 5.0) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), wait_s))
    return data


async def next_alarm(ws: ClientConnection, alarm_id: int, wait_s: float = 5.0) -> dict[str, Any]:
    while True:
        msg = await receive(ws, wait_s)
        if msg.get("type") == "alarm" and msg["alarm"]["id"] == alarm_id:
            return msg


async def test_pushes_reach_the_right_consoles(server: LiveServer) -> None:
    tokens = {u: await token(server, u) for u in ("op-qingxi", "op-shimen", "res-v02", "res-v07")}
    bearer = {u: {"Authorization": f"Bearer {t}"} for u, t in tokens.items()}
    async with (
        connect(ws_url(server), additional_headers=bearer["op-qingxi"]) as qingxi,
        connect(ws_url(server), additional_headers=bearer["op-shimen"]) as shimen,
        connect(ws_url(server), additional_headers=bearer["res-v02"]) as tv,
        httpx.AsyncClient(base_url=server.url) as http,
    ):
        for ws, role in ((qingxi, "operator"), (shimen, "operator"), (tv, "resident")):
            hello = await receive(ws)
            assert hello["type"] == "hello" and hello["user"]["role"] == role
        r = await http.post(API, json={"uuid": new_uuid(), "source": "tv"}, headers=bearer["res-v02"])
        assert r.status_code == 201
        alarm_id = r.json()["alarm"]["id"]
        console = await next_alarm(qingxi, alarm_id)  # how fast: bench/alarms.py, never a timed assert
        assert (
            console["event"] == "raised"
            and console["alarm"]["household_code"]
            and console["alarm"]["cameras"]
        )
        own = await next_alarm(tv, alarm_id)
        assert own["alarm"]["status"] == "received" and "household_code" not in own["alarm"]

        other = await http.post(API, json={"uuid": new_uuid()}, headers=bearer["res-v07"])
        first_at_shimen = await receive(shimen)
        assert first_at_shimen["alarm"]["id"] == other.json()["alarm"]["id"], (
            "Qingxi's alarm leaked to Shimen"
        )

        ack = await http.post(f"{API}/{alarm_id}/acknowledge", headers=bearer["op-qingxi"])
        assert ack.status_code == 200
        update = await next_alarm(tv, alarm_id)
        assert update["event"] == "acknowledged" and update["alarm"]["status"] == "in_progress"
        await qingxi.send('{"type":"ping"}')
        while (await receive(qingxi))["type"] != "pong":
            pass


async def test_who_may_connect(server: LiveServer) -> None:
    with pytest.raises(InvalidStatus):
        async with connect(ws_url(server)):
            pass
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.post("/api/v1/auth/login", json={"username": "op-qingxi", "password": "xueliang-demo"})
        cookie = f"xl_session={r.cookies['xl_session']}"
    host = server.url.removeprefix("http://")
    with pytest.raises(InvalidStatus):  # cross-site WebSocket hijacking is refused
        async with connect(
            ws_url(server), additional_headers={"Cookie": cookie}, origin=Origin("http://evil.example")
        ):
            pass
    async with connect(
        ws_url(server), additional_headers={"Cookie": cookie}, origin=Origin(f"http://{host}")
    ) as ws:
        assert (await receive(ws))["type"] == "hello"


# Issue 14: the socket lives only as long as its session, and carries only what its user may see now.


async def _closed_with(ws: ClientConnection, wait_s: float) -> int | None:
    """Reads until the server closes the socket (the close code) or `wait_s` passes (None)."""
    try:
        async with asyncio.timeout(wait_s):
            while True:
                await ws.recv()
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None
    except TimeoutError:
        return None


async def _new_user(http: httpx.AsyncClient, admin: dict[str, str], region_code: str = QINGXI) -> str:
    name = f"op-ws-{uuid.uuid4().hex[:8]}"
    body = {"username": name, "password": PASSWORD, "role": "operator", "region_code": region_code}
    r = await http.post("/api/v1/users", json=body, headers=admin)
    assert r.status_code == 201, r.text
    return name


async def _token_of(http: httpx.AsyncClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    r = await http.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def test_logout_closes_that_session_s_socket_at_once(server: LiveServer) -> None:
    """Within seconds, far below the periodic re-check (25 s): the logout's event woke it."""
    async with httpx.AsyncClient(base_url=server.url) as http:
        ending, staying = (
            await _token_of(http, "duty-v02", "xueliang-demo"),
            await _token_of(http, "duty-v02", "xueliang-demo"),
        )
        async with (
            connect(ws_url(server), additional_headers=ending) as ws,
            connect(ws_url(server), additional_headers=staying) as other,
        ):
            assert (await receive(ws))["type"] == (await receive(other))["type"] == "hello"
            assert (await http.post("/api/v1/auth/logout", headers=ending)).status_code == 204
            assert await _closed_with(ws, 5.0) == 1008
            await other.send('{"type":"ping"}')  # the user's other session goes on
            while (await receive(other))["type"] != "pong":
                pass


@pytest.mark.parametrize(
    "change",
    [
        {"disabled": True},
        {"password": PASSWORD + "2"},
        {"region_code": SHIMEN},
        {"role": "admin", "region_code": "513223"},
    ],
)
async def test_a_user_change_closes_their_sockets_at_once(
    server: LiveServer, change: dict[str, object]
) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        admin = await _token_of(http, "admin", "xueliang-demo")
        name = await _new_user(http, admin)
        async with connect(ws_url(server), additional_headers=await _token_of(http, name)) as ws:
            assert (await receive(ws))["type"] == "hello"
            me = (await http.get("/api/v1/users", headers=admin)).json()
            user_id = next(u["id"] for u in me if u["username"] == name)
            r = await http.patch(f"/api/v1/users/{user_id}", json=change, headers=admin)
            assert r.status_code == 200, r.text
            assert await _closed_with(ws, 5.0) == 1008


@pytest.fixture
def quick_recheck(server: LiveServer) -> Iterator[None]:
    sockets = server.server.config.app.state.ctx.services.require(AlarmSockets)
    sockets.recheck_s = 0.2
    yield
    sockets.recheck_s = RECHECK_S


async def _user_row(url: str, username: str) -> tuple[Database, int]:
    db = Database(url)
    async with db.session() as s:
        user_id = await s.scalar(select(User.id).where(User.username == username))
    assert user_id is not None
    return db, user_id


async def test_a_change_by_another_process_is_seen_by_the_recheck(
    server: LiveServer, alarm_url: str, quick_recheck: None
) -> None:
    """No event reaches this process (the CLI, another server): the periodic re-check finds it."""
    async with httpx.AsyncClient(base_url=server.url) as http:
        admin = await _token_of(http, "admin", "xueliang-demo")
        gone, moved = await _new_user(http, admin), await _new_user(http, admin)
        async with (
            connect(ws_url(server), additional_headers=await _token_of(http, gone)) as ws,
            connect(ws_url(server), additional_headers=await _token_of(http, moved)) as mover,
        ):
            assert (await receive(ws))["type"] == (await receive(mover))["type"] == "hello"
            db, gone_id = await _user_row(alarm_url, gone)
            _, moved_id = await _user_row(alarm_url, moved)
            try:
                async with db.session() as s:
                    await s.execute(delete(AuthSession).where(AuthSession.user_id == gone_id))
                    shimen = await s.scalar(select(Region.id).where(Region.code == SHIMEN))
                    await s.execute(update(User).where(User.id == moved_id).values(region_id=shimen))
                    await s.commit()
            finally:
                await db.dispose()
            assert await _closed_with(ws, 15.0) == 1008  # session cache (5 s) + the re-check
            while (await receive(mover, 15.0))["type"] != "resync":
                pass
            res = await _token_of(http, "res-v07", "xueliang-demo")  # a Shimen household
            r = await http.post(API, json={"uuid": new_uuid(), "source": "tv"}, headers=res)
            assert r.status_code in (200, 201), r.text
            pushed = await next_alarm(mover, r.json()["alarm"]["id"])
            assert pushed["alarm"]["household_code"], "now a Shimen operator: the staff view"
