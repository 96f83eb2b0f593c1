"""The grid socket on a real server: staff hear the changes of their own area at once, nothing of
another village's, and who may not connect is refused."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from tests.grid.conftest import local
from tests.support.app import LiveServer, make_settings
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from xueliang.app import create_app

API = "/api/v1/grid"


@pytest.fixture(scope="module")
def server(grid_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    live = LiveServer(
        create_app(
            make_settings(grid_url, tmp_path_factory.mktemp("gws"), timer_loop=False), migrate_on_start=False
        )
    )
    live.start()
    yield live
    live.stop()


async def token(server: LiveServer, username: str) -> str:
    async with httpx.AsyncClient(base_url=server.url) as c:
        r = await c.post("/api/v1/auth/token", json={"username": username, "password": "xueliang-demo"})
        value: str = r.json()["access_token"]
        return value


async def receive(ws: ClientConnection) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 5.0))
    return data


async def report(server: LiveServer, username: str) -> int:
    headers = {"Authorization": f"Bearer {await token(server, username)}"}
    async with httpx.AsyncClient(base_url=server.url, headers=headers) as c:
        body = {"uuid": str(uuid.uuid4()), "category": "dispute", "at": local().isoformat()}
        r = await c.post(f"{API}/incidents", json=body)
        assert r.status_code == 201, r.text
        incident: int = r.json()["id"]
        return incident


async def test_pushes_in_scope(server: LiveServer) -> None:
    url = server.url.replace("http://", "ws://") + f"{API}/ws"
    v1 = {"Authorization": f"Bearer {await token(server, 'duty-v01')}"}
    v2 = {"Authorization": f"Bearer {await token(server, 'duty-v02')}"}
    async with connect(url, additional_headers=v1) as ws1, connect(url, additional_headers=v2) as ws2:
        assert (await receive(ws1))["type"] == "hello" and (await receive(ws2))["type"] == "hello"
        first = await report(server, "gw-01")  # village 1
        second = await report(server, "gw-02")  # village 2
        got1, got2 = await receive(ws1), await receive(ws2)
        assert (got1["event"], got1["incident_id"]) == ("incident_reported", first)
        assert got2["incident_id"] == second  # village 1's report never reached village 2's officer
    for outsider in ("res-v01", "auditor"):
        with pytest.raises(InvalidStatus):
            async with connect(
                url, additional_headers={"Authorization": f"Bearer {await token(server, outsider)}"}
            ):
                pass
