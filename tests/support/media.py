"""Media test plumbing: camera sources fed from real encoded clips, an in-process server."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager

import uvicorn
from fastapi import FastAPI

from tests.support.clips import FRAME_TICKS
from tests.support.waits import wait_until
from xueliang.media.engine import CameraSpec
from xueliang.media.frames import AccessUnit


def looped(clip: Sequence[AccessUnit], count: int, start: int = 0) -> list[AccessUnit]:
    """`count` access units replaying `clip`, timestamps running on across loops."""
    span = len(clip) * FRAME_TICKS
    out = []
    for n in range(start, start + count):
        au = clip[n % len(clip)]
        shift = (n // len(clip)) * span
        out.append(
            dataclasses.replace(
                au,
                pts=au.pts + shift,
                dts=None if au.dts is None else au.dts + shift,
                arrived_ns=time.monotonic_ns(),
            )
        )
    return out


class ScriptedCamera:
    """A camera for the engine: replays clips per camera id at `interval` seconds a frame while `live`
    is set, and goes silent (connected but sending nothing) while it is cleared."""

    def __init__(self, clips: Mapping[int, Sequence[AccessUnit]], interval: float = 0.005) -> None:
        self.clips = clips
        self.interval = interval
        self.live = asyncio.Event()
        self.live.set()
        self.opens: dict[int, int] = {}
        self.sent: dict[int, int] = {}
        self.fail_next: dict[int, Exception] = {}
        self.budget: dict[int, int] = {}  # frames a camera may send before it falls silent
        self._more = asyncio.Event()

    def allow(self, camera_id: int, frames: int) -> None:
        """Let a silent camera send `frames` more."""
        self.budget[camera_id] = self.sent.get(camera_id, 0) + frames
        self._more.set()

    def open(self, spec: CameraSpec) -> AsyncIterator[AccessUnit]:
        self.opens[spec.camera_id] = self.opens.get(spec.camera_id, 0) + 1
        return self._run(spec.camera_id)

    async def _run(self, camera_id: int) -> AsyncIterator[AccessUnit]:
        error = self.fail_next.pop(camera_id, None)
        if error is not None:
            raise error
        clip = self.clips[camera_id]
        while True:
            await self.live.wait()
            n = self.sent.get(camera_id, 0)
            while n >= self.budget.get(camera_id, 1 << 62):
                self._more.clear()
                await self._more.wait()
            self.sent[camera_id] = n + 1
            yield looped(clip, 1, n)[0]
            await asyncio.sleep(self.interval)


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """Run `app` on uvicorn at 127.0.0.1 on an ephemeral port inside this event loop; yields host:port."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, log_level="warning", lifespan="off", ws_per_message_deflate=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        await wait_until(lambda: server.started or task.done(), what="uvicorn to start")
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
