"""The node's side of its links: the nats-server it supervises, the relay that sends the outbox, the
consumer that applies what peers sent, the audit anchor, and the state `node status` shows.

Order and once-only: the relay sends a peer's rows one at a time in id order and stops at the first
failure, so the peer's stream holds them in order; each carries a stable id (`<me>-<row id>`) that
JetStream de-duplicates and the peer's inbox table records in the transaction that applies it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from xueliang.alarms import mobilization
from xueliang.alarms.events import AlarmChanged
from xueliang.alarms.intake import announce, store_presses
from xueliang.alarms.models import Alarm, AlarmEvent, AlarmKind, Mobilization, MobilizationTask
from xueliang.alarms.push import publish_alarm, task_event
from xueliang.alarms.service import IntakeResult, Press, intake
from xueliang.audit.service import SYSTEM, Actor
from xueliang.cameras import mask_rows
from xueliang.cameras.events import CameraChanged, CameraStatusChanged
from xueliang.cameras.masks import MasksChanged
from xueliang.cameras.models import Camera
from xueliang.core.context import AppContext
from xueliang.federation import apply, content
from xueliang.federation.config import FederationSettings
from xueliang.federation.envelope import Envelope, Refused, check, parse, seal, subject
from xueliang.federation.identity import NodeIdentity, local_gb_id, peers_by_key
from xueliang.federation.models import InboxMessage, OutboxMessage
from xueliang.federation.natsd import (
    NatsServer,
    ServerConfig,
    leaf_password,
    load_leaf,
    nats_binary,
    secret_for,
)
from xueliang.nodes.models import Node
from xueliang.notify.hub import Hub
from xueliang.portal.models import PortalNotice
from xueliang.portal.push import notice_event
from xueliang.regions.models import Region

if TYPE_CHECKING:
    from nats.aio.client import Client
    from nats.js import JetStreamContext

log = logging.getLogger(__name__)
STREAM = "XL_IN"
SWEEP_MARGIN = 50  # alarm events committed out of id order (PostgreSQL) are still found
SWEEP_LIMIT = 2000  # alarm events looked at per peer and sweep
PEERS_TTL_S = 1.0  # the peers list is read again after this long (or at once after `kick`)
INBOX_BATCH = 200  # messages fetched and applied in one transaction (the alarm intake's group size)
REGIONS_PER_MESSAGE = 500  # a county's tree in messages well under the nats-server's 1 MB payload
RETRIES_IN_PLACE = 5  # a failed inbox message is tried again before JetStream redelivers it


@dataclass
class PeerState:
    """What `node status` shows for one link."""

    gb_id: str
    role: str  # parent | child
    connected_since: datetime | None = None
    last_sent_at: datetime | None = None
    last_received_at: datetime | None = None
    last_error: str = ""
    sent: int = 0
    received: int = 0
    refused: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "gb_id": self.gb_id,
            "role": self.role,
            "connected_since": self.connected_since.isoformat() if self.connected_since else None,
            "last_sent_at": self.last_sent_at.isoformat() if self.last_sent_at else None,
            "last_received_at": self.last_received_at.isoformat() if self.last_received_at else None,
            "last_error": self.last_error,
            "sent": self.sent,
            "received": self.received,
            "refused": self.refused,
        }


@dataclass
class Peer:
    id: int
    gb_id: str
    role: str
    region_path: str
    enrolled_at: datetime


def status_file(data_dir: Path) -> Path:
    return data_dir / "node" / "link-status.json"


@dataclass
class Link:
    ctx: AppContext
    settings: FederationSettings
    identity: NodeIdentity | None = None
    server: NatsServer | None = None
    nc: Client | None = None
    js: JetStreamContext | None = None
    states: dict[str, PeerState] = field(default_factory=dict)
    refused_unknown: int = 0
    last_refusal: str = ""
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _alarm_cursor: dict[int, int] = field(default_factory=dict)
    _unsubscribe: list[Any] = field(default_factory=list)
    _camera_seq: int = 0
    region_path: str = ""  # this node's region: the cameras it reports are in it
    # Link-down watch: when each link last worked (or this node started), and the links alarmed for
    # the outage in progress (cleared when the link works again; the alarm itself waits for a person).
    _last_ok: dict[str, datetime] = field(default_factory=dict)
    # GB ID of each camera reported up: a deleted camera has no row left to say which one it was.
    _reported: dict[int, str] = field(default_factory=dict)
    _alarmed: set[str] = field(default_factory=set)
    _notice_cursor: dict[int, int] = field(default_factory=dict)
    # Each camera's last status this node saw (its engine's, or its child's for a camera hosted below):
    # every catalog message carries it, so the parent shows an idle relayed camera as its owner does.
    _status: dict[int, str] = field(default_factory=dict)
    # County content sent down: per (child, kind) the newest stamp queued, and the rows queued within
    # the sweep's margin (content.py), so a round re-sends nothing.
    _content_cursor: dict[tuple[int, str], datetime | None] = field(default_factory=dict)
    _content_sent: dict[tuple[int, str], set[tuple[int, str]]] = field(default_factory=dict)
    _confirmed: dict[str, float] = field(default_factory=dict)  # when each link last worked (monotonic)
    _pinged: dict[str, float] = field(default_factory=dict)  # when each idle link was last pinged
    _peers: tuple[float, list[Peer]] | None = None  # when read (monotonic), and the list
    _status_at: float = 0.0  # when the status file was last written (monotonic)
    _notices_at: float = 0.0  # when notices were last swept (monotonic)

    @property
    def me(self) -> str:
        assert self.identity is not None
        return self.identity.gb_id

    @property
    def data_dir(self) -> Path:
        return self.ctx.settings.data_dir

    # ---- start and stop ------------------------------------------------------------------------

    async def start(self) -> None:
        import nats  # here, not at import: create_app stays lean (tests/test_lean_imports.py)

        async with self.ctx.db.session() as s:
            gb = await local_gb_id(s, self.settings.node_gb_id)
        self.identity = NodeIdentity.load(gb, self.data_dir)
        async with self.ctx.db.read_session() as s:
            path = await s.scalar(
                select(Region.path).join(Node, Node.region_id == Region.id).where(Node.gb_id == gb)
            )
        self.region_path = path or ""
        self.server = NatsServer(
            nats_binary(self.settings.nats_server_bin), self.data_dir / "nats", self._server_config
        )
        await self.server.start()
        password = secret_for(self.ctx.secret, "nats-local")
        self.nc = await nats.connect(
            f"nats://local:{password}@127.0.0.1:{self.settings.nats_port}",
            inbox_prefix=f"_X.{gb}".encode(),
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.2,
            name=f"xueliang-{gb}",
        )
        self.js = self.nc.jetstream()
        await self._ensure_stream()
        self._unsubscribe += [
            self.ctx.events.subscribe(AlarmChanged, self._on_alarm),
            self.ctx.events.subscribe(CameraChanged, self._on_camera),
            self.ctx.events.subscribe(CameraStatusChanged, self._on_camera_status),
            self.ctx.events.subscribe(MasksChanged, self._on_masks),
        ]
        await self.enqueue_regions()
        await self.enqueue_catalog()
        for name, coro in (
            ("relay", self._relay_loop()),
            ("consume", self._consume_loop()),
            ("anchor", self._anchor_loop()),
        ):
            self._tasks.append(asyncio.create_task(coro, name=f"xueliang-federation-{name}"))

    async def stop(self) -> None:
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self.nc is not None:
            with contextlib.suppress(Exception):
                await self.nc.close()
        if self.server is not None:
            await self.server.stop()
        self._write_status(force=True)

    async def _server_config(self) -> ServerConfig:
        peers = await self.peers(fresh=True)
        async with self.ctx.db.read_session() as s:
            keys = dict(
                (
                    await s.execute(
                        select(Node.gb_id, Node.public_key).where(Node.gb_id.in_([p.gb_id for p in peers]))
                    )
                ).all()
            )
        remote = load_leaf(self.data_dir)
        parent = next((p.gb_id for p in peers if p.role == "parent"), None)
        return ServerConfig(
            gb_id=self.me,
            store_dir=self.settings.store_dir or self.data_dir / "nats" / "jetstream",
            client_port=self.settings.nats_port,
            local_password=secret_for(self.ctx.secret, "nats-local"),
            leaf_host=self.settings.leaf_host,
            leaf_port=self.settings.leaf_port,
            children={
                p.gb_id: leaf_password(self.ctx.secret, p.gb_id, keys[p.gb_id] or "")
                for p in peers
                if p.role == "child"
            },
            parent=parent,
            remote=remote if parent else None,
        )

    async def _ensure_stream(self) -> None:
        from nats.errors import NoRespondersError
        from nats.errors import TimeoutError as NatsTimeoutError
        from nats.js.api import RetentionPolicy, StorageType, StreamConfig
        from nats.js.errors import BadRequestError, ServiceUnavailableError

        assert self.js is not None
        config = StreamConfig(
            name=STREAM,
            subjects=[f"xl.{self.me}.>"],
            retention=RetentionPolicy.WORK_QUEUE,
            storage=StorageType.FILE,
            duplicate_window=600.0,
        )
        # A server that has just started (or restarted for a new peer) may not answer JetStream's API
        # at once on a busy machine: no responders or a timeout is retried, anything else is real.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30.0
        while True:
            try:
                try:
                    await self.js.add_stream(config)
                except BadRequestError:  # exists with another setting: bring it to ours
                    await self.js.update_stream(config)
                return
            except (NoRespondersError, NatsTimeoutError, ServiceUnavailableError):
                if loop.time() > deadline:
                    raise
                log.info("JetStream not answering yet; asking again")
                await asyncio.sleep(0.2)

    # ---- peers -----------------------------------------------------------------------------------

    async def peers(self, fresh: bool = False) -> list[Peer]:
        """The enrolled, unrevoked parent and children of this node, read at most once per `PEERS_TTL_S`
        (every relay round and catalog event asked: two statements each, per camera in a catalog sync).
        A revocation takes effect at once where it matters: the inbox checks each batch's senders in the
        database, and the nats-server's configuration is made with `fresh` (the revoked child's leaf
        user gone); `kick` forgets the list."""
        if not fresh and self._peers is not None and time.monotonic() - self._peers[0] < PEERS_TTL_S:
            return self._peers[1]
        async with self.ctx.db.read_session() as s:
            local = await s.scalar(select(Node).where(Node.gb_id == self.me))
            if local is None:
                return []
            rows = (
                await s.execute(
                    select(Node, Region.path)
                    .join(Region, Region.id == Node.region_id)
                    .where(
                        Node.public_key.is_not(None), Node.revoked_at.is_(None), Node.enrolled_at.is_not(None)
                    )
                )
            ).all()
        out = []
        for node, path in rows:
            if node.id == local.parent_id:
                role = "parent"
            elif node.parent_id == local.id:
                role = "child"
            else:
                continue
            assert node.enrolled_at is not None
            out.append(Peer(node.id, node.gb_id, role, path, node.enrolled_at))
            self.states.setdefault(node.gb_id, PeerState(node.gb_id, role))
        self._peers = (time.monotonic(), out)
        return out

    async def kick(self) -> None:
        """The set of peers changed (enrolled or revoked): a new server configuration, the relay woken."""
        self._peers = None
        if self.server is not None:
            await self.server.restart()
        self._wake.set()

    # ---- outbox ----------------------------------------------------------------------------------

    async def _on_alarm(self, _event: AlarmChanged) -> None:
        self._wake.set()

    async def _on_camera(self, event: CameraChanged) -> None:
        await self.enqueue_cameras([event.camera_id], None)

    async def _on_camera_status(self, event: CameraStatusChanged) -> None:
        await self.enqueue_cameras([event.camera_id], event.status)

    def _known_status(self, camera_id: int) -> str | None:
        """The camera's last status seen here, or its engine's now (a status reached before this link
        started listening is not lost)."""
        if camera_id not in self._status:
            from xueliang.media.plane import MediaPlane  # the plane is optional here (media off)

            plane = self.ctx.services.get(MediaPlane)
            if plane is not None and plane.engine.has_camera(camera_id):
                status = plane.engine.health(camera_id).status.value
                if status in ("online", "offline"):
                    self._status[camera_id] = status
        return self._status.get(camera_id)

    async def _on_masks(self, event: MasksChanged) -> None:
        await self.enqueue_cameras([event.camera_id], None)

    async def enqueue_regions(self) -> None:
        """This node's region tree to the parent at each start (before the cameras placed in it)."""
        parent = next((p for p in await self.peers() if p.role == "parent"), None)
        if parent is None or not self.region_path:
            return
        async with self.ctx.db.session() as s:
            up = aliased(Region)
            rows = (
                await s.execute(
                    select(Region, up.code)
                    .outerjoin(up, up.id == Region.parent_id)
                    .where(Region.path.startswith(self.region_path))
                    .order_by(func.length(Region.path), Region.code)
                )
            ).all()
            for start in range(0, len(rows), REGIONS_PER_MESSAGE):  # in order: parents come first
                s.add(
                    OutboxMessage(
                        peer_id=parent.id,
                        kind="regions",
                        source="regions",
                        source_id=f"{time.time_ns()}:{start}",
                        body=apply.regions_body(
                            [(r, code) for r, code in rows[start : start + REGIONS_PER_MESSAGE]]
                        ),
                        created_at=self.ctx.clock.now(),
                    )
                )
            await s.commit()
        self._wake.set()

    async def enqueue_catalog(self) -> None:
        """Every camera to the parent at start: whatever a crash lost between a commit and its event
        is sent again (the parent's upsert makes repeats harmless)."""
        async with self.ctx.db.read_session() as s:
            ids = list((await s.scalars(select(Camera.id))).all())
        await self.enqueue_cameras(ids, None)

    async def enqueue_cameras(self, camera_ids: list[int], status: str | None) -> None:
        parent = next((p for p in await self.peers() if p.role == "parent"), None)
        if parent is None or not camera_ids:
            return
        now = self.ctx.clock.now()
        async with self.ctx.db.session() as s:
            rows = (
                await s.execute(
                    select(Camera, Region.code)
                    .join(Region, Region.id == Camera.region_id)
                    .where(
                        Camera.id.in_(camera_ids),
                        (Camera.host_node_id.is_(None)) | (Camera.host_node_id != parent.id),
                        Region.path.startswith(self.region_path),  # hosted here or below
                    )
                )
            ).all()
            masks = await mask_rows.camera_mask_rows(s, [cam.id for cam, _code in rows])
            bodies = []
            for cam, code in rows:
                self._reported[cam.id] = cam.gb_id
                if status is not None:
                    self._status[cam.id] = status
                body = apply.camera_body(
                    cam, code, self._known_status(cam.id), mask_rows.mask_rows_out(masks.get(cam.id, []))
                )
                bodies.append((cam.id, body))
            gone = set(camera_ids) - set(
                (await s.scalars(select(Camera.id).where(Camera.id.in_(camera_ids)))).all()
            )
            for camera_id in sorted(gone):
                gb = self._reported.pop(camera_id, None)
                if gb is not None:  # deleted here: the parent drops its copy
                    bodies.append((camera_id, {"deleted": True, "gb_id": gb, "remote_id": camera_id}))
            for camera_id, body in bodies:
                self._camera_seq += 1
                s.add(
                    OutboxMessage(
                        peer_id=parent.id,
                        kind="camera",
                        source="camera",
                        source_id=f"{camera_id}:{time.time_ns()}:{self._camera_seq}",
                        body=body,
                        created_at=now,
                    )
                )
            await s.commit()
        self._wake.set()

    async def _sweep_alarms(self, peers: list[Peer]) -> None:
        """Alarm events not yet in the outbox, for each peer they concern: the alarm's history is
        committed with the alarm, so this finds what an after-commit event could have missed. One scan
        for all peers (a county has hundreds of children: not a query per child and round), from the
        lowest cursor less a margin; each peer takes the events past its own cursor that concern it."""
        if not peers:
            return
        me = self.me
        async with self.ctx.db.session() as s:
            for peer in peers:
                if peer.id not in self._alarm_cursor:
                    last = await s.scalar(
                        select(OutboxMessage.source_id)
                        .where(OutboxMessage.peer_id == peer.id, OutboxMessage.source == "alarm_event")
                        .order_by(OutboxMessage.id.desc())
                        .limit(1)
                    )
                    self._alarm_cursor[peer.id] = int(last) if last else 0
            floor = max(min(self._alarm_cursor[p.id] for p in peers) - SWEEP_MARGIN, 0)
            head = await s.scalar(select(func.max(AlarmEvent.id)))  # before the scan: see below
            rows = (  # plain columns: most events of a catch-up concern no peer (they came from one)
                await s.execute(
                    select(AlarmEvent.id, AlarmEvent.actor, AlarmEvent.at, Alarm.region_path)
                    .join(Alarm, Alarm.id == AlarmEvent.alarm_id)
                    .where(
                        AlarmEvent.id > floor,
                        AlarmEvent.at >= min(p.enrolled_at for p in peers),
                        Alarm.kind != AlarmKind.link_down,  # each end raises its own
                    )
                    .order_by(AlarmEvent.id)
                    .limit(SWEEP_LIMIT)
                )
            ).all()
            # Scanned up to here: with fewer rows than the limit, every event up to `head` was seen,
            # so each cursor moves past the events that do not concern its peer (a catch-up of
            # thousands from one child made every sweep read them all again).
            scanned = (head or 0) if len(rows) < SWEEP_LIMIT else rows[-1][0]
            # A child takes the events in its subtree: found through the event's path, one look-up per
            # level (not a test per child and event: a county's storm from a thousand villages).
            children: dict[str, list[Peer]] = {}
            others: list[Peer] = []
            for peer in peers:
                (children.setdefault(peer.region_path, []) if peer.role == "child" else others).append(peer)
            start = {p.id: max(self._alarm_cursor[p.id] - SWEEP_MARGIN, 0) for p in peers}
            wanted: list[tuple[Peer, int]] = []
            for event_id, actor, at, region_path in rows:
                concerned = list(others)
                end = region_path.find("/")
                while end != -1:
                    concerned += children.get(region_path[: end + 1], ())
                    end = region_path.find("/", end + 1)
                wanted += [
                    (peer, event_id)
                    for peer in concerned
                    if event_id > start[peer.id] and at >= peer.enrolled_at and actor != f"node:{peer.gb_id}"
                ]
            for peer in peers:
                self._alarm_cursor[peer.id] = max(self._alarm_cursor[peer.id], scanned)
            if wanted:
                event_ids = {event_id for _p, event_id in wanted}
                have = set(
                    (
                        await s.execute(
                            select(OutboxMessage.peer_id, OutboxMessage.source_id).where(
                                OutboxMessage.source == "alarm_event",
                                OutboxMessage.source_id.in_([str(i) for i in event_ids]),
                            )
                        )
                    ).all()
                )
                full = {
                    ev.id: (ev, alarm, code)
                    for ev, alarm, code in (
                        await s.execute(
                            select(AlarmEvent, Alarm, Region.code)
                            .join(Alarm, Alarm.id == AlarmEvent.alarm_id)
                            .join(Region, Region.id == Alarm.region_id)
                            .where(AlarmEvent.id.in_(event_ids))
                        )
                    ).all()
                }
                now = self.ctx.clock.now()
                for peer, event_id in wanted:
                    if (peer.id, str(event_id)) in have or event_id not in full:
                        continue
                    ev, alarm, code = full[event_id]
                    s.add(
                        OutboxMessage(
                            peer_id=peer.id,
                            kind="alarm",
                            source="alarm_event",
                            source_id=str(ev.id),
                            body=apply.alarm_body(alarm, code, ev, me),
                            created_at=now,
                        )
                    )
            await s.commit()

    async def _sweep_notices(self, peers: list[Peer]) -> None:
        """Portal notices published here (or passed down to here) go down to each child they concern:
        aimed at the child's region, above it, or at a place inside it. Notices are few: the cursor is
        the newest one queued for that child, the region test is done here."""
        children = [p for p in peers if p.role == "child"]
        if not children:
            return
        async with self.ctx.db.session() as s:
            for peer in children:
                cursor = self._notice_cursor.get(peer.id)
                if cursor is None:
                    last = await s.scalar(
                        select(OutboxMessage.source_id)
                        .where(OutboxMessage.peer_id == peer.id, OutboxMessage.source == "notice")
                        .order_by(OutboxMessage.id.desc())
                        .limit(1)
                    )
                    cursor = int(last) if last else 0
                rows = (
                    await s.execute(
                        select(PortalNotice, Region.code)
                        .join(Region, Region.id == PortalNotice.region_id)
                        .where(PortalNotice.id > cursor, PortalNotice.published_at >= peer.enrolled_at)
                        .order_by(PortalNotice.id)
                        .limit(500)
                    )
                ).all()
                now = self.ctx.clock.now()
                for notice, code in rows:
                    concerns = notice.region_path.startswith(peer.region_path) or peer.region_path.startswith(
                        notice.region_path
                    )
                    if concerns and notice.withdrawn_at is None:
                        s.add(
                            OutboxMessage(
                                peer_id=peer.id,
                                kind="notice",
                                source="notice",
                                source_id=str(notice.id),
                                body=apply.notice_body(notice, code),
                                created_at=now,
                            )
                        )
                    cursor = notice.id
                self._notice_cursor[peer.id] = cursor
                await self._sweep_withdrawals(s, peer)
            await s.commit()

    async def _sweep_content(self, peers: list[Peer]) -> None:
        """County content (directory, services, jobs, prices) changed here goes down to every child, as
        notices do (federation/content.py): each kind from the newest row already queued for it."""
        children = [p for p in peers if p.role == "child"]
        if not children:
            return
        async with self.ctx.db.session() as s:
            for peer in children:
                for kind in content.KINDS:
                    key = (peer.id, kind)
                    if key not in self._content_cursor:
                        last = await s.scalar(
                            select(OutboxMessage.body)
                            .where(
                                OutboxMessage.peer_id == peer.id, OutboxMessage.source == f"content_{kind}"
                            )
                            .order_by(OutboxMessage.id.desc())
                            .limit(1)
                        )
                        until = (last or {}).get("until")
                        self._content_cursor[key] = datetime.fromisoformat(until) if until else None
                    rows, newest, sent = await content.changed(
                        s, kind, self._content_cursor[key], self._content_sent.get(key, set())
                    )
                    self._content_sent[key] = sent
                    if newest is None or not rows:
                        continue
                    self._content_cursor[key] = newest
                    for n, body in enumerate(content.batches(kind, rows, newest)):
                        s.add(
                            OutboxMessage(
                                peer_id=peer.id,
                                kind="content",
                                source=f"content_{kind}",
                                source_id=f"{time.time_ns()}:{n}",
                                body=body,
                                created_at=self.ctx.clock.now(),
                            )
                        )
            await s.commit()

    async def _sweep_withdrawals(self, s: AsyncSession, peer: Peer) -> None:
        """Notices withdrawn here in the last days (sent rows are kept a week) that the child has not
        been told of; the child finds its copy by region, publication time and title."""
        now = self.ctx.clock.now()
        found = (
            await s.execute(
                select(PortalNotice, Region.code)
                .join(Region, Region.id == PortalNotice.region_id)
                .where(
                    PortalNotice.withdrawn_at.is_not(None),
                    PortalNotice.withdrawn_at >= max(peer.enrolled_at, now - timedelta(days=6)),
                    PortalNotice.published_at >= peer.enrolled_at,
                )
            )
        ).all()
        rows = [
            (n, code)
            for n, code in found
            if n.region_path.startswith(peer.region_path) or peer.region_path.startswith(n.region_path)
        ]
        if not rows:
            return
        told = set(
            (
                await s.scalars(
                    select(OutboxMessage.source_id).where(
                        OutboxMessage.peer_id == peer.id,
                        OutboxMessage.source == "notice_withdrawn",
                        OutboxMessage.source_id.in_([str(n.id) for n, _c in rows]),
                    )
                )
            ).all()
        )
        for notice, code in rows:
            if str(notice.id) not in told:
                s.add(
                    OutboxMessage(
                        peer_id=peer.id,
                        kind="notice",
                        source="notice_withdrawn",
                        source_id=str(notice.id),
                        body={**apply.notice_body(notice, code), "withdrawn": True},
                        created_at=now,
                    )
                )

    async def _relay_loop(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.relay_interval_s)
            self._wake.clear()
            try:
                peers = await self.peers()
                await self._sweep_alarms(peers)
                if time.monotonic() - self._notices_at >= self.settings.relay_interval_s:
                    # Once per interval, not at every wake-up: alarms wake the relay for each batch,
                    # and these sweeps cost statements per child.
                    self._notices_at = time.monotonic()
                    await self._sweep_notices(peers)
                    await self._sweep_content(peers)
                waiting = await self._waiting()
                for peer in peers:
                    if peer.id in waiting:
                        while await self._send(peer) >= self.settings.relay_batch:
                            pass
                await self._ping_idle([p for p in peers if p.id not in waiting])
                await self.watch_links(peers)
            except Exception:
                log.exception("federation relay round failed")
            self._write_status()

    async def watch_links(self, peers: list[Peer]) -> None:
        """A link that has not worked for `link_down_after_s` raises a technical alarm here, at each
        end (each end sees its own sends fail). It is routed to the child's region at both ends, so the
        stations responsible for the village see it; it is never relayed (the other end raises its own)."""
        now = self.ctx.clock.now()
        for peer in peers:
            state = self.states[peer.gb_id]
            if state.connected_since is not None:
                self._last_ok.setdefault(peer.gb_id, now)
                self._alarmed.discard(peer.gb_id)
                continue
            since = self._last_ok.setdefault(peer.gb_id, now)
            down_for = (now - since).total_seconds()
            if down_for < self.settings.link_down_after_s or peer.gb_id in self._alarmed:
                continue
            try:
                await self._raise_link_down(peer, since, state.last_error)
            except Exception:
                log.exception("could not raise the link-down alarm of %s", peer.gb_id)
                continue
            self._alarmed.add(peer.gb_id)

    async def _raise_link_down(self, peer: Peer, since: datetime, error: str) -> None:
        child_path = peer.region_path if peer.role == "child" else self.region_path
        async with self.ctx.db.session() as s:
            region_id = await s.scalar(select(Region.id).where(Region.path == child_path))
            node_name = await s.scalar(select(Node.name).where(Node.gb_id == peer.gb_id))
            if region_id is None:
                return
            role = "上级" if peer.role == "parent" else "下级"
            press = Press(
                uuid=str(uuid.uuid4()),
                kind=AlarmKind.link_down,
                source="system",
                region_id=region_id,
                note=f"与{role}节点 {node_name or peer.gb_id} 的链路中断 / link to {peer.role} node down"[
                    :1000
                ],
                sender_key=f"link:{peer.gb_id}:down",
                detail={
                    "peer": peer.gb_id,
                    "role": peer.role,
                    "down_since": since.isoformat(),
                    "reason": error[:200],
                },
            )
            result = await intake(s, press, SYSTEM, self.ctx.clock.now())
            if result.event:
                await publish_alarm(self.ctx, s, result.alarm, [result.event])

    async def _send(self, peer: Peer) -> int:
        """Send the peer's oldest unsent rows in order; stop at the first that is not acknowledged. A
        link that is down is tried with its oldest row only (not a window signed again at each round);
        once that goes through, the relay goes on at once with full windows."""
        assert self.js is not None and self.identity is not None
        state = self.states[peer.gb_id]
        down = state.connected_since is None
        async with self.ctx.db.read_session() as s:
            rows = (
                await s.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.peer_id == peer.id, OutboxMessage.sent_at.is_(None))
                    .order_by(OutboxMessage.id)
                    .limit(1 if down else self.settings.relay_batch)
                )
            ).all()
        sent: list[int] = []
        try:
            # A window of publishes in flight, in id order on one connection; what counts as sent is
            # the acknowledged prefix, so a failure re-sends from the first unacknowledged row (the
            # ids make the re-sent ones that did arrive duplicates, which JetStream drops).
            futures = []
            for row in rows:
                env = Envelope(
                    f"{self.me}-{row.id}", self.me, peer.gb_id, row.kind, self.ctx.clock.now(), row.body
                )
                data, headers = seal(self.identity, env)
                fut = await self.js.publish_async(
                    subject(peer.gb_id, self.me, row.kind), data, headers=headers, wait_stall=5.0
                )
                futures.append((row.id, fut))
            if futures:  # one wait for the window (a wait_for per publish made a task each)
                await asyncio.wait([fut for _id, fut in futures], timeout=5.0)
            failure: BaseException | None = None
            for row_id, fut in futures:
                if not fut.done():
                    fut.cancel()
                    failure = failure or TimeoutError("no acknowledgement from the stream")
                elif fut.exception() is not None:  # retrieved, so never logged as unretrieved
                    failure = failure or fut.exception()
                elif failure is None:
                    sent.append(row_id)
            if failure is not None:
                raise failure
        except Exception as exc:
            state.last_error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            state.connected_since = None
            if not sent:
                await self._ping(peer)
        finally:
            if sent:
                now = self.ctx.clock.now()
                async with self.ctx.db.session() as s:
                    await s.execute(
                        update(OutboxMessage).where(OutboxMessage.id.in_(sent)).values(sent_at=now)
                    )
                    await s.commit()
                state.sent += len(sent)
                state.last_sent_at = now
                if state.connected_since is None and len(sent) == len(rows):
                    state.connected_since = now
                    state.last_error = ""
                    self._wake.set()  # the probe went through: the rest follows without waiting
        if sent:
            self._worked(peer.gb_id)
        return len(sent) if len(sent) == len(rows) else 0

    def _worked(self, gb: str) -> None:
        """The link to `gb` worked just now (a send or heartbeat acknowledged, a message received): the
        link-down watch counts an outage from here, whenever the failure is noticed."""
        self._confirmed[gb] = time.monotonic()
        self._last_ok[gb] = self.ctx.clock.now()

    async def _waiting(self) -> set[int]:
        """The peers with unsent rows, in one statement (not one per peer and round: a county has
        hundreds of children, most of them idle)."""
        async with self.ctx.db.read_session() as s:
            return set(
                (
                    await s.scalars(
                        select(OutboxMessage.peer_id).where(OutboxMessage.sent_at.is_(None)).distinct()
                    )
                ).all()
            )

    async def _ping_idle(self, idle: list[Peer]) -> None:
        """Idle links are checked with a heartbeat every sixth of `link_down_after_s` (a message received
        from the peer counts as one), working or not: a county's hundreds of children, some of them
        offline, are not pinged every second. A link with rows to send is tried at every round anyway.
        All at once, so a black-holed link's timeout does not hold up the others."""
        every = max(self.settings.relay_interval_s, self.settings.link_down_after_s / 6)
        now = time.monotonic()
        due = [
            p
            for p in idle
            if now - max(self._confirmed.get(p.gb_id, 0.0), self._pinged.get(p.gb_id, 0.0)) >= every
        ]
        for p in due:
            self._pinged[p.gb_id] = now
        if due:
            await asyncio.gather(*(self._ping(p) for p in due))

    async def _ping(self, peer: Peer) -> None:
        """An idle link is checked with a heartbeat (not kept: its id is fresh, the peer drops it)."""
        assert self.js is not None and self.identity is not None
        state = self.states[peer.gb_id]
        env = Envelope(
            f"{self.me}-ping-{time.time_ns()}", self.me, peer.gb_id, "ping", self.ctx.clock.now(), {}
        )
        data, headers = seal(self.identity, env)
        try:
            await self.js.publish(subject(peer.gb_id, self.me, "ping"), data, headers=headers, timeout=2.0)
        except Exception as exc:
            state.connected_since = None
            state.last_error = (
                f"{type(exc).__name__}: {exc}" if str(exc) else f"{type(exc).__name__}: no answer"
            )
            return
        self._worked(peer.gb_id)
        if state.connected_since is None:
            state.connected_since = self.ctx.clock.now()
            state.last_error = ""

    # ---- inbox -----------------------------------------------------------------------------------

    async def _consume_loop(self) -> None:
        assert self.js is not None
        sub = None
        while True:
            try:
                if sub is None:
                    sub = await self.js.pull_subscribe(f"xl.{self.me}.>", durable="apply", stream=STREAM)
                try:
                    msgs = await sub.fetch(INBOX_BATCH, timeout=1.0)
                except TimeoutError:
                    continue
                # A message that failed (a busy database) is tried again here, before anything after
                # it: a nak would let the next fetch apply later messages first, out of order.
                pending = list(msgs)
                for attempt in range(RETRIES_IN_PLACE):
                    outcomes = await self.receive_batch(
                        [(msg.subject, msg.data, dict(msg.headers or {})) for msg in pending]
                    )
                    failed = next(
                        (i for i, o in enumerate(outcomes) if o.startswith("failed:")), len(pending)
                    )
                    for msg in pending[:failed]:
                        await msg.ack()
                    pending = pending[failed:]
                    if not pending:
                        break
                    await asyncio.sleep(0.2 * (attempt + 1))
                for msg in pending:
                    await msg.nak(delay=1.0)  # not applied: JetStream delivers it again
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("federation consumer: %s", exc)
                sub = None
                await asyncio.sleep(0.5)

    async def receive(self, subj: str, data: bytes, headers: dict[str, str]) -> str:
        """Check and apply one message; returns the outcome (refusals are recorded, never raised)."""
        return (await self.receive_batch([(subj, data, headers)]))[0]

    async def receive_batch(self, items: list[tuple[str, bytes, dict[str, str]]]) -> list[str]:
        """Check and apply a fetched batch in one transaction: the senders read once, the batch's new
        alarms opened through the alarms domain's group-commit work, every other change and every
        inbox row in the same commit (one fsync for the batch). Each outcome is "refused: ..."
        (acknowledged, nothing applied), "failed: ..." (to be delivered again) or what was done. A
        batch that fails is taken again one message at a time, each on the plain path."""
        now = self.ctx.clock.now()
        outcomes = [""] * len(items)
        pushes: list[tuple[int, str]] = []
        statuses: list[tuple[int, str, str]] = []
        notices: list[str] = []  # region paths of notices passed down: this node's TVs are nudged
        counted: list[PeerState] = []
        results: list[IntakeResult] = []
        try:
            async with self.ctx.db.session() as s:
                checked = await self._checked(s, items, now, outcomes)
                ids = [env.id[:80] for _i, env, _p in checked if env.kind != "ping"]
                seen = set(
                    (await s.scalars(select(InboxMessage.msg_id).where(InboxMessage.msg_id.in_(ids)))).all()
                    if ids
                    else ()
                )
                if len(items) > 1:  # new alarms first, together; their later changes follow below
                    results = await self._open_alarms(s, checked, seen, now)
                opened = {r.alarm.uuid for r in results if r.created}
                rows: list[dict[str, Any]] = []
                for i, env, peer in checked:
                    state = self.states.setdefault(peer.gb_id, PeerState(peer.gb_id, "peer"))
                    peer.last_seen_at = now
                    state.last_received_at = now
                    self._worked(peer.gb_id)
                    msg_id = env.id[:80]
                    if env.kind == "ping":
                        outcomes[i] = "ping"
                        continue
                    if msg_id in seen:
                        reason = f"message {env.id} from {env.sender} was applied before (replayed)"
                        self._refused(peer.gb_id, reason)
                        outcomes[i] = f"refused: {reason}"
                        continue
                    seen.add(msg_id)
                    try:
                        outcome = await self._apply(s, peer, env, now, pushes, statuses, opened, notices)
                    except Refused as exc:  # raised before anything was written
                        self._refused(peer.gb_id, str(exc))
                        outcomes[i] = f"refused: {exc}"
                        continue
                    rows.append(
                        {
                            "msg_id": msg_id,
                            "peer_id": peer.id,
                            "kind": env.kind[:32],
                            "applied_at": now,
                            "outcome": outcome[:200],
                        }
                    )
                    outcomes[i] = outcome
                    counted.append(state)
                if rows:
                    await s.execute(insert(InboxMessage), rows)
                await s.commit()
        except Exception as exc:
            if len(items) > 1:
                log.warning("federation batch of %d failed (%s); one at a time", len(items), exc)
                out: list[str] = []
                for item in items:  # in order; nothing after a failure is applied (it is tried again)
                    if out and out[-1].startswith("failed:"):
                        out.append("failed: after an earlier message of its batch")
                    else:
                        out.append(await self.receive(*item))
                return out
            log.exception("federation message on %s failed", items[0][0])
            return [f"failed: {type(exc).__name__}: {exc}"]
        for state in counted:
            state.received += 1
        await announce(self.ctx, results)  # the new alarms to the consoles, then the other changes
        if pushes:
            async with self.ctx.db.read_session() as reader:
                for alarm_id, event in pushes:
                    alarm = await reader.get(Alarm, alarm_id)
                    if alarm is not None:
                        await publish_alarm(self.ctx, reader, alarm, [event])
                        if event in ("mobilized", "stood_down"):  # each guard's phone is told
                            await self._push_tasks(reader, alarm, event)
        if notices:
            hub = self.ctx.services.get(Hub)
            for path in notices:
                if hub is not None:
                    await hub.publish(notice_event(path))
            self._wake.set()  # and further down, to this node's own children
        for camera_id, status, sender in statuses:
            reported = CameraStatusChanged(camera_id, status, f"node {sender}", reported=True)
            await self.ctx.events.emit(reported)
        return outcomes

    async def _checked(
        self,
        s: AsyncSession,
        items: list[tuple[str, bytes, dict[str, str]]],
        now: datetime,
        outcomes: list[str],
    ) -> list[tuple[int, Envelope, Node]]:
        """The batch's messages that are signed by an enrolled, unrevoked peer through its own subject
        (its senders read in one statement, from the database: a revocation by the CLI counts at once);
        the others are refused in `outcomes`."""
        parsed: list[tuple[int, str, Envelope | Refused]] = []
        for i, (subj, data, _headers) in enumerate(items):
            parts = subj.split(".")
            try:
                parsed.append((i, parts[2] if len(parts) >= 4 else "", parse(data)))
            except Refused as exc:
                parsed.append((i, parts[2] if len(parts) >= 4 else "", exc))
        senders = {env.sender for _i, _s, env in parsed if isinstance(env, Envelope)}
        peers = await peers_by_key(s, senders) if senders else {}
        checked: list[tuple[int, Envelope, Node]] = []
        for i, sender, env in parsed:
            try:
                if isinstance(env, Refused):
                    raise env
                peer = peers.get(env.sender)
                check(
                    env,
                    items[i][1],
                    items[i][2],
                    me=self.me,
                    subject_sender=sender,
                    public_key_hex=peer.public_key if peer else None,
                    now=now,
                    max_skew=timedelta(seconds=self.settings.max_skew_s),
                )
                assert peer is not None
                checked.append((i, env, peer))
            except Refused as exc:
                self._refused(sender, str(exc))
                outcomes[i] = f"refused: {exc}"
        return checked

    async def _open_alarms(
        self, s: AsyncSession, checked: list[tuple[int, Envelope, Node]], seen: set[str], now: datetime
    ) -> list[IntakeResult]:
        """The batch's alarms not known here, opened in this transaction by the alarms domain's batch
        work (routing, cameras, escalation timers, one audit link for the lot); two statements find
        them, none per message."""
        fresh = [
            (env, peer)
            for _i, env, peer in checked
            if env.kind == "alarm" and env.id[:80] not in seen and isinstance(env.body.get("uuid"), str)
        ]
        if not fresh:
            return []
        uuids = {str(env.body["uuid"]) for env, _p in fresh}
        codes = {str(env.body.get("region_code")) for env, _p in fresh}
        known = set((await s.scalars(select(Alarm.uuid).where(Alarm.uuid.in_(uuids)))).all())
        region_ids = dict(
            (await s.execute(select(Region.code, Region.id).where(Region.code.in_(codes)))).all()
        )
        presses: dict[str, tuple[Press, Actor]] = {}
        for env, peer in fresh:
            uid = str(env.body["uuid"])
            if uid in known or uid in presses:
                continue
            try:
                press = apply.press_from(peer, env, region_ids.get(str(env.body.get("region_code"))))
            except (ValueError, KeyError, TypeError):
                press = None  # refused below, when the message is applied
            if press is not None:
                presses[uid] = (press, apply.node_actor(peer.gb_id))
        if not presses:
            return []
        return await store_presses(s, list(presses.values()), now)

    async def _push_tasks(self, reader: AsyncSession, alarm: Alarm, event: str) -> None:
        mob = await reader.scalar(select(Mobilization).where(Mobilization.alarm_id == alarm.id))
        hub = self.ctx.services.get(Hub)
        if mob is None or hub is None:
            return
        tasks = (
            await reader.scalars(select(MobilizationTask).where(MobilizationTask.mobilization_id == mob.id))
        ).all()
        for task in tasks:
            out = await mobilization.task_out(reader, task)
            await hub.publish(
                task_event(out, alarm.region_path, "assigned" if event == "mobilized" else "closed")
            )

    async def _apply(
        self,
        s: AsyncSession,
        peer: Node,
        env: Envelope,
        now: datetime,
        pushes: list[tuple[int, str]],
        statuses: list[tuple[int, str, str]],
        opened: set[str],
        notices: list[str],
    ) -> str:
        try:
            return await self._apply_kind(s, peer, env, now, pushes, statuses, opened, notices)
        except (ValueError, KeyError, TypeError) as exc:  # a body we cannot read: never "retry later"
            raise Refused(f"message {env.id} from {env.sender}: malformed {env.kind} body ({exc})") from None

    async def _apply_kind(
        self,
        s: AsyncSession,
        peer: Node,
        env: Envelope,
        now: datetime,
        pushes: list[tuple[int, str]],
        statuses: list[tuple[int, str, str]],
        opened: set[str],
        notices: list[str],
    ) -> str:
        if env.kind == "alarm":
            if (env.body.get("event") or {}).get("action") == "raised" and env.body.get("uuid") in opened:
                opened.discard(env.body["uuid"])
                return "opened"  # by the group commit above, consoles pushed there
            state = self.states.get(peer.gb_id)
            from_parent = state is not None and state.role == "parent"
            outcome, more = await apply.apply_alarm(self.ctx, s, peer, env, now, from_parent)
            pushes += more
            return outcome
        if env.kind == "camera":
            outcome, status = await apply.apply_camera(self.ctx, s, peer, env, now)
            if status is not None:
                statuses.append((status[0], status[1], peer.gb_id))
            return outcome
        if env.kind == "anchor":
            return await apply.apply_anchor(s, peer, env, now)
        if env.kind == "regions":
            return await apply.apply_regions(s, peer, env)
        if env.kind == "content":  # county content down (directory, services, jobs, prices)
            return await content.apply_content(s, peer, env, now, self.ctx.services.get(Hub))
        if env.kind == "notice":
            outcome, path = await apply.apply_notice(s, peer, env, now)
            if path is not None:
                notices.append(path)
            return outcome
        raise Refused(f"unknown message kind {env.kind!r}")

    def _refused(self, sender: str, reason: str) -> None:
        log.warning("federation: refused: %s", reason)
        state = self.states.get(sender)
        if state is None:
            self.refused_unknown += 1
        else:
            state.refused += 1
            state.last_error = reason
        self.last_refusal = reason

    # ---- audit anchor ----------------------------------------------------------------------------

    async def _anchor_loop(self) -> None:
        last: tuple[int, str] | None = None
        while True:
            try:
                last = await self.anchor_once(last)
                await self.prune()
            except Exception:
                log.exception("audit anchor failed")
            await asyncio.sleep(self.settings.anchor_interval_s)

    async def prune(self) -> None:
        """Sent outbox rows older than a week go, but for each peer's newest alarm row and content row of
        each kind (where the sweeps resume); inbox rows go once older than the clock window, past which a
        replay is refused anyway."""
        now = self.ctx.clock.now()
        async with self.ctx.db.session() as s:
            resumes = ["alarm_event", *(f"content_{kind}" for kind in content.KINDS)]  # sweeps' cursors
            keep = (
                select(func.max(OutboxMessage.id))
                .where(OutboxMessage.source.in_(resumes))
                .group_by(OutboxMessage.peer_id, OutboxMessage.source)
            )
            await s.execute(
                delete(OutboxMessage).where(
                    OutboxMessage.sent_at < now - timedelta(days=7), OutboxMessage.id.not_in(keep)
                )
            )
            horizon = now - timedelta(seconds=self.settings.max_skew_s) - timedelta(days=1)
            await s.execute(delete(InboxMessage).where(InboxMessage.applied_at < horizon))
            await s.commit()

    async def anchor_once(self, last: tuple[int, str] | None = None) -> tuple[int, str] | None:
        """Queue the audit chain's head for the parent, if it moved."""
        parent = next((p for p in await self.peers() if p.role == "parent"), None)
        if parent is None:
            return last
        async with self.ctx.db.session() as s:
            head = await apply.audit_head(s)
            if head is None or head == last:
                return last
            exists = await s.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    OutboxMessage.peer_id == parent.id,
                    OutboxMessage.source == "anchor",
                    OutboxMessage.source_id == str(head[0]),
                )
            )
            if not exists:
                s.add(
                    OutboxMessage(
                        peer_id=parent.id,
                        kind="anchor",
                        source="anchor",
                        source_id=str(head[0]),
                        body={"seq": head[0], "hash": head[1], "at": self.ctx.clock.now().isoformat()},
                        created_at=self.ctx.clock.now(),
                    )
                )
                await s.commit()
        self._wake.set()
        return head

    # ---- status ----------------------------------------------------------------------------------

    def _write_status(self, force: bool = False) -> None:
        """At most once per relay interval (a busy link wakes the relay for every batch), and at stop."""
        if not force and time.monotonic() - self._status_at < self.settings.relay_interval_s:
            return
        self._status_at = time.monotonic()
        path = status_file(self.data_dir)
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({gb: st.as_dict() for gb, st in self.states.items()}))
            tmp.replace(path)


