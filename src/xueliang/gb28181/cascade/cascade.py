"""The cascade at run time: one `UpperLink` per configured upper platform, and everything an upper
asks of us or we tell it, over the node's one SIP endpoint (the platform's):

- requests from an upper (identified by its SIP ID in From *and* its address) are answered here,
  everything else goes on to the device platform: Catalog/DeviceInfo/DeviceStatus queries, catalog
  SUBSCRIBE, INVITE/ACK/BYE of shared channels, PTZ `DeviceControl`;
- catalog changes (a shared camera's status, share/unshare, an edited camera) go up within a moment,
  as NOTIFY in the upper's subscription (or as a MESSAGE `<Notify>` when it has none);
- every alarm raised at our stations goes up as an Alarm `<Notify>`, from the durable outbox
  `gb_upper_alarms`: a row per (upper, alarm) written after the alarm's commit (and by a catch-up
  sweep at start for alarms a crash left behind), marked sent only when the upper answered 200,
  retried until then with the same SN.

Security: an upper sees only the cameras shared with it; an INVITE or a PTZ command for any other
channel ID is 404. Every upper stream is audited as `live.start`/`live.end` of the camera by the actor
"upper platform <ID>", like a viewer's; every relayed PTZ command as `gb28181.upper.ptz`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from xueliang.alarms.events import AlarmRaised
from xueliang.alarms.models import Alarm
from xueliang.audit import service as audit
from xueliang.audit.service import Actor
from xueliang.cameras.events import CameraChanged, CameraStatusChanged
from xueliang.cameras.models import Camera
from xueliang.core.context import AppContext
from xueliang.gb28181 import manscdp, ptz_masks
from xueliang.gb28181 import service as gb_service
from xueliang.gb28181.cascade import catalog, service
from xueliang.gb28181.cascade.link import UpperConfig, UpperLink, cancel_all
from xueliang.gb28181.cascade.media import UpperStream
from xueliang.gb28181.cascade.models import GbUpper, GbUpperAlarm, GbUpperChannel
from xueliang.gb28181.config import Gb28181Settings
from xueliang.gb28181.manscdp import ManscdpError
from xueliang.gb28181.platform import GbPlatform
from xueliang.gb28181.sip.message import SipMessage, header_param, response_to, uri_of, uri_user
from xueliang.gb28181.sip.transport import SipEndpoint, Source, new_tag
from xueliang.regions.models import Region

log = logging.getLogger(__name__)
ALARM_CATCHUP = timedelta(hours=1)  # at start, alarms this recent without an outbox row are queued
ALARM_RETRY_MAX = 30.0
NOTIFY_DELAY = 0.2  # changes within this are sent in one catalog NOTIFY
ACK_WAIT = 3.0  # an INVITE's media starts at the ACK, or after this if the ACK never comes
SUBSCRIBE_MAX = 3600
WATCH_PERIOD = 5.0  # how often the rows are compared with the running links (a split node's web
# process edits them), and alarms raised in another process are queued


@dataclass
class Subscription:
    """An upper's catalog subscription (a SUBSCRIBE dialog: we send the NOTIFYs)."""

    call_id: str
    local: str  # our side's header: the upper's To, with our tag
    remote: str  # the upper's From
    target: str  # the upper's Contact
    expires_at: float
    event: str


@dataclass
class UpperCall:
    """One INVITE from an upper: the dialog and its media."""

    link: UpperLink
    camera_id: int
    channel_id: str
    call_id: str
    local: str
    remote: str
    target: str
    stream: UpperStream
    answer: bytes = b""  # our SDP, given again to a re-INVITE
    started: bool = False
    ended: bool = False


@dataclass
class _Changes:
    items: dict[str, ET.Element] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None


