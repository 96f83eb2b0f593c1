"""Hardware alarm buttons over MQTT (QoS 1). Topics and payloads: docs/alarms-mqtt.md.

The broker is a transport, never the system of record: the button keeps resending its press (same
UUID) until it sees our ack on its reply topic, and we publish that ack only after the alarm is
committed. So a broker or server crash between PUBACK and commit loses nothing: the button retries.
The server holds a persistent MQTT v5 session so presses sent while it is down wait at the broker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import socket
import uuid as uuid_mod
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiomqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from xueliang.alarms.flows import DevicePress, UnknownDevice, raise_from_device
from xueliang.alarms.models import TECHNICAL_KINDS, AlarmKind
from xueliang.alarms.render import status_word
from xueliang.core.context import AppContext
from xueliang.notify.hub import Event, Hub, Subscription

log = logging.getLogger(__name__)
DEVICE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
DEVICE_KINDS = frozenset(AlarmKind) - TECHNICAL_KINDS


@dataclass(frozen=True)
class MqttConfig:
    host: str = "127.0.0.1"
    port: int = 1883
    prefix: str = "xueliang/v1"
    client_id: str = "xueliang-alarms"
    username: str | None = None
    password: str | None = None
    session_expiry_s: int = 86_400  # how long the broker keeps presses for us while we are down
    concurrency: int = 256  # presses in flight; they meet in the intake batch
    reconnect_s: float = 2.0

    def raise_filter(self) -> str:
        return f"{self.prefix}/alarm/+/raise"

    def ack_topic(self, device_id: str) -> str:
        return f"{self.prefix}/alarm/{device_id}/ack"

    def status_topic(self, device_id: str) -> str:
        return f"{self.prefix}/alarm/{device_id}/status"


class BadPayload(ValueError):
    """The press cannot be read; the device is told why on its reply topic."""


def _timestamp(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise BadPayload("ts must be ISO 8601 or seconds since the epoch")
    if isinstance(value, int | float):
        return datetime.fromtimestamp(float(value), UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError as exc:
            raise BadPayload("ts must be ISO 8601 or seconds since the epoch") from exc
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise BadPayload("ts must be ISO 8601 or seconds since the epoch")


def parse_press(device_id: str, payload: bytes) -> DevicePress:
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadPayload("payload is not UTF-8 JSON") from exc
    if not isinstance(data, dict):
        raise BadPayload("payload must be a JSON object")
    try:
        press_uuid = str(uuid_mod.UUID(str(data.get("uuid"))))
    except ValueError as exc:
        raise BadPayload("uuid is missing or not a UUID") from exc
    kind_text = data.get("kind", AlarmKind.emergency.value)
    if kind_text not in {k.value for k in DEVICE_KINDS}:
        raise BadPayload(f"kind must be one of {sorted(k.value for k in DEVICE_KINDS)}")
    code = data.get("household_code")
    if code is not None and (not isinstance(code, str) or not 0 < len(code) <= 32):
        raise BadPayload("household_code must be a string of 1-32 characters")
    seq = data.get("seq")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int)):
        raise BadPayload("seq must be an integer")
    return DevicePress(device_id, press_uuid, AlarmKind(kind_text), code, _timestamp(data.get("ts")), seq)


def _reply(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _uuid_of(payload: bytes) -> str | None:
    with contextlib.suppress(Exception):
        value = json.loads(payload).get("uuid")
        return value if isinstance(value, str) and len(value) <= 64 else None
    return None


class AlarmMqtt:
    """Subscribes to presses, answers each on the device's ack topic, and forwards state changes of
    a device's alarm to its status topic (so a button's LED can show "an operator is on it")."""

    def __init__(self, ctx: AppContext, config: MqttConfig) -> None:
        self.ctx = ctx
        self.config = config
        self._task: asyncio.Task[None] | None = None
        self._client: aiomqtt.Client | None = None
        self._slots = asyncio.Semaphore(config.concurrency)
        self._inflight: set[asyncio.Task[None]] = set()
        self._status: Subscription | None = None
        self.connected = asyncio.Event()

    def _make_client(self) -> aiomqtt.Client:
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.config.session_expiry_s
        return aiomqtt.Client(
            self.config.host,
            self.config.port,
            identifier=self.config.client_id,
            username=self.config.username,
            password=self.config.password,
            protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=False,
            properties=props,
            logger=log,
            # An ack is a small packet right after our PUBACK of the press: with Nagle on, it waits
            # for the broker's delayed ACK (~40 ms here) before it leaves.
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
        )

    async def run(self) -> None:
        while True:
            try:
                async with self._make_client() as client:
                    self._client = client
                    await client.subscribe(self.config.raise_filter(), qos=1)
                    self.connected.set()
                    log.info("alarm MQTT listening on %s", self.config.raise_filter())
                    async for message in client.messages:
                        await self._slots.acquire()
                        task = asyncio.create_task(self._handle(client, message))
                        self._inflight.add(task)
                        task.add_done_callback(self._done)
            except aiomqtt.MqttError as exc:
                log.warning(
                    "alarm MQTT connection lost (%s); reconnecting in %.0f s", exc, self.config.reconnect_s
                )
            finally:
                self.connected.clear()
                self._client = None
            await asyncio.sleep(self.config.reconnect_s)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._inflight.discard(task)
        self._slots.release()

    async def _handle(self, client: aiomqtt.Client, message: aiomqtt.Message) -> None:
        parts = str(message.topic).split("/")
        device_id = parts[-2] if len(parts) >= 2 else ""
        if not DEVICE_ID.match(device_id):
            log.warning("alarm MQTT: ignored a press on topic %s (bad device id)", message.topic)
            return
        payload = message.payload if isinstance(message.payload, bytes) else str(message.payload).encode()
        reply: dict[str, Any]
        try:
            press = parse_press(device_id, payload)
            result = await raise_from_device(self.ctx, press)
            alarm = result.alarm
            reply = {
                "ok": True,
                "uuid": press.uuid,
                "seq": press.seq,
                "alarm_id": alarm.id,
                "state": alarm.state.value,
                "status": status_word(alarm.state),
                "created": result.created,
                "duplicate": result.duplicate,
            }
        except BadPayload as exc:
            log.warning("alarm MQTT: malformed press from device %s: %s", device_id, exc)
            reply = {"ok": False, "uuid": _uuid_of(payload), "error": "malformed", "message": str(exc)}
        except UnknownDevice:
            log.warning("alarm MQTT: press from unknown device %s without a known household_code", device_id)
            reply = {
                "ok": False,
                "uuid": _uuid_of(payload),
                "error": "unknown_device",
                "message": "register the device or send a known household_code",
            }
        except Exception:
            log.exception("alarm MQTT: could not record a press from %s; the device will retry", device_id)
            reply = {
                "ok": False,
                "uuid": _uuid_of(payload),
                "error": "unavailable",
                "retry": True,
                "message": "not recorded; resend with the same uuid",
            }
        try:
            await client.publish(self.config.ack_topic(device_id), _reply(reply), qos=1)
        except aiomqtt.MqttError:
            log.warning("alarm MQTT: could not send the reply to %s; it will retry its press", device_id)

    async def _forward_status(self, sub: Subscription) -> None:
        while True:
            text = await sub.next()
            client = self._client
            if client is None:
                continue
            with contextlib.suppress(ValueError, KeyError, TypeError):
                data = json.loads(text)
                with contextlib.suppress(aiomqtt.MqttError):
                    await client.publish(self.config.status_topic(data["device_id"]), text.encode(), qos=1)

    def start(self) -> None:
        def audience(event: Event) -> str | None:
            return "device" if event.topic == "alarm" and "device" in event.texts else None

        self._status = self.ctx.services.require(Hub).subscribe(audience)
        self._task = asyncio.create_task(self._run_all(), name="xueliang-alarm-mqtt")

    async def _run_all(self) -> None:
        assert self._status is not None
        await asyncio.gather(self.run(), self._forward_status(self._status))

    async def stop(self) -> None:
        if self._status is not None:
            self.ctx.services.require(Hub).unsubscribe(self._status)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for task in list(self._inflight):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, timeout=5)
