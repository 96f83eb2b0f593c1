"""The media plane wired into the app: engine + live gateway + the access policy + the audit trail.

This is the only media module that knows about users, cameras in the database and the audit trail;
the engine, channels and sinks below it know only camera ids and access units."""

from __future__ import annotations

import collections
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from xueliang.accounts import service as accounts
from xueliang.accounts.models import User
from xueliang.accounts.policy import Action
from xueliang.audit import service as audit
from xueliang.audit.service import Actor
from xueliang.cameras import service as cameras
from xueliang.cameras.models import Camera
from xueliang.core.context import AppContext
from xueliang.core.errors import NotFound
from xueliang.media import tokens
from xueliang.media.engine import CameraSpec, EngineConfig, HealthEvent, MediaEngine
from xueliang.media.frames import AccessUnit
from xueliang.media.live import LiveGateway, LiveSession
from xueliang.media.sources import open_source

log = logging.getLogger(__name__)
LIVE_PREFIX = "/api/v1/live"
StatusListener = Callable[[HealthEvent], Any]


def spec_for(camera: Camera) -> CameraSpec:
    return CameraSpec(camera.id, camera.stream_url, camera.name, camera.enabled)


class MediaPlane:
    """Built with the app (its routes must exist before start-up); started and stopped by the lifespan."""

    def __init__(self, ctx: AppContext, config: EngineConfig | None = None) -> None:
        self.ctx = ctx
        self.secret = ctx.secret.encode()
        self._sources: dict[int, Any] = {}
        self.engine = MediaEngine(self._pull, config or EngineConfig())
        self.gateway = LiveGateway(
            self.engine,
            self._verify,
            recheck=self._recheck,
            on_session_start=self._session_started,
            on_session_end=self._session_ended,
        )
        self.recent_events: collections.deque[HealthEvent] = collections.deque(maxlen=1000)
        self.status_listeners: list[StatusListener] = []
        self._watch_task: Any = None

    # -- sources -----------------------------------------------------------------------------------
    async def _pull(self, spec: CameraSpec) -> AsyncIterator[AccessUnit]:
        """One connection to the camera; the source object is kept so its timeline survives reconnects."""
        source = self._sources.get(spec.camera_id)
        if source is None or source.url.split("://", 1)[-1] not in spec.url:
            source = open_source(spec.url, read_timeout=5.0)
            self._sources[spec.camera_id] = source
        async with source.open() as session:
            async for au in session:
                yield au

    async def start(self) -> None:
        import asyncio

        async with self.ctx.db.session() as session:
            rows = (await session.scalars(select(Camera).where(Camera.enabled.is_(True)))).all()
        await self.engine.start([spec_for(c) for c in rows])
        self._watch_task = asyncio.create_task(self._watch_health(), name="media-health-watch")

    async def stop(self) -> None:
        if self._watch_task is not None:
            self._watch_task.cancel()
        await self.gateway.aclose()
        await self.engine.stop()

    async def _watch_health(self) -> None:
        async with self.engine.subscribe() as events:
            async for event in events:
                self.recent_events.append(event)
                for listener in list(self.status_listeners):
                    try:
                        result = listener(event)
                        if hasattr(result, "__await__"):
                            await result
                    except Exception:
                        log.exception("camera status listener failed for camera %s", event.camera_id)

    async def sync_camera(self, camera_id: int) -> None:
        """After an admin change: start, restart or stop pulling the camera to match the database."""
        async with self.ctx.db.session() as session:
            camera = await session.get(Camera, camera_id)
        if self.engine.has_camera(camera_id):
            await self.engine.remove_camera(camera_id)
            self._sources.pop(camera_id, None)
        if camera is not None and camera.enabled:
            self.engine.add_camera(spec_for(camera))

    # -- tokens and access ---------------------------------------------------------------------------
    def stream_urls(self, user_id: int, camera_id: int) -> dict[str, str]:
        """Signed, short-lived URLs bound to user, camera and action; only after the policy said yes."""
        ttl = self.ctx.settings.stream_token_seconds
        token = tokens.issue(
            self.secret, user_id, camera_id, Action.view_live.value, ttl, self.ctx.clock.now()
        )
        base = f"{LIVE_PREFIX}/{camera_id}"
        return {
            "ws": f"{base}/ws?token={token}",
            "hls": f"{base}/hls/index.m3u8?token={token}",
            "token": token,
        }

    def _verify(self, token: str, camera_id: int) -> tokens.StreamClaims:
        return tokens.verify(self.secret, token, camera_id, Action.view_live.value, self.ctx.clock.now())

    async def _recheck(self, claims: tokens.StreamClaims) -> bool:
        """Re-asks the policy, so revoked rights (disabled user, flag cleared, moved region) end streams."""
        async with self.ctx.db.session() as session:
            user = await session.get(User, claims.user_id)
            if user is None or user.disabled:
                return False
            principal = await accounts.principal_for(session, user)
            try:
                await cameras.get_camera(session, principal, claims.camera_id, Action.view_live)
            except NotFound:
                return False
            return True

    async def _audit_session(self, action: str, live: LiveSession) -> None:
        async with self.ctx.db.session() as session:
            user = await session.get(User, live.user_id)
            actor = Actor(live.user_id, user.username if user else "", live.client)
            detail: dict[str, Any] = {"session": live.session_id, "kind": live.kind}
            if live.ended_at is not None:
                detail.update(
                    bytes=live.bytes_sent,
                    seconds=round(live.ended_at - live.started_at, 1),
                    reason=live.reason,
                )
            await audit.append(
                session,
                actor,
                action,
                at=datetime.now(UTC),
                target_type="camera",
                target_id=live.camera_id,
                detail=detail,
            )
            await session.commit()

    async def _session_started(self, live: LiveSession) -> None:
        await self._audit_session("live.start", live)

    async def _session_ended(self, live: LiveSession) -> None:
        await self._audit_session("live.end", live)
