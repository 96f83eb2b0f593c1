"""The media plane at run time: what `create_app` installs when the node pulls cameras.

The plane is built with the app (its live routes must exist before start-up), registered as the
service that makes stream URLs for the camera routes, and follows admin changes to cameras through
`CameraChanged` events instead of being called by the camera routes."""

from __future__ import annotations

from fastapi import FastAPI

from xueliang.cameras.events import CameraChanged
from xueliang.cameras.streams import LiveStreams
from xueliang.core.context import AppContext
from xueliang.core.lifecycle import StartupHook, Stop
from xueliang.media.config import MediaSettings
from xueliang.media.plane import MediaPlane
from xueliang.media.plane.rtsp import router as rtsp_router


def install(app: FastAPI, ctx: AppContext, settings: MediaSettings) -> list[StartupHook]:
    plane = ctx.services.add(MediaPlane(ctx, settings))
    ctx.services.add(plane, LiveStreams)
    app.include_router(plane.gateway.router)
    app.include_router(rtsp_router)

    async def follow(event: CameraChanged) -> None:
        await plane.sync_camera(event.camera_id)

    ctx.events.subscribe(CameraChanged, follow)

    async def start(_ctx: AppContext) -> Stop:
        await plane.start()
        return plane.stop

    return [start]
