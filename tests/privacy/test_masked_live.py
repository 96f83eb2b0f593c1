"""Privacy masks on live video, end to end in one node: an admin draws a mask; a resident (and an
operator, by default) is given the masked variant's URLs; the fMP4 fragments they receive, decoded by
PyAV, show the camera's marker where the picture is unmasked and uniform black under the mask; their
token never opens the original; their still is masked; the admin still sees the original; the variant
stops once nobody watches it."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from types import TracebackType
from typing import Any, Self

import av
import httpx
import pytest
from fastapi import FastAPI
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.support.app import LoggedIn, make_settings
from tests.support.clips import encode_clip, marker_level
from tests.support.media import looped, serve
from tests.support.waits import wait_until
from xueliang.app import create_app
from xueliang.cameras.models import Camera
from xueliang.media.config import MediaSettings
from xueliang.media.frames import AccessUnit, CodecParams
from xueliang.media.plane import MediaPlane
from xueliang.media.plane.masking import masked_id
from xueliang.media.rtsp.client import RtspSource
from xueliang.recordings.config import RecordingSettings

MARKER = 1
# The lower right of the picture: the clip's moving bright square passes under it, its marker does not.
MASK = [[0.5, 0.2], [1.0, 0.2], [1.0, 1.0], [0.5, 1.0]]


class Wanted:
    """The stream URLs that deliver frames, once known."""

    def __init__(self) -> None:
        self.urls: set[str] = set()
        self.known = asyncio.Event()


class ClipSession:
    """One session of a fake camera: the clip looped at 50 fps for the wanted URL, nothing otherwise."""

    def __init__(self, url: str, wanted: Wanted, clip: list[AccessUnit]) -> None:
        self.url, self.wanted, self.clip, self.n = url, wanted, clip, 0

    @property
    def params(self) -> CodecParams | None:
        return self.clip[0].params

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> AccessUnit:
        await self.wanted.known.wait()
        if self.url not in self.wanted.urls:
            await asyncio.Event().wait()  # a camera the test does not watch: silent until stopped
        await asyncio.sleep(0.02)
        au = looped(self.clip, 1, self.n)[0]
        self.n += 1
        return au

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        return None

    async def close(self) -> None:
        return None

    async def aclose(self) -> None:
        return None


class ClipSource:
    def __init__(self, url: str, wanted: Wanted, clip: list[AccessUnit]) -> None:
        self.url, self.wanted, self.clip = url, wanted, clip

    def open(self) -> ClipSession:
        return ClipSession(self.url, self.wanted, self.clip)


class Node:
    app: FastAPI
    plane: MediaPlane
    host: str
    camera_id: int
    clients: dict[str, httpx.AsyncClient]


@pytest.fixture
async def node(privacy_url: str, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Node]:
    settings = make_settings(
        privacy_url,
        tmp_path_factory.mktemp("privacy-live"),
        media=MediaSettings(rtsp_port=0),
        recording=RecordingSettings(enabled=False),
    )
    app = create_app(settings, migrate_on_start=False)
    plane = app.state.ctx.services.require(MediaPlane)
    wanted = Wanted()
    clip = encode_clip(frames=50, gop=25, width=160, height=96, camera_index=MARKER)
    plane.schemes.register("rtsp", lambda url, _timeout: ClipSource(url, wanted, clip))
    env = Node()
    env.app, env.plane, env.clients = app, plane, {}
    async with app.router.lifespan_context(app), serve(app) as host:
        env.host = host
        for name in ("admin", "res-v01", "op-qingxi"):
            client = httpx.AsyncClient(base_url=f"http://{host}")
            env.clients[name] = await LoggedIn(client).login(name)
        cameras = (await env.clients["res-v01"].get("/api/v1/cameras")).json()
        env.camera_id = cameras[0]["id"]
        async with app.state.ctx.db.read_session() as session:
            camera = await session.get(Camera, env.camera_id)
            assert camera is not None
            wanted.urls.add(camera.stream_url)
            wanted.known.set()
        await wait_until(lambda: plane.engine.health(env.camera_id).frames_in > 30, 10, "the camera's frames")
        try:
            yield env
        finally:
            for client in env.clients.values():
                await client.aclose()


async def frames_of(host: str, ws_path: str, fragments: int) -> list[Any]:
    """`fragments` fragments of a live WebSocket stream, decoded by PyAV (grey levels)."""
    async with connect(f"ws://{host}{ws_path}", max_size=None) as ws:
        chunks: list[bytes] = []
        while len(chunks) < fragments + 1:  # the init segment, then fragments
            message = await asyncio.wait_for(ws.recv(), 10)
            if isinstance(message, bytes):
                chunks.append(message)
    with av.open(io.BytesIO(b"".join(chunks)), "r") as container:
        return [f.to_ndarray(format="gray") for f in container.decode(video=0)]


def masked_region(luma: Any) -> Any:
    height, width = luma.shape
    return luma[int(height * 0.22) :, int(width * 0.52) :]


def marker_block(luma: Any) -> float:
    """Mean grey inside the marker's 32 px block (the top-left corner of the clip's picture)."""
    return float(luma[4:28, 4:28].mean())


async def test_masked_live_stream_still_and_the_variant_lifecycle(node: Node) -> None:
    admin, resident, operator = (node.clients[n] for n in ("admin", "res-v01", "op-qingxi"))
    cid = node.camera_id
    r = await admin.put(f"/api/v1/cameras/{cid}/masks", json={"masks": [{"label": "院子", "points": MASK}]})
    assert r.status_code == 200, r.text
    assert r.json()["masks"][0]["points"][0] == [0.5, 0.2]

    # The resident gets the masked variant: its own engine id, made on the server.
    opened = (await resident.post(f"/api/v1/cameras/{cid}/open")).json()["streams"]
    variant = masked_id(cid)
    assert f"/api/v1/live/{variant}/ws?" in opened["ws"] and f"/{cid}/" not in opened["ws"]
    frames = await frames_of(node.host, opened["ws"], 25)
    assert len(frames) >= 20
    for luma in frames:
        hidden = masked_region(luma)
        assert float(hidden.max()) < 40 and float(hidden.std()) < 4, "the mask is not uniformly filled"
        assert abs(marker_block(luma) - marker_level(MARKER)) < 15, "the unmasked picture lost the marker"
    # Without the mask the moving bright square (level 230) would be in that region in some frames.
    assert node.plane.engine.has_camera(variant)

    # Its token is bound to the variant: it opens neither the original nor anything else.
    token = opened["token"]
    with pytest.raises(ConnectionClosed) as closed:
        async with connect(f"ws://{node.host}/api/v1/live/{cid}/ws?token={token}") as ws:
            await asyncio.wait_for(ws.recv(), 5)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    hls = await resident.get(f"/api/v1/live/{cid}/hls/index.m3u8", params={"token": token})
    assert hls.status_code == 403
    assert (
        await resident.get(f"/api/v1/live/{variant}/hls/index.m3u8", params={"token": token})
    ).status_code == 200
    # The RTSP re-serve carries the variant too: a keyframe pulled with our own client, decoded by FFmpeg.
    async with RtspSource(opened["rtsp"], read_timeout=5).open() as session:
        first = await asyncio.wait_for(anext(session), 10)
    assert f"/live/{variant}?" in opened["rtsp"] and first.keyframe
    decoder: Any = av.CodecContext.create("h264", "r")
    nalus = [first.params.sps, first.params.pps, *first.nalus]
    (picture,) = decoder.decode(av.Packet(b"".join(b"\x00\x00\x00\x01" + n for n in nalus)))
    assert float(masked_region(picture.to_ndarray(format="gray")).max()) < 40

    # Stills: masked for the resident, the original for the admin.
    still = await resident.get(f"/api/v1/cameras/{cid}/still.jpg")
    assert still.status_code == 200, still.text
    with av.open(io.BytesIO(still.content), "r") as container:
        luma = next(iter(container.decode(video=0))).to_ndarray(format="gray")
    assert float(masked_region(luma).max()) < 40

    # Operators see it masked by default; the admin gets the original camera.
    assert (
        f"/api/v1/live/{variant}/ws?"
        in (await operator.post(f"/api/v1/cameras/{cid}/open")).json()["streams"]["ws"]
    )
    plain = (await admin.post(f"/api/v1/cameras/{cid}/open")).json()["streams"]
    assert f"/api/v1/live/{cid}/ws?" in plain["ws"]
    admin_frames = await frames_of(node.host, plain["ws"], 30)
    assert max(float(masked_region(luma).max()) for luma in admin_frames) > 200, "the admin sees the original"

    # Live audit rows name the camera, not the variant, and say it was masked.
    audit = (await admin.get("/api/v1/audit", params={"action": "live.start", "limit": 20})).json()
    mine = [e for e in audit if e["actor"] == "res-v01"]
    assert mine and mine[0]["target_id"] == str(cid) and mine[0]["detail"]["masked"] is True

    # Nobody watches the variant any more: it stops (no decoder, no encoder left running).
    node.plane.masks.idle_seconds = 0
    await wait_until(lambda: node.plane.engine.health(variant).viewers == 0, 5, "the viewers to leave")
    node.plane.engine._cameras[variant].hls = None  # the HLS playlist request made a packager; let it go
    await node.plane.masks.sweep_once()
    assert not node.plane.engine.has_camera(variant)