async def link_status(session: AsyncSession, me: str, data_dir: Path, now: datetime) -> list[dict[str, Any]]:
    """Each link of this node: connected since, lag (the oldest unsent row's age), queue length, last
    error. Read from the database and the running node's status file, so the CLI sees it too."""
    try:
        live: dict[str, dict[str, Any]] = json.loads(status_file(data_dir).read_text())
    except (OSError, ValueError):
        live = {}
    local = await session.scalar(select(Node).where(Node.gb_id == me))
    if local is None:
        return []
    nodes = (
        await session.scalars(
            select(Node)
            .where(Node.public_key.is_not(None), Node.enrolled_at.is_not(None))
            .order_by(Node.gb_id)
        )
    ).all()
    out: list[dict[str, Any]] = []
    for node in nodes:
        if node.id != local.parent_id and node.parent_id != local.id:
            continue
        queue, oldest = (
            await session.execute(
                select(func.count(), func.min(OutboxMessage.created_at)).where(
                    OutboxMessage.peer_id == node.id, OutboxMessage.sent_at.is_(None)
                )
            )
        ).one()
        state = live.get(node.gb_id, {})
        out.append(
            {
                "gb_id": node.gb_id,
                "name": node.name,
                "role": "parent" if node.id == local.parent_id else "child",
                "revoked": node.revoked_at is not None,
                "connected_since": state.get("connected_since"),
                "last_seen_at": node.last_seen_at.isoformat() if node.last_seen_at else None,
                "queue": int(queue),
                "lag_s": round((now - oldest).total_seconds(), 3) if oldest is not None else 0.0,
                "last_error": state.get("last_error", ""),
                "sent": state.get("sent", 0),
                "received": state.get("received", 0),
                "refused": state.get("refused", 0),
            }
        )
    return out
