"""Camera health for the console: current status per camera and status changes, scoped by the policy."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Coroutine
from typing import Any

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from pydantic import BaseModel
from starlette.websockets import WebSocketState

from xueliang.accounts.deps import CurrentCaller, Session, caller_from_websocket, require
from xueliang.accounts.policy import Permission
from xueliang.cameras import service as cameras
from xueliang.core.aio import first_done
from xueliang.core.context import AppContext
from xueliang.media.engine import CameraHealth, HealthEvent, UnknownCamera
from xueliang.media.plane.plane import MediaPlane, PlaneEvent
from xueliang.media.plane.still_views import router as still_router

router = APIRouter(tags=["cameras"])
router.include_router(still_router)  # the tiles' stills: GET /cameras/{id}/still.jpg


class HealthOut(BaseModel):
    camera_id: int
    status: str
    reason: str
    since: float
    reconnects: int
    fps: float
    bitrate_bps: float
    last_keyframe_at: float | None
    viewers: int
    codec: str | None
    width: int
    height: int


class EventOut(BaseModel):
    camera_id: int
    status: str
    reason: str
    at: float
    reconnects: int
    kind: str = "camera"  # "storage": the camera's recording failed or resumed (status says which)


def _plane(request: Request | WebSocket) -> MediaPlane | None:
    ctx: AppContext = request.app.state.ctx
    return ctx.services.get(MediaPlane)


def health_out(h: CameraHealth) -> HealthOut:
    return HealthOut(
        camera_id=h.camera_id,
        status=h.status.value,
        reason=h.reason,
        since=h.since,
        reconnects=h.reconnects,
        fps=round(h.fps, 2),
        bitrate_bps=round(h.bitrate_bps),
        last_keyframe_at=h.last_keyframe_at,
        viewers=h.viewers,
        codec=h.codec,
        width=h.width,
        height=h.height,
    )


def event_out(e: PlaneEvent) -> EventOut:
    if not isinstance(e, HealthEvent):
        return EventOut(camera_id=e.camera_id, status=e.status.value, reason=e.reason, at=e.at, reconnects=0,
                        kind=e.kind)  # fmt: skip
    return EventOut(
        camera_id=e.camera_id, status=e.status.value, reason=e.reason, at=e.at, reconnects=e.reconnects
    )


@router.get("/cameras/health", response_model=list[HealthOut])
async def camera_health(request: Request, caller: CurrentCaller, session: Session) -> list[HealthOut]:
    """Status of every camera in scope that the engine pulls (disabled cameras are absent)."""
    require(caller, Permission.list_cameras)
    plane = _plane(request)
    if plane is None:
        return []
    out = []
    for cam, _region in await cameras.list_cameras(session, caller.principal, cameras.CameraQuery()):
        try:
            out.append(health_out(plane.engine.health(cam.id)))
        except UnknownCamera:
            continue
    return out


@router.get("/cameras/events", response_model=list[EventOut])
async def camera_events(request: Request, caller: CurrentCaller, session: Session) -> list[EventOut]:
    """Recent status changes (newest last) of cameras in scope, kept in memory since start-up."""
    require(caller, Permission.list_cameras)
    plane = _plane(request)
    if plane is None:
        return []
    visible = {c.id for c, _ in await cameras.list_cameras(session, caller.principal, cameras.CameraQuery())}
    return [event_out(e) for e in plane.recent_events if e.camera_id in visible]


async def _read_until_closed(websocket: WebSocket) -> None:
    """The client sends nothing we need; reading is how its going away is noticed."""
    while (await websocket.receive())["type"] != "websocket.disconnect":
        pass


async def _send_events(
    websocket: WebSocket, plane: MediaPlane, visible: set[int], queue: asyncio.Queue[PlaneEvent]
) -> None:
    snapshot: list[dict[str, Any]] = []
    for cam_id in visible:
        try:
            snapshot.append(health_out(plane.engine.health(cam_id)).model_dump())
        except UnknownCamera:
            continue
    await websocket.send_json({"type": "snapshot", "cameras": snapshot})
    while True:
        event = await queue.get()
        await websocket.send_json({"type": "status", **event_out(event).model_dump()})


async def _until_first_ends(*jobs: Coroutine[Any, Any, Any]) -> None:
    """Runs the jobs side by side until one of them ends, then cancels the others; a job's error other
    than the client going away is raised."""
    for task in await first_done(*jobs):
        error = task.exception()
        if error is not None and not isinstance(error, WebSocketDisconnect):
            raise error


@router.websocket("/cameras/events/ws")
async def camera_events_ws(websocket: WebSocket) -> None:
    """Pushes each status change of a camera in scope as JSON the moment the engine reports it. The socket
    is read at the same time, so a client that goes away frees its listener and queue at once, whether or
    not an event was due; the plane's stop closes the sockets still open (1001)."""
    plane = _plane(websocket)
    caller = await caller_from_websocket(websocket)
    if caller is None:
        await websocket.close(code=4401, reason="log in first")
        return
    ctx = websocket.app.state.ctx
    async with ctx.db.session() as session:
        visible = {
            c.id for c, _ in await cameras.list_cameras(session, caller.principal, cameras.CameraQuery())
        }
    await websocket.accept()
    if plane is None:
        await websocket.close(code=1011, reason="media engine not running")
        return
    queue: asyncio.Queue[PlaneEvent] = asyncio.Queue(maxsize=1000)

    def listen(event: PlaneEvent) -> None:
        if event.camera_id in visible and not queue.full():
            queue.put_nowait(event)

    plane.status_listeners.append(listen)
    try:
        await _until_first_ends(
            _send_events(websocket, plane, visible, queue),
            _read_until_closed(websocket),
            plane.stopping.wait(),
        )
    finally:
        plane.status_listeners.remove(listen)
    connected = WebSocketState.CONNECTED
    if websocket.client_state is connected and websocket.application_state is connected:
        with contextlib.suppress(WebSocketDisconnect):
            await websocket.close(code=1001 if plane.stopping.is_set() else 1000)
