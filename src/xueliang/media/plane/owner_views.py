"""Live video on a web-role process: stream URLs that lead the viewer to the media process that owns
the camera now (ADR 0008: the viewer is sent there, the web process does not carry the video).

`OwnerStreams` is registered as `LiveStreams` where no media plane runs (the web role): it signs the
same short-lived tokens as the plane (one node secret, shared by every process) and prefixes the
owner's `media_url` (a path behind the reverse proxy, such as `/m/media-1`, or a full URL). It keeps
the owners in memory, re-read on every lease NOTIFY and every `every` seconds, so handing out URLs
costs no statement. `router` answers an HLS or other GET on this process's `/api/v1/live/...` with a
307 to the owner, for players that kept a web-process URL.

A viewer who must see a camera masked (cameras/masks.py) is led to the same owner, with URLs and a token
for the camera's masked variant (`masked_id`, ADR 0012): the owner builds the variant when that token
first reaches it (`MediaPlane.verify`), since only the process that pulls a camera can mask it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse
from sqlalchemy import text

from xueliang.accounts.policy import Permission
from xueliang.cameras.streams import LiveStreams
from xueliang.core.context import AppContext
from xueliang.core.errors import AppError
from xueliang.media import tokens
from xueliang.media.plane.leases import Listener
from xueliang.media.plane.masking import masked_id, original_id
from xueliang.media.plane.plane import LIVE_PREFIX

log = logging.getLogger(__name__)


class NoOwner(AppError):
    status = 503
    code = "media_unavailable"


@dataclass(frozen=True, slots=True)
class Owner:
    name: str
    url: str  # no trailing slash: "/m/media-1" or "http://10.0.0.5:8101"
    epoch: int


class OwnerStreams(LiveStreams):
    def __init__(self, ctx: AppContext, every: float = 2.0) -> None:
        self.ctx = ctx
        self.secret = ctx.secret.encode()
        self.every = every
        self.owners: dict[int, Owner] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: Listener | None = None

    async def start(self) -> None:
        from xueliang.notify.pg import asyncpg_dsn

        await self.refresh()
        self._listener = Listener(asyncpg_dsn(self.ctx.db.url), lambda _payload: self._wake.set())
        await self._listener.start()
        self._task = asyncio.create_task(self._run(), name="live-owners")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._listener is not None:
            await self._listener.stop()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.every):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.refresh()
            except Exception as exc:  # keep the last known owners; the next pass tries again
                log.warning("live owners not refreshed: %s", exc)

    async def refresh(self) -> None:
        async with self.ctx.db.read_session() as session:
            rows = (
                await session.execute(
                    text(
                        "SELECT l.camera_id, l.owner, p.url, l.epoch FROM camera_leases l "
                        "JOIN node_processes p ON p.name = l.owner "
                        "WHERE l.expires_at > now()"
                    )
                )
            ).all()
        self.owners = {int(c): Owner(str(o), str(u).rstrip("/"), int(e)) for c, o, u, e in rows}

    def owner_url(self, camera_id: int) -> str | None:
        """The owner's URL of a camera, or of the camera a masked variant's id stands for."""
        owner = self.owners.get(original_id(camera_id))
        return owner.url if owner is not None else None

    def stream_urls(self, user_id: int, camera_id: int) -> dict[str, str]:
        """The plane's URLs, at the owner; none while no media process holds the camera (the player
        says the video service is not running for it yet, and a refresh finds the new owner)."""
        return self._urls(user_id, camera_id, camera_id)

    def masked_stream_urls(self, user_id: int, camera_id: int) -> dict[str, str]:
        """The URLs of the camera's masked variant at the camera's owner, which starts the variant when
        the viewer arrives; none while no media process holds the camera."""
        return self._urls(user_id, camera_id, masked_id(camera_id))

    def _urls(self, user_id: int, camera_id: int, engine_id: int) -> dict[str, str]:
        base = self.owner_url(camera_id)
        if base is None:
            return {}
        ttl = self.ctx.settings.stream_token_seconds
        token = tokens.issue(
            self.secret, user_id, engine_id, Permission.view_live.value, ttl, self.ctx.clock.now()
        )
        path = f"{base}{LIVE_PREFIX}/{engine_id}"
        return {
            "ws": f"{path}/ws?token={token}",
            "hls": f"{path}/hls/index.m3u8?token={token}",
            "token": token,
        }


router = APIRouter()


@router.get(LIVE_PREFIX + "/{camera_id}/{rest:path}", include_in_schema=False)
async def to_owner(camera_id: int, rest: str, request: Request) -> RedirectResponse:
    """A live GET (HLS) that reached a web process: 307 to the owner, query (the token) kept. The
    token is checked there, so nothing is given away here but where the camera is served."""
    streams = request.app.state.ctx.services.require(LiveStreams)
    base = streams.owner_url(camera_id) if isinstance(streams, OwnerStreams) else None
    if base is None:
        raise NoOwner("no media process serves this camera now; try again in a few seconds")
    query = f"?{request.url.query}" if request.url.query else ""
    return RedirectResponse(f"{base}{LIVE_PREFIX}/{camera_id}/{rest}{query}", status_code=307)
