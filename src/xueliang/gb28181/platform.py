"""The node as a GB/T 28181 platform for devices: registrar (Digest MD5), keepalive and the offline
watchdog, catalog query with paged responses, DeviceInfo/DeviceStatus, catalog NOTIFY, device alarms.

Camera health: a device coming online or going offline is told to the rest of the node as
`CameraStatusChanged` for each of its cameras, after the commit, exactly as the media plane tells it
for RTSP cameras; the alarms runtime turns an online -> offline change into a technical alarm."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import logging
import secrets
import uuid as uuid_mod
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.alarms import service as alarms
from xueliang.alarms.intake import IntakeBatcher, ready
from xueliang.alarms.models import AlarmKind
from xueliang.alarms.push import publish_alarm
from xueliang.alarms.service import Press
from xueliang.cameras.events import CameraChanged, CameraStatusChanged
from xueliang.cameras.models import Camera
from xueliang.core.context import AppContext
from xueliang.core.ids import GB_ID
from xueliang.gb28181 import manscdp, service
from xueliang.gb28181.config import Gb28181Settings
from xueliang.gb28181.live import GbLiveSource, LiveInvites
from xueliang.gb28181.manscdp import CatalogItem, Doc, ManscdpError
from xueliang.gb28181.models import GbChannel, GbDevice
from xueliang.gb28181.ptz import PtzControl
from xueliang.gb28181.sip import digest
from xueliang.gb28181.sip.message import SipMessage, header_param, response_to, uri_of, uri_user
from xueliang.gb28181.sip.transport import SipEndpoint, Source, new_tag

log = logging.getLogger(__name__)
ALARM_NAMESPACE = uuid_mod.UUID("5f0c8a52-6a43-4d38-9c55-2a2f5d1c1928")
USER_AGENT = "Xueliang"


@dataclass
class _Catalog:
    """One paged catalog answer being gathered: by (device, SN) until SumNum distinct items."""

    started: float
    total: int = -1
    items: dict[str, CatalogItem] = field(default_factory=dict)


class _Failures:
    """Wrong passwords per (device ID, source address): after `LIMIT` within `WINDOW` seconds that
    address may not try that ID until the window has passed (a guesser elsewhere does not lock the
    real device out). In memory, bounded."""

    LIMIT, WINDOW, MAX_KEYS = 5, 60.0, 10_000

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], list[datetime]] = {}

    def _recent(self, key: tuple[str, str], now: datetime) -> list[datetime]:
        times = [t for t in self._seen.get(key, []) if (now - t).total_seconds() < self.WINDOW]
        if times:
            self._seen[key] = times
        else:
            self._seen.pop(key, None)
        return times

    def blocked(self, key: tuple[str, str], now: datetime) -> bool:
        return len(self._recent(key, now)) >= self.LIMIT

    def add(self, key: tuple[str, str], now: datetime) -> None:
        if len(self._seen) >= self.MAX_KEYS:
            self._seen.clear()
        self._seen.setdefault(key, []).append(now)


class GbPlatform:
    """Started and stopped by the gb28181 runtime; one per node."""

    def __init__(self, ctx: AppContext, settings: Gb28181Settings) -> None:
        self.ctx, self.settings = ctx, settings
        self.endpoint = SipEndpoint(
            self.handle, settings.host, settings.port, settings.transports, settings.advertise_host
        )
        self.endpoint.on_tcp_closed = self._tcp_closed
        self.live = LiveInvites(self)
        self.ptz = PtzControl()
        self.endpoint.on_stray_response = self.live.stray_response
        self._sn = itertools.count(1)
        self._cseq = itertools.count(1)
        self._catalogs: dict[tuple[str, int], _Catalog] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._watchdog: asyncio.Task[None] | None = None
        self._key = hashlib.sha256(f"gb28181-nonce:{ctx.secret}".encode()).digest()
        self._tz = ZoneInfo(ctx.settings.timezone)
        self._failures = _Failures()

    @property
    def port(self) -> int:
        return self.endpoint.port

    async def start(self) -> None:
        await self.endpoint.start()
        self._watchdog = asyncio.create_task(self._watch(), name="gb28181-watchdog")
        log.info(
            "GB/T 28181 SIP on %s:%s (%s)", self.settings.host, self.port, "/".join(self.settings.transports)
        )

    async def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.endpoint.stop()

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- dispatch ------------------------------------------------------------------------------------
    async def handle(self, msg: SipMessage, src: Source) -> SipMessage:
        if msg.method == "REGISTER":
            return await self._register(msg, src)
        if msg.method in ("MESSAGE", "NOTIFY"):
            return await self._message(msg, src)
        if msg.method == "BYE":
            return self.live.bye_received(msg)
        if msg.method == "OPTIONS":
            resp = response_to(msg, 200, to_tag=new_tag())
            resp.add("Allow", "REGISTER, MESSAGE, NOTIFY, OPTIONS, BYE")
            return resp
        return response_to(msg, 405 if msg.method in ("INVITE", "CANCEL", "SUBSCRIBE") else 501)

    def live_source(self, url: str, read_timeout: float = 5.0) -> GbLiveSource:
        """The frame source of a `gb28181://device/channel` camera (for the media plane's pull)."""
        return GbLiveSource(self.live, url, read_timeout)

    # -- REGISTER ------------------------------------------------------------------------------------
    def _nonce(self) -> str:
        stamp = f"{int(self.ctx.clock.now().timestamp()):x}"
        mac = hmac.new(self._key, stamp.encode(), hashlib.sha256).hexdigest()[:24]
        return f"{stamp}{mac}"

    def _nonce_fresh(self, nonce: str) -> bool:
        stamp, mac = nonce[:-24], nonce[-24:]
        if not stamp or len(stamp) > 12:
            return False
        good = hmac.new(self._key, stamp.encode(), hashlib.sha256).hexdigest()[:24]
        try:
            age = self.ctx.clock.now().timestamp() - int(stamp, 16)
        except ValueError:
            return False
        return hmac.compare_digest(good, mac) and -5 <= age <= self.settings.nonce_seconds

    def _gb_date(self) -> str:
        local = self.ctx.clock.now().astimezone(self._tz)
        return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}"

    async def _register(self, msg: SipMessage, src: Source) -> SipMessage:
        device_id = uri_user(uri_of(msg.get("From")))
        tag = new_tag()
        if not GB_ID.match(device_id):
            return response_to(msg, 403, "Bad device ID", tag)
        expires_text = msg.get("Expires") or header_param(msg.get("Contact"), "expires")
        if not expires_text.isdigit() or len(expires_text) > 10:
            return response_to(msg, 400, "Missing Expires", tag)
        expires = int(expires_text)
        if expires:
            expires = max(
                self.settings.register_min_expires, min(expires, self.settings.register_max_expires)
            )
        auth = digest.parse_params(msg.get("Authorization"))
        if not auth:
            return self._challenge(msg, tag, stale=False)
        if auth.get("username") != device_id or auth.get("realm") != self.settings.domain:
            return response_to(msg, 403, "Wrong credentials", tag)
        if not self._nonce_fresh(auth.get("nonce", "")):
            return self._challenge(msg, tag, stale=True)
        now = self.ctx.clock.now()
        guess = (device_id, src.host)
        if self._failures.blocked(guess, now):
            return response_to(msg, 403, "Too many failures", tag)
        async with self.ctx.db.session() as session:
            device = await service.device_by_sip_id(session, device_id)
            key = self._ha1(device, device_id)
            if key is None:
                return response_to(msg, 403, "Unknown device", tag)
            if not digest.verify(auth, "REGISTER", key):
                self._failures.add(guess, now)
                log.warning("GB device %s from %s: wrong password", device_id, src.host)
                return response_to(msg, 403, "Wrong password", tag)
            contact = service.Contact(src.transport, src.host, src.port)
            if expires == 0:
                if device is None:
                    return self._registered(msg, tag, 0)
                was_online = await service.unregister(session, device, now)
                cams = await service.camera_ids(session, device.id)
                await session.commit()
                if was_online:
                    await self._tell(cams, "offline", "unregistered")
                return self._registered(msg, tag, 0)
            came_online = device is None or not device.online
            device, fresh = await service.register(
                session, device, device_id, contact, expires, msg.call_id, now
            )
            cams = await service.camera_ids(session, device.id)
            pk = device.id
            await session.commit()
        if came_online:
            await self._tell(cams, "online", "registered")
        if fresh:  # not a refresh: (re)learn what the device has
            self._spawn(self._after_register(pk))
        return self._registered(msg, tag, expires)

    def _ha1(self, device: GbDevice | None, device_id: str) -> str | None:
        if device is not None and device.ha1 and device.ha1_realm == self.settings.domain:
            return device.ha1
        if self.settings.device_password:
            return digest.ha1(device_id, self.settings.domain, self.settings.device_password)
        return None

    def _challenge(self, msg: SipMessage, tag: str, stale: bool) -> SipMessage:
        resp = response_to(msg, 401, to_tag=tag)
        value = digest.challenge(self.settings.domain, self._nonce())
        resp.add("WWW-Authenticate", value + (", stale=TRUE" if stale else ""))
        self._gb_ver(msg, resp)
        return resp

    def _registered(self, msg: SipMessage, tag: str, expires: int) -> SipMessage:
        resp = response_to(msg, 200, to_tag=tag)
        if msg.get("Contact"):
            resp.add("Contact", msg.get("Contact"))
        resp.add("Expires", str(expires))
        resp.add("Date", self._gb_date())
        self._gb_ver(msg, resp)
        return resp

    @staticmethod
    def _gb_ver(msg: SipMessage, resp: SipMessage) -> None:
        if msg.get("X-GB-Ver"):
            resp.add("X-GB-Ver", msg.get("X-GB-Ver"))

    async def _after_register(self, pk: int) -> None:
        """A device that (re)came online is asked for its catalog and what it is."""
        for cmd in ("Catalog", "DeviceInfo", "DeviceStatus"):
            try:
                await self.query(pk, cmd)
            except (TimeoutError, ConnectionError, OSError) as exc:
                log.info("GB device %s: %s query not answered: %s", pk, cmd, exc)

    # -- MESSAGE / NOTIFY ----------------------------------------------------------------------------
    async def _message(self, msg: SipMessage, src: Source) -> SipMessage:
        device_id = uri_user(uri_of(msg.get("From")))
        tag = new_tag()
        if "manscdp" not in msg.get("Content-Type").lower():
            return response_to(msg, 415, to_tag=tag)
        try:
            doc = manscdp.parse(msg.body)
        except ManscdpError as exc:
            return response_to(msg, 400, str(exc)[:60], tag)
        now = self.ctx.clock.now()
        async with self.ctx.db.session() as session:
            device = await service.device_by_sip_id(session, device_id)
            if device is None or device.registered_until is None or device.registered_until <= now:
                return response_to(msg, 403, "Not registered", tag)
            if device.charset != doc.charset[:16]:
                device.charset = doc.charset[:16]
            cmd = doc.cmd.lower()
            if cmd == "keepalive":
                came_back = service.keepalive(device, service.Contact(src.transport, src.host, src.port), now)
                cams = await service.camera_ids(session, device.id)
                await session.commit()
                if came_back:
                    await self._tell(cams, "online", "keepalive")
            elif cmd == "catalog":
                await self._catalog(session, device, doc, now)
            elif cmd == "deviceinfo" and doc.root.lower() == "response":
                device.manufacturer = doc.text("Manufacturer")[:100]
                device.model = doc.text("Model")[:100]
                device.firmware = doc.text("Firmware")[:100]
                device.name = doc.text("DeviceName")[:100] or device.name
                await session.commit()
            elif cmd == "devicestatus" and doc.root.lower() == "response":
                log.info(
                    "GB device %s status: online=%s status=%s",
                    device_id,
                    doc.text("Online"),
                    doc.text("Status"),
                )
                await session.commit()
            elif cmd == "alarm" and doc.root.lower() == "notify":
                status = await self._alarm(session, device, doc, now)
                if status != 200:
                    return response_to(msg, status, to_tag=tag)
            else:
                await session.commit()
        return response_to(msg, 200, to_tag=tag)

    async def _catalog(self, session: AsyncSession, device: GbDevice, doc: Doc, now: datetime) -> None:
        total, items = manscdp.catalog_items(doc)
        if doc.root.lower() == "notify":  # a catalog change: apply at once
            await self._store_catalog(session, device, items, now)
            return
        key = (device.device_id, doc.sn)
        loop = asyncio.get_running_loop()
        part = self._catalogs.setdefault(key, _Catalog(loop.time()))
        part.total = total
        for item in items:
            part.items[item.device_id] = item
        if len(part.items) >= part.total:
            del self._catalogs[key]
            await self._store_catalog(session, device, list(part.items.values()), now)
        else:
            await session.commit()

    async def _store_catalog(
        self, session: AsyncSession, device: GbDevice, items: list[CatalogItem], now: datetime
    ) -> None:
        before = set(await service.camera_ids(session, device.id))
        channels = await service.store_catalog(session, device, items, now)
        for camera_id in set(await service.camera_ids(session, device.id)) - before:
            self.ctx.events.publish(session, CameraChanged(camera_id))  # a bound device's new camera
        online = device.online
        status = {c.camera_id: c.status for c in channels if c.camera_id is not None}
        await session.commit()
        await self.ctx.events.delivered(session)  # the media plane takes it (as a bind through the API)
        if online:  # new cameras start online; a channel's ON/OFF is its camera's health
            for camera_id, state in status.items():
                if camera_id not in before or state == "OFF":
                    await self._tell([camera_id], "online" if state == "ON" else "offline", "catalog")

    async def _alarm(self, session: AsyncSession, device: GbDevice, doc: Doc, now: datetime) -> int:
        """A device alarm becomes an alarm of its camera; answered only once it is stored."""
        channel_id = doc.device_id
        row = (
            await session.execute(
                select(Camera)
                .join(GbChannel, GbChannel.camera_id == Camera.id)
                .where(GbChannel.device_pk == device.id)
                .order_by((GbChannel.channel_id == channel_id).desc(), GbChannel.channel_id)
            )
        ).first()
        await session.commit()
        if row is None:
            return 404  # not bound yet: no camera, no station to route it to
        camera: Camera = row[0]
        method, kind_code = doc.text("AlarmMethod"), ""
        info = manscdp.find(doc.element, "Info")
        if info is not None:
            kind_code = manscdp.child_text(info, "AlarmType")
        kind_code = kind_code or doc.text("AlarmType")
        technical = method in ("2", "6")
        alarm_time = doc.text("AlarmTime")
        press = Press(
            uuid=str(
                uuid_mod.uuid5(ALARM_NAMESPACE, f"{device.device_id}/{channel_id}/{doc.sn}/{alarm_time}")
            ),
            kind=AlarmKind.camera_offline if technical else AlarmKind.intrusion,
            source="gb28181",
            region_id=camera.region_id,
            camera_id=camera.id,
            device_id=device.device_id,
            lat=camera.lat,
            lon=camera.lon,
            pressed_at=self._local_time(alarm_time),
            note=doc.text("AlarmDescription")[:1000],
            sender_key=f"gb:{camera.id}:{'fault' if technical else 'alarm'}",
            detail={
                "gb_device": device.device_id,
                "gb_channel": channel_id[:20],
                "method": method[:8],
                "type": kind_code[:8],
                "priority": doc.text("AlarmPriority")[:4],
            },
        )
        actor = service.registrar_actor(device.device_id, device.contact_host)
        batcher = self.ctx.services.get(IntakeBatcher)
        if batcher is not None:
            await batcher.submit(ready(press), actor)
            return 200
        async with self.ctx.db.session() as own:
            result = await alarms.intake(own, press, actor, now)
            if result.event:
                await publish_alarm(self.ctx, own, result.alarm, [result.event])
        return 200

    def _local_time(self, text: str) -> datetime | None:
        try:
            value = datetime.fromisoformat(text[:19])
        except ValueError:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=self._tz)
        return value.astimezone(UTC)

    # -- queries to devices --------------------------------------------------------------------------
    async def query(self, pk: int, cmd: str, **extra: str) -> SipMessage:
        """Sends `<Query><CmdType>cmd</CmdType>...` to a device; its answer comes later as a MESSAGE."""
        return await self._manscdp(pk, "Query", cmd, None, **extra)

    async def device_control(self, pk: int, channel_id: str, **extra: str) -> SipMessage:
        """Sends `<Control><CmdType>DeviceControl</CmdType>` for one channel (PTZCmd, ...)."""
        return await self._manscdp(pk, "Control", "DeviceControl", channel_id, **extra)

    async def _manscdp(self, pk: int, root: str, cmd: str, target: str | None, **extra: str) -> SipMessage:
        async with self.ctx.db.read_session() as session:
            device = await session.get(GbDevice, pk)
            if device is None or not device.online or not device.contact_host:
                raise ConnectionError("device not online")
            dest = Source(device.transport, device.contact_host, device.contact_port)
            device_id, charset = device.device_id, device.charset
        sn = next(self._sn)
        host = f"{dest.host}:{dest.port}"
        req = SipMessage(method="MESSAGE", uri=f"sip:{target or device_id}@{host}")
        req.add("From", f"<sip:{self.settings.sip_id}@{self.settings.domain}>;tag={new_tag()}")
        req.add("To", f"<sip:{target or device_id}@{host}>")
        req.add("Call-ID", f"{secrets.token_hex(8)}@{self.settings.advertise_host}")
        req.add("CSeq", f"{next(self._cseq)} MESSAGE")
        req.add("Max-Forwards", "70")
        req.add("User-Agent", USER_AGENT)
        req.add("Content-Type", "Application/MANSCDP+xml")
        req.body = manscdp.build(root, cmd, sn, target or device_id, charset, **extra)
        if cmd == "Catalog":
            self._catalogs[(device_id, sn)] = _Catalog(asyncio.get_running_loop().time())
        return await self.endpoint.request(req, dest, wait_s=self.settings.query_timeout)

    # -- health --------------------------------------------------------------------------------------
    async def _tell(self, camera_ids: list[int], status: str, reason: str) -> None:
        for camera_id in camera_ids:
            await self.ctx.events.emit(CameraStatusChanged(camera_id, status, f"gb28181: {reason}"))

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.settings.watchdog_period)
            try:
                await self.check_offline()
            except Exception:
                log.exception("GB/T 28181 offline check failed")

    async def check_offline(self) -> list[str]:
        """Devices with `keepalive_misses` keepalives missed (or their registration run out) go offline;
        their cameras' health follows. Stale partial catalogs are stored as far as they came."""
        now = self.ctx.clock.now()
        told: list[tuple[list[int], str]] = []
        async with self.ctx.db.session() as session:
            for device in await service.expire(session, now, self.settings.offline_after):
                told.append((await service.camera_ids(session, device.id), device.device_id))
            await session.commit()
        for cams, device_id in told:
            log.info("GB device %s offline: keepalives missed", device_id)
            await self._tell(cams, "offline", "keepalive timeout")
        deadline = asyncio.get_running_loop().time() - self.settings.catalog_timeout
        for key in [k for k, c in self._catalogs.items() if c.started < deadline]:
            part = self._catalogs.pop(key)
            if part.items:
                await self._store_partial(key[0], list(part.items.values()))
        return [device_id for _, device_id in told]

    async def _store_partial(self, device_id: str, items: list[CatalogItem]) -> None:
        async with self.ctx.db.session() as session:
            device = await service.device_by_sip_id(session, device_id)
            if device is not None:
                await self._store_catalog(session, device, items, self.ctx.clock.now())

    def _tcp_closed(self, src: Source) -> None:
        """GB/T 28181-2022 9.1: a device on TCP whose connection drops is offline."""

        async def offline() -> None:
            async with self.ctx.db.session() as session:
                rows = (
                    await session.scalars(
                        select(GbDevice).where(
                            GbDevice.online.is_(True),
                            GbDevice.transport == "TCP",
                            GbDevice.contact_host == src.host,
                            GbDevice.contact_port == src.port,
                        )
                    )
                ).all()
                told = []
                for device in rows:
                    device.online = False
                    told.append(await service.camera_ids(session, device.id))
                await session.commit()
            for cams in told:
                await self._tell(cams, "offline", "TCP connection closed")

        self._spawn(offline())