class Cascade:
    """Registered as a service by the gb28181 runtime when GB/T 28181 is enabled."""

    def __init__(self, ctx: AppContext, platform: GbPlatform, settings: Gb28181Settings) -> None:
        self.ctx, self.platform, self.settings = ctx, platform, settings
        self.endpoint: SipEndpoint = platform.endpoint
        self.links: dict[int, UpperLink] = {}
        self.calls: dict[str, UpperCall] = {}
        self.subscriptions: dict[int, Subscription] = {}
        self.shared: dict[int, dict[int, str]] = {}  # upper id -> camera id -> channel id
        self.online: dict[int, bool] = {}  # camera id -> last status told (absent: ask the plane)
        self._changes: dict[int, _Changes] = {}
        self._alarm_wake: dict[int, asyncio.Event] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._unsubscribe: list[Callable[[], None]] = []
        self._tz = ZoneInfo(ctx.settings.timezone)
        self._lock = asyncio.Lock()
        self.stopping = False
        self._devices: Callable[[SipMessage, Source], Awaitable[SipMessage]] = platform.handle

    def now(self) -> datetime:
        return self.ctx.clock.now()

    def spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- life ----------------------------------------------------------------------------------------
    def install(self) -> None:
        """Takes the endpoint's requests first (before `start`: nothing is lost in between)."""
        self._devices = self.endpoint.handler
        self.endpoint.handler = self.handle
        self.endpoint.on_ack = self.ack
        events = self.ctx.events
        self._unsubscribe += [
            events.subscribe(AlarmRaised, self._alarm_raised),
            events.subscribe(CameraStatusChanged, self._camera_status),
            events.subscribe(CameraChanged, self._camera_changed),
        ]

    async def start(self) -> None:
        async with self.ctx.db.read_session() as session:
            rows = await service.list_uppers(session)
            configs = [UpperConfig.of(r, self.settings.sip_id) for r in rows]
        for config in configs:
            await self._start_link(config)
        self.spawn(self._watch())

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        calls = list(self.calls.values())
        for call in calls:
            call.stream.finish("node stopping")
        if calls:  # each tells its upper (BYE) and is audited as ended
            await asyncio.wait([asyncio.ensure_future(c.stream.wait()) for c in calls], timeout=5.0)
        self.stopping = True
        for link in list(self.links.values()):
            await link.stop()
        changes = [c.task for c in self._changes.values() if c.task is not None]
        await cancel_all([*self._tasks, *changes])
        self.links.clear()

    async def reload(self, upper_id: int) -> None:
        """An admin created, changed or deleted an upper: its link starts again from the row."""
        async with self._lock:
            old = self.links.pop(upper_id, None)
            if old is not None:
                for call in [c for c in self.calls.values() if c.link is old]:
                    call.stream.finish("upper platform reconfigured")
                self.subscriptions.pop(upper_id, None)
                await old.stop()
            async with self.ctx.db.read_session() as session:
                row = await session.get(GbUpper, upper_id)
                config = UpperConfig.of(row, self.settings.sip_id) if row is not None else None
            if config is not None:
                await self._start_link(config)

    async def _watch(self) -> None:
        """On a node split by role the admin API and the alarm intake run in the web process and the
        SIP side here: changed rows restart their links, changed shares become catalog changes, and
        alarms without an outbox row are queued (at most `WATCH_PERIOD` late). In one process the API
        has done all this already and the pass finds nothing to do."""
        while not self.stopping:
            await asyncio.sleep(WATCH_PERIOD)
            try:
                await self.sync_rows()
            except Exception:
                log.exception("GB upper platforms: rows not read")

    async def sync_rows(self) -> None:
        async with self.ctx.db.read_session() as session:
            rows = await service.list_uppers(session)
            configs = {r.id: UpperConfig.of(r, self.settings.sip_id) for r in rows}
        for upper_id in [i for i in self.links if i not in configs]:
            await self.reload(upper_id)
        for upper_id, config in configs.items():
            link = self.links.get(upper_id)
            if link is None or link.config != config:
                await self.reload(upper_id)
                continue
            before = dict(self.shared.get(upper_id, {}))
            await self._load_shared(upper_id)
            after = self.shared.get(upper_id, {})
            for camera_id in after.keys() - before.keys():
                self.catalog_changed(upper_id, camera_id, "ADD")
            for camera_id in before.keys() - after.keys():
                self.shared[upper_id][camera_id] = before[camera_id]  # DEL still names its channel
                self.catalog_changed(upper_id, camera_id, "DEL")
            if config.enabled:
                await self._catch_up(upper_id)

    async def _start_link(self, config: UpperConfig) -> None:
        link = UpperLink(self, config)
        self.links[config.id] = link
        await self._load_shared(config.id)
        self._alarm_wake[config.id] = asyncio.Event()
        link.start()
        if config.enabled:
            link.spawn(self._alarm_sender(link))

    async def _load_shared(self, upper_id: int) -> None:
        async with self.ctx.db.read_session() as session:
            rows = await session.execute(
                select(GbUpperChannel.camera_id, GbUpperChannel.channel_id).where(
                    GbUpperChannel.upper_id == upper_id, GbUpperChannel.shared.is_(True)
                )
            )
            self.shared[upper_id] = {int(c): str(ch) for c, ch in rows.all()}

    def link_registered(self, link: UpperLink) -> None:
        """A (re)registration: pending alarms go at once."""
        wake = self._alarm_wake.get(link.config.id)
        if wake is not None:
            wake.set()

    # -- dispatch ------------------------------------------------------------------------------------
    def _link_of(self, msg: SipMessage, src: Source) -> UpperLink | None:
        user = uri_user(uri_of(msg.get("From")))
        return next((link for link in self.links.values() if link.knows(user, src.host)), None)

    async def handle(self, msg: SipMessage, src: Source) -> SipMessage:
        link = self._link_of(msg, src)
        if link is None:
            if msg.method == "BYE" and msg.call_id in self.calls:
                return response_to(msg, 403)
            return await self._devices(msg, src)
        if msg.method == "MESSAGE":
            return await self._message(link, msg)
        if msg.method == "SUBSCRIBE":
            return self._subscribe(link, msg)
        if msg.method == "INVITE":
            return await self._invite(link, msg)
        if msg.method == "BYE":
            return self._bye(msg)
        if msg.method == "CANCEL":
            return response_to(msg, 200)
        if msg.method == "OPTIONS":
            resp = response_to(msg, 200, to_tag=new_tag())
            resp.add("Allow", "INVITE, ACK, BYE, CANCEL, MESSAGE, SUBSCRIBE, NOTIFY, OPTIONS")
            return resp
        return response_to(msg, 501)

    # -- MESSAGE: queries and control ----------------------------------------------------------------
    async def _message(self, link: UpperLink, msg: SipMessage) -> SipMessage:
        tag = new_tag()
        if "manscdp" not in msg.get("Content-Type").lower():
            return response_to(msg, 415, to_tag=tag)
        try:
            doc = manscdp.parse(msg.body)
        except ManscdpError as exc:
            return response_to(msg, 400, str(exc)[:60], tag)
        root, cmd = doc.root.lower(), doc.cmd.lower()
        if root == "query" and cmd == "catalog":
            link.spawn(self._answer_catalog(link, doc.sn))
        elif root == "query" and cmd == "deviceinfo":
            link.spawn(self._answer_device_info(link, doc.sn))
        elif root == "query" and cmd == "devicestatus":
            now_local = self.now().astimezone(self._tz).strftime("%Y-%m-%dT%H:%M:%S")
            body = catalog.device_status(link.config.local_id, doc.sn, now_local, link.config.charset)
            link.spawn(self._send_quietly(link, body))
        elif root == "control" and cmd == "devicecontrol" and doc.text("PTZCmd"):
            status, reason = await self._ptz(link, doc.device_id, doc.text("PTZCmd"))
            return response_to(msg, status, reason, tag)
        return response_to(msg, 200, to_tag=tag)

    async def _send_quietly(self, link: UpperLink, body: bytes) -> None:
        with contextlib.suppress(TimeoutError, OSError):
            await link.message(body)

    async def catalog_entries(self, upper_id: int) -> list[catalog.Entry]:
        """The whole catalog for an upper: its region tree, then the shared cameras."""
        async with self.ctx.db.read_session() as session:
            shared = await service.shared_cameras(session, upper_id)
            codes = {c for s in shared for c in s.region.path.strip("/").split("/") if c}
            names = dict(
                (await session.execute(select(Region.code, Region.name).where(Region.code.in_(codes)))).all()
            )
        link = self.links.get(upper_id)
        parent = link.config.local_id if link is not None else self.settings.sip_id
        entries = catalog.region_entries(shared, names)
        entries += [catalog.camera_entry(s, parent, self.is_online(s.camera.id)) for s in shared]
        return entries

    async def _answer_catalog(self, link: UpperLink, sn: int) -> None:
        """The catalog in pages of `catalog_page` items; each page after the previous one's 200."""
        pages = catalog.catalog_pages(
            link.config.local_id,
            sn,
            await self.catalog_entries(link.config.id),
            link.config.catalog_page,
            link.config.charset,
        )
        for body in pages:
            try:
                answer = await link.message(body)
            except (TimeoutError, OSError) as exc:
                link.note_error(f"catalog page not answered: {exc or 'timeout'}")
                return
            if answer.status >= 300:
                link.note_error(f"catalog page answered {answer.status}")
                return
        link.note_catalog(self.now())

    async def _answer_device_info(self, link: UpperLink, sn: int) -> None:
        count = len(self.shared.get(link.config.id, {}))
        body = catalog.device_info(link.config.local_id, sn, "Xueliang", count, link.config.charset)
        await self._send_quietly(link, body)

    # -- catalog subscription and change notification ------------------------------------------------
    def _subscribe(self, link: UpperLink, msg: SipMessage) -> SipMessage:
        event = msg.get("Event").split(";")[0].strip()
        if event.lower() != "catalog":
            return response_to(msg, 489, "Bad Event")
        expires_text = msg.get("Expires", "3600")
        expires = min(int(expires_text), SUBSCRIBE_MAX) if expires_text.isdigit() else 3600
        existing = self.subscriptions.get(link.config.id)
        to = msg.get("To")
        local = to if header_param(to, "tag") else f"{to};tag={new_tag()}"  # tagged: a refresh
        resp = response_to(msg, 200)
        resp.set("To", local)
        resp.add("Expires", str(expires))
        resp.add("Contact", link.contact())
        if expires == 0:
            if existing is not None and existing.call_id == msg.call_id:
                self.subscriptions.pop(link.config.id, None)
            return resp
        loop = asyncio.get_running_loop()
        self.subscriptions[link.config.id] = Subscription(
            msg.call_id,
            local,
            msg.get("From"),
            uri_of(msg.get("Contact")) or link.uri(),
            loop.time() + expires,
            event,
        )
        return resp

    def catalog_changed(self, upper_id: int, camera_id: int, event: str) -> None:
        """Queues one change (ADD, DEL, UPDATE, ON, OFF) of a camera for an upper's next NOTIFY."""
        link = self.links.get(upper_id)
        if link is None or not link.config.enabled:
            return
        changes = self._changes.setdefault(upper_id, _Changes())
        self.spawn(self._queue_change(link, changes, camera_id, event))

    async def _queue_change(self, link: UpperLink, changes: _Changes, camera_id: int, event: str) -> None:
        channel_id = self.shared.get(link.config.id, {}).get(camera_id)
        if event == "DEL":
            channel_id = channel_id or await self._channel_any(link.config.id, camera_id)
            self.shared.get(link.config.id, {}).pop(camera_id, None)
            if channel_id is None:
                return
            element = ET.Element("Item")
            ET.SubElement(element, "DeviceID").text = channel_id
            ET.SubElement(element, "Event").text = "DEL"
            changes.items[channel_id] = element
        else:
            async with self.ctx.db.read_session() as session:
                shared = [
                    s
                    for s in await service.shared_cameras(session, link.config.id)
                    if s.camera.id == camera_id
                ]
            if not shared:
                return
            item = shared[0]
            self.shared.setdefault(link.config.id, {})[camera_id] = item.channel_id
            entry = catalog.camera_entry(item, link.config.local_id, self.is_online(camera_id))
            changes.items[item.channel_id] = entry.with_event(event)
        if changes.task is None or changes.task.done():
            changes.task = asyncio.ensure_future(self._send_changes(link, changes))

    async def _channel_any(self, upper_id: int, camera_id: int) -> str | None:
        async with self.ctx.db.read_session() as session:
            return await session.scalar(
                select(GbUpperChannel.channel_id).where(
                    GbUpperChannel.upper_id == upper_id, GbUpperChannel.camera_id == camera_id
                )
            )

    async def _send_changes(self, link: UpperLink, changes: _Changes) -> None:
        """Sends what is queued, and again while changes keep coming in during a send."""
        while not self.stopping:
            await asyncio.sleep(NOTIFY_DELAY)
            items = list(changes.items.values())
            changes.items.clear()
            if not items:
                return
            if link.registered.is_set():
                await self._send_change_items(link, items)

    async def _send_change_items(self, link: UpperLink, items: list[ET.Element]) -> None:
        body = catalog.catalog_notify(link.config.local_id, link.next_sn(), items, link.config.charset)
        sub = self.subscriptions.get(link.config.id)
        loop = asyncio.get_running_loop()
        try:
            if sub is not None and sub.expires_at > loop.time():
                req = link.in_dialog("NOTIFY", sub.target, sub.local, sub.remote, sub.call_id)
                req.add("Event", sub.event)
                left = int(sub.expires_at - loop.time())
                req.add("Subscription-State", f"active;expires={left}")
                req.add("Content-Type", "Application/MANSCDP+xml")
                req.body = body
                answer = await self.endpoint.request(req, link.dest, wait_s=8.0)
            else:
                answer = await link.message(body)
        except (TimeoutError, OSError) as exc:
            link.note_error(f"catalog change not answered: {exc or 'timeout'}")
            return
        if answer.status >= 300:
            link.note_error(f"catalog change answered {answer.status}")
        else:
            link.note_catalog(self.now())

    def is_online(self, camera_id: int) -> bool:
        known = self.online.get(camera_id)
        if known is not None:
            return known
        from xueliang.media.engine import CameraStatus, UnknownCamera
        from xueliang.media.plane import MediaPlane

        plane = self.ctx.services.get(MediaPlane)
        if plane is None:
            return True
        try:
            return plane.engine.health(camera_id).status is CameraStatus.online
        except UnknownCamera:
            return False

    async def _camera_status(self, event: CameraStatusChanged) -> None:
        online = event.status == "online"
        if self.online.get(event.camera_id) == online:
            return
        self.online[event.camera_id] = online
        for upper_id, cams in self.shared.items():
            if event.camera_id in cams:
                self.catalog_changed(upper_id, event.camera_id, "ON" if online else "OFF")

    async def _camera_changed(self, event: CameraChanged) -> None:
        for upper_id, cams in list(self.shared.items()):
            if event.camera_id in cams:
                async with self.ctx.db.read_session() as session:
                    camera = await session.get(Camera, event.camera_id)
                self.catalog_changed(upper_id, event.camera_id, "UPDATE" if camera is not None else "DEL")

    # -- INVITE / ACK / BYE --------------------------------------------------------------------------
    async def _invite(self, link: UpperLink, msg: SipMessage) -> SipMessage:
        channel_id = uri_user(msg.uri) or msg.get("Subject").split(":")[0]
        if msg.call_id in self.calls:  # a re-INVITE (a session refresh): the stream stays as it is
            call = self.calls[msg.call_id]
            resp = response_to(msg, 200)
            resp.set("To", call.local)
            resp.add("Contact", link.contact())
            resp.add("Content-Type", "Application/SDP")
            resp.body = call.answer
            return resp
        async with self.ctx.db.read_session() as session:
            camera = await service.shared_channel(session, link.config.id, channel_id)
            camera_id = camera.id if camera is not None else None
        if camera_id is None:
            return response_to(msg, 404, to_tag=new_tag())
        offer = parse_sdp(msg.body.decode("utf-8", "replace"))
        if offer is None:
            return response_to(msg, 488, to_tag=new_tag())
        if offer.tcp and offer.setup != "passive":
            return response_to(msg, 488, "TCP passive only", new_tag())  # we connect (TCP active)
        from xueliang.media.engine import UnknownCamera
        from xueliang.media.plane import MediaPlane

        plane = self.ctx.services.get(MediaPlane)
        if plane is None:
            return response_to(msg, 503, "Media not enabled", new_tag())
        try:
            channel = plane.engine.channel(camera_id)
        except UnknownCamera:
            return response_to(msg, 404, to_tag=new_tag())
        ssrc = int(offer.ssrc) if offer.ssrc.isdigit() and int(offer.ssrc) < 2**32 else secrets.randbits(31)
        stream = UpperStream(
            channel,
            ssrc,
            offer.host,
            offer.port,
            tcp=offer.tcp,
            media_host=self.settings.media_host,
            on_end=self._stream_ended,
        )
        port = await stream.prepare()
        local = f"{msg.get('To')};tag={new_tag()}"
        call = UpperCall(
            link,
            camera_id,
            channel_id,
            msg.call_id,
            local,
            msg.get("From"),
            uri_of(msg.get("Contact")) or link.uri(),
            stream,
        )
        self.calls[msg.call_id] = call
        resp = response_to(msg, 200)
        resp.set("To", local)
        resp.add("Contact", link.contact())
        resp.add("Content-Type", "Application/SDP")
        resp.body = call.answer = answer_sdp(
            channel_id, self.settings.advertise_host, port, offer, f"{ssrc:010d}"
        )
        asyncio.get_running_loop().call_later(ACK_WAIT, self._start_call, call)
        return resp

    def ack(self, msg: SipMessage, src: Source) -> None:
        call = self.calls.get(msg.call_id)
        if call is not None:
            self._start_call(call)

    def _start_call(self, call: UpperCall) -> None:
        if call.started or call.ended:
            return
        call.started = True
        call.stream.start()
        self.spawn(self._audit_call(call, "live.start"))

    def _bye(self, msg: SipMessage) -> SipMessage:
        call = self.calls.get(msg.call_id)
        if call is None:
            return response_to(msg, 481)
        call.ended = True
        call.stream.finish("BYE from the upper platform")
        if not call.started:
            self.calls.pop(msg.call_id, None)
        return response_to(msg, 200)

    async def _stream_ended(self, stream: UpperStream) -> None:
        call = next((c for c in self.calls.values() if c.stream is stream), None)
        if call is None:
            return
        self.calls.pop(call.call_id, None)
        if call.started:
            await self._audit_call(call, "live.end")
        if not call.ended:  # we ended it (RTCP timeout, channel closed...): tell the upper
            call.ended = True
            bye = call.link.in_dialog("BYE", call.target, call.local, call.remote, call.call_id)
            with contextlib.suppress(TimeoutError, OSError):
                await self.endpoint.request(bye, call.link.dest, wait_s=4.0)

    async def _audit_call(self, call: UpperCall, action: str) -> None:
        config = call.link.config
        detail: dict[str, Any] = {
            "session": call.call_id[:64],
            "kind": "gb28181-upper",
            "upper": config.sip_id,
            "channel": call.channel_id,
        }
        stream = call.stream
        if action == "live.end":
            detail.update(
                bytes=stream.bytes_sent,
                frames=stream.frames_sent,
                seconds=round(stream.seconds, 1),
                reason=stream.reason[:100],
            )
        async with self.ctx.db.session() as session:
            await audit.append(
                session,
                Actor(None, config.actor_name, config.host[:64]),
                action,
                at=self.now(),
                target_type="camera",
                target_id=call.camera_id,
                detail=detail,
            )
            await session.commit()

    # -- PTZ -----------------------------------------------------------------------------------------
    async def _ptz(self, link: UpperLink, channel_id: str, command: str) -> tuple[int, str]:
        """Relays an upper's PTZCmd to the camera under the console's rule (one holder at a time)."""
        command = command.strip().upper()
        if not valid_ptz(command):
            return 400, "Bad PTZCmd"
        async with self.ctx.db.session() as session:
            camera = await service.shared_channel(session, link.config.id, channel_id)
            if camera is None:
                return 404, "Not Found"
            gb = await gb_service.channel_of_camera(session, camera.id)
            if gb is None or not camera.ptz:
                return 488, "No PTZ on this channel"
            now = self.now()
            config = link.config
            granted, holder = self.platform.ptz.take(camera.id, -config.id, config.actor_name, now)
            if not granted:
                return 486, f"PTZ held by {holder.username}"[:80]
            await audit.append(
                session,
                Actor(None, config.actor_name, config.host[:64]),
                "gb28181.upper.ptz",  # a command relayed from an upper (the console's are camera.ptz)
                at=now,
                target_type="camera",
                target_id=camera.id,
                detail={"command": command, "channel": channel_id, "upper": config.sip_id},
            )
            await ptz_masks.before_command(self.ctx, session, camera.id, command, config.actor_name)
            camera_id = camera.id
        try:
            answer = await self.platform.device_control(gb[0], gb[1], PTZCmd=command)
        except (TimeoutError, ConnectionError, OSError):
            return 503, "Device unavailable"
        if answer.status >= 300:
            return 503, "Device refused"
        async with self.ctx.db.session() as session:
            await ptz_masks.after_command(self.ctx, session, camera_id, command, config.actor_name)
        return 200, "OK"

    # -- alarms upward -------------------------------------------------------------------------------
    async def _alarm_raised(self, event: AlarmRaised) -> None:
        """After the alarm's commit: one outbox row per enabled upper (idempotent), then wake them.
        In a task of its own: the publisher may still hold its session (and SQLite's writer gate)
        while its listeners run, and the row needs a write of ours."""
        uppers = [link.config.id for link in self.links.values() if link.config.enabled]
        if uppers:
            self.spawn(self._queue_quietly(event.alarm_id, uppers))

    async def _queue_quietly(self, alarm_id: int, uppers: list[int]) -> None:
        try:
            await self.queue_alarm(alarm_id, uppers)
        except Exception:  # the sweep queues it within WATCH_PERIOD
            log.exception("GB upper platforms: alarm %s not queued", alarm_id)

    async def queue_alarm(self, alarm_id: int, uppers: list[int]) -> None:
        now = self.now()
        async with self.ctx.db.session() as session:
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            for upper_id in uppers:
                stmt = insert(GbUpperAlarm).values(
                    upper_id=upper_id, alarm_id=alarm_id, created_at=now, attempts=0, last_error=""
                )
                await session.execute(stmt.on_conflict_do_nothing(index_elements=["upper_id", "alarm_id"]))
            await session.commit()
        for upper_id in uppers:
            wake = self._alarm_wake.get(upper_id)
            if wake is not None:
                wake.set()

    async def queue_alarm_many(self, alarm_ids: list[int], upper_id: int) -> None:
        for alarm_id in alarm_ids:
            await self.queue_alarm(alarm_id, [upper_id])

    async def _catch_up(self, upper_id: int) -> None:
        """Alarms of the last hour (not older than the upper) that have no outbox row: a crash between
        an alarm's commit and its outbox row left them; they are queued now."""
        async with self.ctx.db.read_session() as session:
            upper = await session.get(GbUpper, upper_id)
            if upper is None:
                return
            since = max(self.now() - ALARM_CATCHUP, upper.created_at)
            queued = select(GbUpperAlarm.alarm_id).where(GbUpperAlarm.upper_id == upper_id)
            missing = list(
                await session.scalars(
                    select(Alarm.id).where(Alarm.received_at >= since, Alarm.id.not_in(queued))
                )
            )
        if missing:
            await self.queue_alarm_many(missing, upper_id)

    async def _alarm_sender(self, link: UpperLink) -> None:
        upper_id = link.config.id
        wake = self._alarm_wake[upper_id]
        with contextlib.suppress(Exception):
            await self._catch_up(upper_id)
        delay = 1.0
        while not link.stopping:
            await link.registered.wait()
            try:
                done = await self._send_pending_alarms(link)
            except Exception:
                log.exception("GB upper %s: alarm outbox failed", link.config.sip_id)
                done = False
            if done:
                delay = 1.0
                wake.clear()
                await wake.wait()
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), delay)
                wake.clear()
                delay = min(ALARM_RETRY_MAX, delay * 2)

    async def _send_pending_alarms(self, link: UpperLink) -> bool:
        """Sends what the outbox holds for this upper, oldest first; False when one was not confirmed."""
        while not link.stopping:
            async with self.ctx.db.read_session() as session:
                row = (
                    await session.execute(
                        select(GbUpperAlarm.id, Alarm, Region.name)
                        .join(Alarm, Alarm.id == GbUpperAlarm.alarm_id)
                        .join(Region, Region.id == Alarm.region_id)
                        .where(GbUpperAlarm.upper_id == link.config.id, GbUpperAlarm.sent_at.is_(None))
                        .order_by(GbUpperAlarm.id)
                        .limit(1)
                    )
                ).first()
                if row is None:
                    return True
                outbox_id, alarm, region_name = int(row[0]), row[1], str(row[2])
                channels = await service.nearest_channels(
                    session, link.config.id, alarm.lat, alarm.lon, alarm.camera_id
                )
                facts = catalog.AlarmFacts(
                    alarm.id,
                    str(alarm.kind),
                    alarm.source,
                    alarm.note,
                    alarm.lat,
                    alarm.lon,
                    alarm.received_at.astimezone(self._tz).strftime("%Y-%m-%dT%H:%M:%S"),
                    region_name,
                )
            body = catalog.alarm_notify(link.config.local_id, outbox_id, facts, channels, link.config.charset)
            error = ""
            try:
                answer = await link.message(body)
                if answer.status >= 300:
                    error = f"answered {answer.status} {answer.reason}"
            except (TimeoutError, OSError) as exc:
                error = f"not answered: {exc or 'timeout'}"
            async with self.ctx.db.session() as session:
                outbox = await session.get(GbUpperAlarm, outbox_id)
                if outbox is not None:
                    outbox.attempts += 1
                    outbox.last_error = error[:200]
                    if not error:
                        outbox.sent_at = self.now()
                await session.commit()
            if error:
                link.note_error(f"alarm {facts.alarm_id} {error}")
                return False
        return False  # stopping: what is left goes at the next start


