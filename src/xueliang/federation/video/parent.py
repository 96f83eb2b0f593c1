"""The parent's side of video through the parent: its children's control links and `node://` cameras.

A child keeps one control WebSocket open to its parent (`LINK_PATH`), authenticated both ways by the
nodes' link keys (handshake.py) and checked against `nodes.public_key`; the parent never dials a
child. A camera synced from a child has the source URL `node://<child gb_id>/<remote_id>`; the media
plane opens it through `NodeSource` only while someone consumes its channel (an on-demand scheme):
`open` asks the child over the control link, the child opens a data WebSocket of its own to
`STREAM_PATH`, proves it with its key, and pushes the camera's frames (wire.py) into this node's
channel. So every output of this node works on the camera unchanged, one stream crosses the link per
camera however many viewers, and a grandchild's camera chains through its parent the same way.

A revoked child is cut off within `recheck_s` (the control link re-reads its row) and at once when this
process revoked it (`cut_off`). Each of our users' live sessions on a relayed camera is told to the
child (`viewer`), which audits "node X for its user Y"; this node audits its user as for any camera."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import secrets
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

from fastapi import WebSocket
from sqlalchemy import select
from starlette.websockets import WebSocketDisconnect, WebSocketState

from xueliang.accounts.models import User
from xueliang.cameras.models import Camera
from xueliang.core.context import AppContext
from xueliang.core.errors import NotFound
from xueliang.federation import identity
from xueliang.federation.video import handshake, wire
from xueliang.media.errors import MediaConnectionError
from xueliang.media.frames import AccessUnit, CodecParams
from xueliang.media.live.base import LiveSession
from xueliang.nodes.models import Node
from xueliang.regions.models import Region

log = logging.getLogger(__name__)

SCHEME = "node://"
CLOSE_REFUSED = 4403  # unknown, revoked or out-of-subtree node; a bad proof
CLOSE_PROTOCOL = 4400


def parse_url(url: str) -> tuple[str, int]:
    """`node://<20-digit gb_id>/<remote camera id>` -> (gb_id, remote_id); ValueError otherwise."""
    if not url.startswith(SCHEME):
        raise ValueError(f"not a node stream URL: {url!r}")
    gb_id, _, remote = url[len(SCHEME) :].partition("/")
    if len(gb_id) != 20 or not gb_id.isdigit() or not remote.isdigit() or not 0 < int(remote) < 2**31:
        raise ValueError(f"not a node stream URL: {url!r}")
    return gb_id, int(remote)


class RemoteRefused(Exception):
    """The child answered a request with a refusal or "not found"; the message is its reason."""


class StreamRefused(MediaConnectionError):
    """The child refused the stream (out of our subtree, unknown camera); its reason is the message."""


@dataclass(eq=False)
class RelayedStream:
    """One camera's stream from a child, as the parent waits for and reads it."""

    stream_id: str
    remote_id: int
    link: ChildLink
    attached: asyncio.Future[WebSocket] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    def refuse(self, reason: str) -> None:
        if not self.attached.done():
            self.attached.set_exception(StreamRefused(reason))


