"""The console WebSocket on a real uvicorn server: pushes in scope at once, the sender's status view,
and who may connect."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.support.alarms import new_uuid
from tests.support.app import LiveServer, make_settings
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Origin

from xueliang.app import create_app

API = "/api/v1/alarms"


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
        loop = asyncio.get_running_loop()
        pressed = loop.time()
        r = await http.post(API, json={"uuid": new_uuid(), "source": "tv"}, headers=bearer["res-v02"])
        assert r.status_code == 201
        alarm_id = r.json()["alarm"]["id"]
        console = await next_alarm(qingxi, alarm_id)
        assert loop.time() - pressed < 1.0
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