@dataclass(frozen=True)
class Offer:
    host: str
    port: int
    tcp: bool
    setup: str
    ssrc: str
    session: str


def parse_sdp(text: str) -> Offer | None:
    """The parts of an upper's SDP offer we act on; None when it has no PS video (PT 96) at an address."""
    host, port, tcp, setup, ssrc, session, ps = "", 0, False, "", "", "Play", False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("c=IN IP4 "):
            host = line[9:].split("/")[0].strip()
        elif line.startswith("s="):
            session = line[2:].strip()
        elif line.startswith("m=video "):
            parts = line.split()
            if len(parts) >= 4 and parts[1].isdigit():
                port = int(parts[1])
                tcp = parts[2].upper().startswith("TCP")
                ps = "96" in parts[3:]
        elif line.startswith("a=setup:"):
            setup = line[8:].strip().lower()
        elif line.startswith("y="):
            ssrc = line[2:].strip()
    if not host or not 0 < port < 65536 or not ps:
        return None
    return Offer(host, port, tcp, setup, ssrc, session)


def answer_sdp(channel_id: str, host: str, port: int, offer: Offer, ssrc: str) -> bytes:
    lines = [
        "v=0",
        f"o={channel_id} 0 0 IN IP4 {host}",
        f"s={offer.session or 'Play'}",
        f"c=IN IP4 {host}",
        "t=0 0",
        f"m=video {port} {'TCP/RTP/AVP' if offer.tcp else 'RTP/AVP'} 96",
        "a=sendonly",
        "a=rtpmap:96 PS/90000",
    ]
    if offer.tcp:
        lines += ["a=setup:active", "a=connection:new"]
    lines += [f"y={ssrc}", "f="]
    return ("\r\n".join(lines) + "\r\n").encode()


def valid_ptz(command: str) -> bool:
    """16 hex digits, A5 first, the 8th byte the sum of the first 7 (GB/T 28181 A.3)."""
    if len(command) != 16:
        return False
    try:
        data = bytes.fromhex(command)
    except ValueError:
        return False
    return data[0] == 0xA5 and sum(data[:7]) % 256 == data[7]