@dataclass(eq=False)
class ChildLink:
    """A child's authenticated control connection."""

    gb_id: str
    public_key: str
    websocket: WebSocket
    streams: dict[str, RelayedStream] = field(default_factory=dict)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    close_reason: str = ""
    replies: dict[int, asyncio.Future[Any]] = field(default_factory=dict)  # requests awaiting the child
    _send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    async def request(self, message: dict[str, Any], within: float = 15.0) -> Any:
        """Ask the child (recordings through the parent); its answer: JSON, or bytes for a read.
        Raises `RemoteRefused` with the child's reason, MediaConnectionError when the link fails."""
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.replies[request_id] = future
        try:
            await self.send({**message, "type": "request", "id": request_id})
            async with asyncio.timeout(within):
                return await future
        except TimeoutError:
            raise MediaConnectionError(f"node {self.gb_id}: no answer in {within:g} s") from None
        finally:
            self.replies.pop(request_id, None)

    def answer(self, request_id: int, result: Any) -> None:
        future = self.replies.get(request_id)
        if future is not None and not future.done():
            if isinstance(result, BaseException):
                future.set_exception(result)
            else:
                future.set_result(result)

    async def send(self, message: dict[str, Any]) -> None:
        if self.closed.is_set():
            raise MediaConnectionError(f"node {self.gb_id}: link closed ({self.close_reason})")
        async with self._send_lock:
            try:
                await self.websocket.send_text(json.dumps(message))
            except (WebSocketDisconnect, RuntimeError, OSError) as exc:
                raise MediaConnectionError(f"node {self.gb_id}: link lost") from exc

    def cut(self, reason: str) -> None:
        """Mark the link closed and fail what waits on it; the handler closes the socket."""
        if not self.closed.is_set():
            self.close_reason = reason
            self.closed.set()
        for stream in list(self.streams.values()):
            stream.refuse(f"link to node {self.gb_id} closed: {reason}")
            stream.finished.set()
        for request_id in list(self.replies):
            self.answer(request_id, MediaConnectionError(f"link to node {self.gb_id} closed: {reason}"))


