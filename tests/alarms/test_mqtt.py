"""Hardware buttons on the real Mosquitto (127.0.0.1:1883): ack after commit, retries not duplicated,
malformed presses answered and logged, unknown devices refused, status pushed back to the button.
Each run uses its own topic prefix and client ids, so parallel runs do not meet."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from tests.support.alarms import Login, ctx_of, logins_to, new_uuid
from tests.support.app import make_settings

from xueliang.accounts.models import User
from xueliang.alarms.config import AlarmSettings
from xueliang.alarms.models import Alarm, AlarmPress
from xueliang.alarms.mqtt import AlarmMqtt
from xueliang.app import create_app
from xueliang.regions.models import Household

RUN = uuid.uuid4().hex[:10]
PREFIX = f"xltest/{RUN}"


def _broker_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 1883), timeout=1):
            return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _broker_up(), reason="no MQTT broker on 127.0.0.1:1883")


@pytest.fixture
async def mqtt_app(alarm_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    alarms = AlarmSettings(
        mqtt_prefix=PREFIX, mqtt_client_id=f"xltest-server-{RUN}", mqtt_session_expiry_s=5, pg_bridge=False
    )
    app = create_app(make_settings(alarm_url, tmp_path, alarms=alarms), migrate_on_start=False)
    async with app.router.lifespan_context(app):
        listener = ctx_of(app).services.require(AlarmMqtt)
        await asyncio.wait_for(listener.connected.wait(), 10)
        yield app


class Button:
    """A device on the broker: presses on its raise topic, reads its ack and status topics."""

    def __init__(self, client: aiomqtt.Client, device_id: str) -> None:
        self.client = client
        self.device_id = device_id
        self.replies: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()

    async def press(self, payload: dict[str, Any] | bytes) -> None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        await self.client.publish(f"{PREFIX}/alarm/{self.device_id}/raise", body, qos=1)

    async def reply(self, kind: str = "ack", wait_s: float = 10.0) -> dict[str, Any]:
        while True:
            topic, body = await asyncio.wait_for(self.replies.get(), wait_s)
            if topic.endswith("/" + kind):
                return body


@pytest.fixture
async def button() -> AsyncIterator[Button]:
    device_id = f"btn-{uuid.uuid4().hex[:8]}"
    async with aiomqtt.Client("127.0.0.1", 1883, identifier=f"xltest-dev-{device_id}") as client:
        dev = Button(client, device_id)
        await client.subscribe(f"{PREFIX}/alarm/{device_id}/ack", qos=1)
        await client.subscribe(f"{PREFIX}/alarm/{device_id}/status", qos=1)

        async def pump() -> None:
            async for message in client.messages:
                assert isinstance(message.payload, bytes)
                dev.replies.put_nowait((str(message.topic), json.loads(message.payload)))

        task = asyncio.create_task(pump())
        yield dev
        task.cancel()


async def _household_code(app: FastAPI, username: str) -> tuple[int, str]:
    async with ctx_of(app).db.session() as s:
        hh = (
            await s.execute(
                select(Household)
                .join(User, User.household_id == Household.id)
                .where(User.username == username)
            )
        ).scalar_one()
        return hh.id, hh.code


async def test_press_ack_after_commit_and_retry(mqtt_app: FastAPI, button: Button) -> None:
    hh_id, code = await _household_code(mqtt_app, "res-v05")
    key = new_uuid()
    await button.press({"uuid": key, "household_code": code, "kind": "emergency", "ts": 1767225600, "seq": 1})
    ack = await button.reply()
    assert (
        ack["ok"]
        and ack["uuid"] == key
        and ack["created"]
        and ack["status"] == "received"
        and ack["seq"] == 1
    )
    async with ctx_of(mqtt_app).db.session() as s:
        alarm = await s.get(Alarm, ack["alarm_id"])
        assert alarm is not None and alarm.household_id == hh_id and alarm.source == "mqtt"
    for _ in range(2):  # the button did not see the ack and resends the same press
        await button.press({"uuid": key, "household_code": code, "seq": 1})
        again = await button.reply()
        assert again["ok"] and again["duplicate"] and again["alarm_id"] == ack["alarm_id"]
    async with ctx_of(mqtt_app).db.session() as s:
        assert await s.scalar(select(func.count()).where(AlarmPress.uuid == key)) == 1
        assert await s.scalar(select(func.count()).select_from(Alarm).where(Alarm.household_id == hh_id)) == 1


async def test_malformed_and_unknown(
    mqtt_app: FastAPI, button: Button, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="xueliang.alarms.mqtt")
    await button.press(b"\xff not json")
    bad = await button.reply()
    assert bad == {"ok": False, "uuid": None, "error": "malformed", "message": "payload is not UTF-8 JSON"}
    await button.press({"uuid": "nope"})
    assert (await button.reply())["error"] == "malformed"
    await button.press({"uuid": new_uuid(), "kind": "camera_offline"})
    assert (await button.reply())["error"] == "malformed"
    key = new_uuid()
    await button.press({"uuid": key})
    unknown = await button.reply()
    assert unknown["error"] == "unknown_device" and unknown["uuid"] == key
    assert any("malformed press from device " + button.device_id in r.getMessage() for r in caplog.records)
    assert any("unknown device" in r.getMessage() for r in caplog.records)


async def test_registered_device_and_status(mqtt_app: FastAPI, button: Button) -> None:
    async with logins_to(mqtt_app) as login:
        await _registered_device_and_status(mqtt_app, button, login)


async def _registered_device_and_status(mqtt_app: FastAPI, button: Button, alogin: Login) -> None:
    admin = await alogin("admin")
    hh_id, _code = await _household_code(mqtt_app, "res-v09")
    r = await admin.post(
        "/api/v1/alarms/devices", json={"device_id": button.device_id, "household_id": hh_id}
    )
    assert r.status_code == 201, r.text
    await button.press({"uuid": new_uuid()})
    ack = await button.reply()
    assert ack["ok"] and ack["created"]
    devices = {d["device_id"]: d for d in (await admin.get("/api/v1/alarms/devices")).json()}
    assert devices[button.device_id]["last_seen_at"] is not None, "the press is the button's sign of life"
    op = await alogin("op-shimen")
    assert (await op.post(f"/api/v1/alarms/{ack['alarm_id']}/acknowledge")).status_code == 200
    status = await button.reply("status")
    while status["event"] != "acknowledged":
        status = await button.reply("status")
    assert status["alarm"]["status"] == "in_progress" and status["device_id"] == button.device_id
