"""The child's side of video through the parent: it dials out, checks, audits, and pushes frames.

`VideoUplink` keeps one control WebSocket open to the parent (reconnecting with backoff), proves this
node's key and checks the parent's proof against the parent's `nodes` row. Over it the parent asks for
a camera by this node's id; the child answers only for a camera inside the parent node's region
(never more: a key of another node, or a parent asking outside its subtree, gets a refusal with the
reason), audits the stream as done by that node, then opens a data WebSocket of its own to the parent
and sends the camera's channel as it already is (wire.py). A viewer on its channel like any other, so
the camera is pulled once here however many parents' viewers, and a camera this node itself relays
from its own child (`node://`) is asked of that child on demand: two hops chain without more code.

Each live session of the parent's users on the camera is told to us (`viewer`) and audited as
"node X for its user Y" (`live.relay.start`/`live.relay.end`)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import websockets
from sqlalchemy import select
from websockets.asyncio.client import ClientConnection

from xueliang.audit import service as audit
from xueliang.audit.service import Actor
from xueliang.cameras.models import Camera
from xueliang.cameras.remote import RemoteCameras
from xueliang.core.context import AppContext
from xueliang.core.errors import AppError
from xueliang.federation import identity
from xueliang.federation.video import edits, handshake, wire
from xueliang.federation.video import playback as recorded
from xueliang.federation.video.parent import VideoLinks
from xueliang.media.channel import Fragment, Gap, InitSegment, StatusNote, ViewerClosed
from xueliang.media.engine import UnknownCamera
from xueliang.media.plane import MediaPlane
from xueliang.nodes.models import Node
from xueliang.recordings.remote import RemoteRecordings
from xueliang.regions.models import Region

log = logging.getLogger(__name__)

BACKOFF = (1.0, 2.0, 5.0, 10.0)
MAX_MESSAGE = 64 * 1024  # control messages are small JSON


@dataclass(frozen=True, slots=True)
class Parent:
    gb_id: str
    base_url: str


@dataclass(eq=False)
class Uplink:
    """One stream this node sends to its parent."""

    stream_id: str
    camera_id: int
    task: asyncio.Task[None] | None = None
    frames: int = 0


@dataclass
class UplinkState:
    connected: bool = False
    parent: str = ""
    last_error: str = ""
    streams: dict[str, Uplink] = field(default_factory=dict)
    opened: int = 0  # streams started since start (tests count them; one per camera per link)
    refused: int = 0


class VideoUplink:
    """The child's dial-out control link and its streams; `start()`/`stop()` with the app."""

    def __init__(
        self,
        ctx: AppContext,
        plane: MediaPlane,
        node_gb_id: str = "",
        parent_url: str = "",
        links: VideoLinks | None = None,
    ) -> None:
        self.ctx = ctx
        self.links = links  # this node's own children: a viewer of a camera relayed from one is told on
        self.plane = plane
        self.configured_gb_id = node_gb_id
        self.parent_url = parent_url
        self.state = UplinkState()
        self._task: asyncio.Task[None] | None = None
        self._identity: identity.NodeIdentity | None = None
        self._send_lock = asyncio.Lock()
        self._requests: set[asyncio.Task[None]] = set()
        self.connected = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="video-uplink")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._end_streams()

    # -- the control link ----------------------------------------------------------------------------

    async def _parent(self) -> Parent | None:
        async with self.ctx.db.read_session() as session:
            gb_id = await identity.local_gb_id(session, self.configured_gb_id)
            me = await session.scalar(select(Node).where(Node.gb_id == gb_id))
            parent = await session.get(Node, me.parent_id) if me is not None and me.parent_id else None
        if self._identity is None:
            self._identity = await asyncio.to_thread(
                identity.NodeIdentity.load, gb_id, self.ctx.settings.data_dir
            )
        url = self.parent_url or (parent.base_url if parent is not None else None)
        if parent is None or not url:
            return None
        return Parent(parent.gb_id, url)

    async def _run(self) -> None:
        failures = 0
        while True:
            try:
                parent = await self._parent()
                if parent is None:
                    self.state.last_error = "no parent with a URL"
                else:
                    await self._connect(parent)
                    failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # refused, unreachable, dropped: try again after a while
                self.state.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("video link to the parent: %s", self.state.last_error)
            finally:
                self.state.connected = False
                self.connected.clear()
                await self._end_streams()
            await asyncio.sleep(BACKOFF[min(failures, len(BACKOFF) - 1)])
            failures += 1

    async def _connect(self, parent: Parent) -> None:
        me = self._identity
        assert me is not None
        url = handshake.ws_url(parent.base_url, handshake.LINK_PATH)
        async with websockets.connect(url, max_size=MAX_MESSAGE, open_timeout=10) as ws:
            challenge = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if challenge.get("node") != parent.gb_id:
                raise ConnectionError(f"the parent answered as {challenge.get('node')!r}, not {parent.gb_id}")
            nonce = handshake.new_nonce()
            proof = me.sign(handshake.child_proof(str(challenge["nonce"]), parent.gb_id, me.gb_id)).hex()
            await ws.send(json.dumps({"type": "hello", "node": me.gb_id, "nonce": nonce, "sig": proof}))
            welcome = json.loads(await asyncio.wait_for(ws.recv(), 10))
            async with self.ctx.db.read_session() as session:
                peer = await identity.peer_by_key(session, parent.gb_id)
            signature = bytes.fromhex(str(welcome.get("sig", "")))
            if (
                peer is None
                or peer.public_key is None
                or not identity.verify(
                    peer.public_key, handshake.parent_proof(nonce, me.gb_id, parent.gb_id), signature
                )
            ):
                raise ConnectionError(f"the parent {parent.gb_id} did not prove its key")
            self.state.connected, self.state.parent, self.state.last_error = True, parent.gb_id, ""
            self.connected.set()
            log.info("video link to the parent %s up", parent.gb_id)
            async for raw in ws:
                try:
                    await self._handle(ws, parent, json.loads(raw))
                except Exception:  # one bad message (or a failed audit write) does not drop the link
                    log.exception("video link to the parent %s: message not handled", parent.gb_id)

    async def _handle(self, ws: ClientConnection, parent: Parent, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "open":
            self._open(ws, parent, str(message["stream"]), int(message["camera"]))
        elif kind == "close":
            uplink = self.state.streams.pop(str(message.get("stream", "")), None)
            if uplink is not None and uplink.task is not None:
                uplink.task.cancel()
        elif kind == "viewer":
            await self._audit_viewer(parent.gb_id, message)
        elif kind == "request":  # recordings through the parent (playback.py)
            task = asyncio.create_task(self._answer(ws, parent, message))
            self._requests.add(task)
            task.add_done_callback(self._requests.discard)

    async def _answer(self, ws: ClientConnection, parent: Parent, message: dict[str, Any]) -> None:
        request_id = int(message.get("id", 0))
        try:
            if message.get("op") in edits.OPS:  # an edit of one of our cameras made at the parent
                owner = self.ctx.services.get(RemoteCameras)
                await edits.answer(
                    self.ctx, parent.gb_id, message, owner if isinstance(owner, edits.ChildCameras) else None
                )
                result: Any = None
            else:
                below = self.ctx.services.get(RemoteRecordings)
                result = await recorded.answer(
                    self.ctx,
                    parent.gb_id,
                    message,
                    below if isinstance(below, recorded.ChildRecordings) else None,
                )
        except AppError as exc:
            await self._send(ws, {"type": "reply", "id": request_id, "error": exc.message})
            return
        except (KeyError, TypeError, ValueError) as exc:
            await self._send(ws, {"type": "reply", "id": request_id, "error": f"bad request: {exc}"})
            return
        if isinstance(result, bytes):
            async with self._send_lock:
                with contextlib.suppress(websockets.ConnectionClosed):
                    for piece in wire.pieces(b"R" + request_id.to_bytes(8, "big") + result):
                        await ws.send(piece)
        else:
            await self._send(ws, {"type": "reply", "id": request_id, "body": result})

    async def _send(self, ws: ClientConnection, message: dict[str, Any]) -> None:
        async with self._send_lock:
            with contextlib.suppress(websockets.ConnectionClosed):
                await ws.send(json.dumps(message))

    async def _end_streams(self) -> None:
        streams = list(self.state.streams.values())
        self.state.streams.clear()
        tasks = [u.task for u in streams if u.task is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # -- one stream ----------------------------------------------------------------------------------

    def _open(self, ws: ClientConnection, parent: Parent, stream_id: str, camera_id: int) -> None:
        uplink = Uplink(stream_id, camera_id)
        self.state.streams[stream_id] = uplink
        uplink.task = asyncio.create_task(self._stream(ws, parent, uplink), name=f"video-uplink-{stream_id}")

    async def check(self, parent_gb: str, camera_id: int) -> str | None:
        """Why the parent may not have this camera (None: it may): the camera must be this node's
        and inside the region of the parent node's row, enrolled and not revoked."""
        async with self.ctx.db.read_session() as session:
            peer = await identity.peer_by_key(session, parent_gb)
            camera = await session.get(Camera, camera_id)
            if peer is None:
                return "unknown or revoked node"
            if camera is None or not camera.enabled:
                return "no such camera"
            paths = dict(
                (
                    await session.execute(
                        select(Region.id, Region.path).where(
                            Region.id.in_((peer.region_id, camera.region_id))
                        )
                    )
                ).all()
            )
        if not paths.get(camera.region_id, "").startswith(paths.get(peer.region_id, "\0")):
            return "camera outside the node's subtree"
        if not self.plane.engine.has_camera(camera_id):
            return "camera not pulled here"
        return None

    async def _stream(self, ws: ClientConnection, parent: Parent, uplink: Uplink) -> None:
        reason = await self.check(parent.gb_id, uplink.camera_id)
        await self._audit(
            parent.gb_id,
            "live.relay.refused" if reason else "live.relay.open",
            uplink.camera_id,
            {"stream": uplink.stream_id, **({"reason": reason} if reason else {})},
        )
        if reason is not None:
            self.state.refused += 1
            self.state.streams.pop(uplink.stream_id, None)
            await self._send(ws, {"type": "refused", "stream": uplink.stream_id, "reason": reason})
            return
        self.state.opened += 1
        me = self._identity
        assert me is not None
        try:
            viewer = self.plane.engine.channel(uplink.camera_id).open_viewer()
        except (UnknownCamera, ViewerClosed) as exc:
            await self._send(
                ws, {"type": "refused", "stream": uplink.stream_id, "reason": f"no channel: {exc}"}
            )
            return
        url = handshake.ws_url(parent.base_url, handshake.STREAM_PATH)
        end = "stream ended"
        try:
            async with websockets.connect(
                url, open_timeout=10, max_size=MAX_MESSAGE, compression=None
            ) as data:
                proof = me.sign(handshake.stream_proof(uplink.stream_id, me.gb_id, parent.gb_id)).hex()
                await data.send(json.dumps({"stream": uplink.stream_id, "node": me.gb_id, "sig": proof}))
                closed = asyncio.create_task(data.wait_closed())
                try:
                    await self._pump(viewer, data, uplink, closed)
                finally:
                    closed.cancel()
        except (OSError, websockets.WebSocketException, ViewerClosed) as exc:
            end = f"{type(exc).__name__}: {exc}"
        finally:
            viewer.close("relay ended")
            self.state.streams.pop(uplink.stream_id, None)
            with contextlib.suppress(Exception):
                await self._audit(
                    parent.gb_id,
                    "live.relay.close",
                    uplink.camera_id,
                    {"stream": uplink.stream_id, "frames": uplink.frames, "reason": end},
                )

    async def _pump(
        self, viewer: Any, data: ClientConnection, uplink: Uplink, closed: asyncio.Task[None]
    ) -> None:
        params_sent: object = None
        while not closed.done():
            item = await viewer.next()
            kind = type(item)
            if kind is Fragment:
                for piece in wire.pieces(wire.encode_fragment(item)):
                    await data.send(piece)
                uplink.frames += 1
            elif kind is InitSegment:
                if item.params is not params_sent:
                    await data.send(wire.encode_params(item.params))
                    params_sent = item.params
            elif kind is StatusNote and not item.online:
                await data.send(wire.encode_status(item.reason))
                return
            elif kind is Gap:
                continue

    # -- audit ---------------------------------------------------------------------------------------

    async def _audit(
        self, parent_gb: str, action: str, camera_id: int, detail: dict[str, Any], user: str = ""
    ) -> None:
        name = f"node {parent_gb}" + (f" for {user}" if user else "")
        async with self.ctx.db.session() as session:
            await audit.append(
                session,
                Actor(None, name[:100]),
                action,
                at=self.ctx.clock.now(),
                target_type="camera",
                target_id=camera_id,
                detail={"node": parent_gb, **({"user": user} if user else {}), **detail},
            )
            await session.commit()

    async def _audit_viewer(self, parent_gb: str, message: dict[str, Any]) -> None:
        """A user of the parent started or ended watching one of our cameras through it."""
        try:
            camera_id = int(message["camera"])
            user = str(message.get("user", ""))[:64]
            started = message.get("action") == "live.start"
        except (KeyError, TypeError, ValueError):
            return
        if await self.check(parent_gb, camera_id) is not None:
            return  # not ours to tell about
        detail = {"session": str(message.get("session", ""))[:64], "kind": str(message.get("kind", ""))[:8]}
        action = "live.relay.start" if started else "live.relay.end"
        await self._audit(parent_gb, action, camera_id, detail, user=user)
        if self.links is not None:  # two hops: our child hears of the grandparent's user too
            await self.links.tell_viewer(
                camera_id,
                str(message.get("action")),
                f"{user} (node {parent_gb})",
                detail["session"],
                detail["kind"],
            )