class VideoLinks:
    """The parent's registry of child control links, the routes they dial, and the `node://` scheme."""

    def __init__(self, ctx: AppContext, node_gb_id: str = "", *, recheck_s: float = 1.0) -> None:
        self.ctx = ctx
        self.configured_gb_id = node_gb_id
        self.recheck_s = recheck_s
        self.links: dict[str, ChildLink] = {}
        self.opened = 0  # streams asked of children since start (for tests and the bench)
        self._identity: identity.NodeIdentity | None = None

    async def local_identity(self) -> identity.NodeIdentity:
        if self._identity is None:
            async with self.ctx.db.read_session() as session:
                gb_id = await identity.local_gb_id(session, self.configured_gb_id)
            self._identity = await asyncio.to_thread(
                identity.NodeIdentity.load, gb_id, self.ctx.settings.data_dir
            )
        return self._identity

    # -- the control link ----------------------------------------------------------------------------

    async def control(self, websocket: WebSocket) -> None:
        """A child's control link: challenge, proof both ways, then serve until either side leaves."""
        await websocket.accept()
        link: ChildLink | None = None
        try:
            me = await self.local_identity()
            nonce = handshake.new_nonce()
            await websocket.send_text(json.dumps({"type": "challenge", "node": me.gb_id, "nonce": nonce}))
            async with asyncio.timeout(10):
                hello = json.loads(await websocket.receive_text())
            child_gb, child_nonce = str(hello.get("node", "")), str(hello.get("nonce", ""))
            signature = bytes.fromhex(str(hello.get("sig", "")))
            refusal, key = await self._admit(me.gb_id, child_gb)
            if refusal is None and not identity.verify(
                key, handshake.child_proof(nonce, me.gb_id, child_gb), signature
            ):
                refusal = "bad signature"
            if refusal is not None or len(child_nonce) != 2 * handshake.NONCE_BYTES:
                refusal = refusal or "bad nonce"
                log.warning("video link from node %r refused: %s", child_gb, refusal)
                await websocket.close(CLOSE_REFUSED, refusal)
                return
            proof = me.sign(handshake.parent_proof(child_nonce, child_gb, me.gb_id)).hex()
            await websocket.send_text(json.dumps({"type": "welcome", "sig": proof}))
        except (TimeoutError, ValueError, KeyError, AttributeError, WebSocketDisconnect):
            with contextlib.suppress(Exception):
                await websocket.close(CLOSE_PROTOCOL, "bad handshake")
            return
        link = ChildLink(child_gb, key, websocket)
        previous = self.links.get(child_gb)
        if previous is not None:
            previous.cut("replaced by a new connection")
        self.links[child_gb] = link
        log.info("video link from node %s up", child_gb)
        watch = asyncio.create_task(self._watch_revocation(link), name=f"video-link-watch-{child_gb}")
        try:
            await self._serve(link)
        finally:
            watch.cancel()
            link.cut(link.close_reason or "link closed")
            if self.links.get(child_gb) is link:
                del self.links[child_gb]
            if websocket.application_state is WebSocketState.CONNECTED:
                with contextlib.suppress(Exception):
                    await websocket.close(
                        CLOSE_REFUSED if "revoked" in link.close_reason else 1000, link.close_reason[:120]
                    )
            log.info("video link from node %s down: %s", child_gb, link.close_reason)

    async def _admit(self, my_gb: str, child_gb: str) -> tuple[str | None, str]:
        """(None, key) for an enrolled, unrevoked node whose region lies below ours; else (why, "")."""
        async with self.ctx.db.read_session() as session:
            peer = await identity.peer_by_key(session, child_gb)
            if peer is None or peer.public_key is None:
                return "unknown or revoked node", ""
            mine = await session.scalar(select(Node).where(Node.gb_id == my_gb))
            if mine is None:
                return "this node has no row", ""
            paths = dict(
                (
                    await session.execute(
                        select(Region.id, Region.path).where(Region.id.in_((peer.region_id, mine.region_id)))
                    )
                ).all()
            )
        child_path, my_path = paths.get(peer.region_id, ""), paths.get(mine.region_id, "")
        if not child_path.startswith(my_path) or child_path == my_path:
            return "node outside this node's subtree", ""
        return None, peer.public_key

    async def _watch_revocation(self, link: ChildLink) -> None:
        """Re-read the child's row: a revocation (here or by the CLI) closes its open link."""
        while not link.closed.is_set():
            await asyncio.sleep(self.recheck_s)
            async with self.ctx.db.read_session() as session:
                peer = await identity.peer_by_key(session, link.gb_id)
            if peer is None or peer.public_key != link.public_key:
                await self.cut_off(link.gb_id, "node revoked")
                return

    async def cut_off(self, gb_id: str, reason: str = "node revoked") -> None:
        """Close a child's link and its streams now (called on revocation)."""
        link = self.links.get(gb_id)
        if link is None:
            return
        link.cut(reason)
        with contextlib.suppress(Exception):
            await link.websocket.close(CLOSE_REFUSED, reason[:120])

    async def _serve(self, link: ChildLink) -> None:
        reader = asyncio.create_task(self._read(link))
        closed = asyncio.create_task(link.closed.wait())
        try:
            await asyncio.wait({reader, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reader, closed):
                task.cancel()
            await asyncio.gather(reader, closed, return_exceptions=True)

    async def _read(self, link: ChildLink) -> None:
        pieces = wire.Reassembler()
        try:
            while True:
                raw = await link.websocket.receive()
                if raw["type"] == "websocket.disconnect":
                    raise WebSocketDisconnect(raw.get("code", 1000))
                data: bytes | None = raw.get("bytes")
                if data is not None:  # a read's answer: b"R", the request id, the bytes
                    data = pieces.feed(data)
                    if data is not None and data[:1] == b"R" and len(data) >= 9:
                        link.answer(int.from_bytes(data[1:9], "big"), data[9:])
                    continue
                message = json.loads(raw.get("text") or "{}")
                kind = message.get("type")
                if kind == "refused":
                    stream = link.streams.get(str(message.get("stream", "")))
                    if stream is not None:
                        stream.refuse(str(message.get("reason", "refused")))
                elif kind == "reply":
                    error = message.get("error")
                    result = RemoteRefused(str(error)) if error is not None else message.get("body")
                    link.answer(int(message.get("id", 0)), result)
        except (WebSocketDisconnect, RuntimeError, ValueError) as exc:  # WireError is a ValueError
            link.close_reason = link.close_reason or f"link lost: {type(exc).__name__}"

    # -- the data connections ------------------------------------------------------------------------

    async def stream(self, websocket: WebSocket) -> None:
        """A child's data connection for a stream we asked for: proof, then frames until either ends."""
        await websocket.accept()
        try:
            async with asyncio.timeout(10):
                hello = json.loads(await websocket.receive_text())
            stream_id, child_gb = str(hello.get("stream", "")), str(hello.get("node", ""))
            signature = bytes.fromhex(str(hello.get("sig", "")))
        except (TimeoutError, ValueError, KeyError, AttributeError, WebSocketDisconnect):
            with contextlib.suppress(Exception):
                await websocket.close(CLOSE_PROTOCOL, "bad handshake")
            return
        link = self.links.get(child_gb)
        stream = link.streams.get(stream_id) if link is not None else None
        me = await self.local_identity()
        if (
            link is None
            or stream is None
            or stream.attached.done()
            or not identity.verify(
                link.public_key, handshake.stream_proof(stream_id, child_gb, me.gb_id), signature
            )
        ):
            await websocket.close(CLOSE_REFUSED, "no such stream")
            return
        stream.attached.set_result(websocket)
        await stream.finished.wait()  # the source reads the socket meanwhile; this handler keeps it open
        if websocket.application_state is WebSocketState.CONNECTED:
            with contextlib.suppress(Exception):
                await websocket.close(1000, stream.link.close_reason[:120] or "closed")

    # -- the node:// scheme --------------------------------------------------------------------------

    def source(self, url: str, read_timeout: float) -> NodeSource:
        return NodeSource(self, url, read_timeout)

    async def open_stream(self, gb_id: str, remote_id: int, read_timeout: float) -> RelayedStream:
        """Ask the child for a camera and wait for its data connection; raises MediaConnectionError
        (not connected, refused with the child's reason, no answer within `read_timeout`)."""
        link = self.links.get(gb_id)
        if link is None:
            raise MediaConnectionError(f"node {gb_id} is not connected")
        stream = RelayedStream(secrets.token_hex(16), remote_id, link)
        link.streams[stream.stream_id] = stream
        self.opened += 1
        try:
            await link.send({"type": "open", "stream": stream.stream_id, "camera": remote_id})
            async with asyncio.timeout(read_timeout):
                await asyncio.shield(stream.attached)
        except TimeoutError:
            await self.close_stream(stream)
            raise MediaConnectionError(f"node {gb_id}: no stream for camera {remote_id} in time") from None
        except BaseException:
            await self.close_stream(stream)
            raise
        return stream

    async def close_stream(self, stream: RelayedStream) -> None:
        stream.link.streams.pop(stream.stream_id, None)
        stream.refuse("closed")
        stream.finished.set()  # the data route closes its socket
        with contextlib.suppress(MediaConnectionError):
            await stream.link.send({"type": "close", "stream": stream.stream_id})

    # -- viewers, told to the child ------------------------------------------------------------------

    async def on_live_session(self, action: str, live: LiveSession) -> None:
        """The plane's session listener: a session on a relayed camera is told to its child."""
        async with self.ctx.db.read_session() as session:
            user = await session.get(User, live.user_id)
        name = user.username if user is not None else f"#{live.user_id}"
        await self.tell_viewer(live.camera_id, action, name, live.session_id, live.kind)

    async def tell_viewer(self, camera_id: int, action: str, user: str, session_id: str, kind: str) -> None:
        """If `camera_id` is relayed from a child, tell it who started or ended watching (it audits)."""
        async with self.ctx.db.read_session() as session:
            url = await session.scalar(select(Camera.stream_url).where(Camera.id == camera_id))
        if url is None or not url.startswith(SCHEME):
            return
        try:
            gb_id, remote_id = parse_url(url)
        except ValueError:
            return
        link = self.links.get(gb_id)
        if link is None:
            return
        message = {
            "type": "viewer",
            "action": action,
            "camera": remote_id,
            "user": user,
            "session": session_id,
            "kind": kind,
        }
        with contextlib.suppress(MediaConnectionError):
            await link.send(message)


class NodeSource:
    """A `FrameSource` for `node://<child>/<camera>`: each `open()` is one stream asked of the child."""

    def __init__(self, links: VideoLinks, url: str, read_timeout: float) -> None:
        self.links = links
        self.url = url
        self.gb_id, self.remote_id = parse_url(url)
        self.read_timeout = read_timeout

    def open(self) -> NodeSession:
        return NodeSession(self)


class NodeSession:
    """One relayed stream as the engine iterates it; `aclose` tells the child to stop."""

    def __init__(self, source: NodeSource) -> None:
        self.source = source
        self._params: CodecParams | None = None
        self._stream: RelayedStream | None = None
        self._websocket: WebSocket | None = None
        self._pieces = wire.Reassembler()

    @property
    def params(self) -> CodecParams | None:
        return self._params

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> AccessUnit:
        """The next frame; the first call asks the child. A closed link or stream ends the session
        with `MediaConnectionError` (the engine marks the camera offline and asks again later)."""
        src = self.source
        if self._websocket is None:
            self._stream = await src.links.open_stream(src.gb_id, src.remote_id, src.read_timeout)
            self._websocket = self._stream.attached.result()
        websocket = self._websocket
        while True:
            try:
                message = await websocket.receive()
            except RuntimeError as exc:  # received after the disconnect
                raise MediaConnectionError(f"node {src.gb_id}: stream closed") from exc
            if message["type"] == "websocket.disconnect":
                reason = self._stream.link.close_reason if self._stream is not None else ""
                raise MediaConnectionError(f"node {src.gb_id}: stream closed {reason}".rstrip())
            data: bytes | None = message.get("bytes")
            if not data:
                continue
            try:
                data = self._pieces.feed(data)
                if data is None:
                    continue
                kind = data[:1]
                if kind == wire.FRAME and self._params is not None:
                    return wire.decode_frame(data, self._params)
                if kind == wire.PARAMS:
                    self._params = wire.decode_params(data)
                elif kind == wire.STATUS:
                    raise MediaConnectionError(f"at node {src.gb_id}: {data[1:].decode(errors='replace')}")
            except wire.WireError as exc:
                raise MediaConnectionError(f"node {src.gb_id}: {exc}") from exc

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def aclose(self) -> None:
        await self.close()

    async def close(self) -> None:
        stream, self._stream, self._websocket = self._stream, None, None
        if stream is not None:
            await self.source.links.close_stream(stream)


class ChildHosted:
    """What the parent's remote-camera services share: which child hosts a `node://` camera, and its
    open link (ChildCameras for edits, ChildRecordings for playback)."""

    def __init__(self, ctx: AppContext, links: VideoLinks) -> None:
        self.ctx = ctx
        self.links = links

    async def _where(self, camera_id: int) -> tuple[str, int] | None:
        async with self.ctx.db.read_session() as session:
            url = await session.scalar(select(Camera.stream_url).where(Camera.id == camera_id))
        if url is None or not url.startswith(SCHEME):
            return None
        try:
            return parse_url(url)
        except ValueError:
            return None

    async def hosts(self, camera_id: int) -> bool:
        return await self._where(camera_id) is not None

    async def _link(self, camera_id: int) -> tuple[str, int, ChildLink | None]:
        """(child gb_id, the camera's id there, the child's link or None when not connected); a camera
        that is not a child's is NotFound."""
        where = await self._where(camera_id)
        if where is None:
            raise NotFound("not found")
        gb_id, remote_id = where
        return gb_id, remote_id, self.links.links.get(gb_id)
