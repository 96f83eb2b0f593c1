"""The media plane wired into the app: engine + live gateway + the access policy + the audit trail.

This (with rtsp.py, its RTSP restream side) is the only media module that knows about users,
cameras in the database and the audit trail; the engine, channels and sinks below it know only camera
ids and access units."""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import select

from xueliang.accounts import service as accounts
from xueliang.accounts.models import User
from xueliang.accounts.policy import Permission
from xueliang.audit import service as audit
from xueliang.audit.service import Actor
from xueliang.cameras import service as cameras
from xueliang.cameras.events import CameraStatusChanged
from xueliang.cameras.models import Camera
from xueliang.cameras.streams import LiveStreams
from xueliang.core.context import AppContext
from xueliang.media import tokens
from xueliang.media.access_batch import AccessBatch
from xueliang.media.config import MediaSettings
from xueliang.media.engine import CameraSpec, EngineConfig, HealthEvent, MediaEngine
from xueliang.media.live import LiveGateway, LiveSession
from xueliang.media.plane.masking import PlaneMasks, is_masked_id, original_id
from xueliang.media.plane.relayed import RelayedStatus
from xueliang.media.plane.rtsp import PlaneRtspAccess
from xueliang.media.recording.recorder import StorageEvent
from xueliang.media.restream import RestreamConfig, RtspRestreamer
from xueliang.media.rtsp.client import RtspSource
from xueliang.media.sources import FrameSession, FrameSource, SourceSchemes
from xueliang.media.still import StillCache

log = logging.getLogger(__name__)
LIVE_PREFIX = "/api/v1/live"
PlaneEvent = HealthEvent | StorageEvent
StatusListener = Callable[[PlaneEvent], Any]


class PlaneHook(Protocol):
    """A sink that follows the plane's cameras (the recorder): told when the engine has started, when
    an admin change re-synced a camera, and before the engine stops."""

    async def plane_started(self, plane: MediaPlane, cameras: Sequence[Camera]) -> None: ...

    async def camera_changed(self, plane: MediaPlane, camera_id: int, camera: Camera | None) -> None: ...

    async def plane_stopping(self, plane: MediaPlane) -> None: ...


def spec_for(camera: Camera, schemes: SourceSchemes | None = None) -> CameraSpec:
    on_demand = schemes is not None and schemes.on_demand(camera.stream_url)
    options = {"audio": True} if camera.audio_enabled else {}  # off unless turned on: docs/media-audio.md
    return CameraSpec(
        camera.id, camera.stream_url, camera.name, camera.enabled, options=options, on_demand=on_demand
    )


class MediaPlane(LiveStreams):
    """Built with the app (its routes must exist before start-up); started and stopped by the lifespan."""

    def __init__(
        self, ctx: AppContext, settings: MediaSettings | None = None, config: EngineConfig | None = None
    ) -> None:
        self.ctx = ctx
        self.secret = ctx.secret.encode()
        self._sources: dict[int, FrameSource] = {}
        self.engine = MediaEngine(self._pull, config or EngineConfig())
        self._batch = AccessBatch(self.allowed_cameras)
        self.gateway = LiveGateway(
            self.engine,
            self.verify,
            recheck=self._recheck,
            recheck_periodic=self._recheck_periodic,
            on_session_start=self.session_started,
            on_session_end=self.session_ended,
        )
        self.recent_events: collections.deque[PlaneEvent] = collections.deque(maxlen=1000)
        self.status_listeners: list[StatusListener] = []
        self.stopping = asyncio.Event()  # set by `stop`: the console's event sockets close (health_views)
        self.hooks: list[PlaneHook] = []
        self.rtsp: RtspRestreamer | None = None
        settings = settings or MediaSettings()
        self._rtsps_ca_file = settings.rtsps_ca_file or None
        if settings.rtsp_enabled:
            rtsp = RestreamConfig(
                host=settings.rtsp_host or ctx.settings.host,
                port=settings.rtsp_port,
                url_base=settings.rtsp_url_base,
            )
            self.rtsp = RtspRestreamer(self.engine, PlaneRtspAccess(self), rtsp)
        self._watch_task: Any = None
        self.schemes = SourceSchemes()  # gb28181:// and other schemes a domain serves (sources.py)
        self.masks = PlaneMasks(self)  # privacy masks: masked variants, masked stills (masking.py)
        self.relayed = RelayedStatus(self)  # idle `node://` cameras show their owner's status (relayed.py)
        self._deliveries: set[asyncio.Task[None]] = set()
        self.stills = StillCache(self.engine.channel)  # tiles' pictures (still_views.py)
        self.still_audits: dict[tuple[int, int], datetime] = {}  # (user, camera) -> last camera.still
        # Which cameras this process pulls: every enabled one, unless camera leases share them out
        # among several media processes (leases.py sets these); `notes` says why a camera was last
        # taken or dropped, for the recorder's gap reason.
        self.owns: Callable[[int], bool] = lambda _camera_id: True
        self.notes: dict[int, str] = {}
        self.on_status: Callable[[int, str, str], Awaitable[None]] | None = None
        # Told of every live session (WebSocket, HLS, RTSP) after its audit: the federation's relay
        # tells the child node which of our users watch its camera (federation/video).
        self.session_listeners: list[Callable[[str, LiveSession], Awaitable[None]]] = []

    # -- sources -----------------------------------------------------------------------------------
    def _pull(self, spec: CameraSpec) -> FrameSession:
        """One session to the camera (opened when the engine first iterates or pumps it, closed by the
        engine's `aclose`); the source object is kept so its timeline survives reconnects."""
        source = self._sources.get(spec.camera_id)
        if source is None or source.url.split("://", 1)[-1] not in spec.url:
            source = self.schemes.open(spec.url, read_timeout=5.0)
            if isinstance(source, RtspSource):
                source.audio = bool(spec.options.get("audio"))
                source.ca_file = self._rtsps_ca_file
            self._sources[spec.camera_id] = source
        return source.open()

    async def start(self) -> None:
        async with self.ctx.db.session() as session:
            rows = (await session.scalars(select(Camera).where(Camera.enabled.is_(True)))).all()
        rows = [c for c in rows if self.owns(c.id)]
        await self.engine.start([spec_for(c, self.schemes) for c in rows])
        self._watch_task = asyncio.create_task(self._watch_health(), name="media-health-watch")
        for hook in self.hooks:
            await hook.plane_started(self, rows)
        if self.rtsp is not None:
            try:
                await self.rtsp.start()
            except OSError as exc:  # live video in the browser matters more than the re-serve
                log.error("RTSP re-serve not started on port %s: %s", self.rtsp.config.port, exc)

    async def stop(self) -> None:
        self.stopping.set()
        for hook in reversed(self.hooks):
            try:
                await hook.plane_stopping(self)
            except Exception:
                log.exception("media plane hook failed at stop")
        if self._watch_task is not None:
            self._watch_task.cancel()
        if self.rtsp is not None:
            await self.rtsp.stop()
        await self.gateway.aclose()
        await self.engine.stop()
        self.stills.close()

    async def _watch_health(self) -> None:
        async with self.engine.subscribe() as events:
            async for event in events:
                await self._deliver(event)

    async def _deliver(self, event: PlaneEvent) -> None:
        if is_masked_id(event.camera_id):
            return  # a masked variant (masking.py): its camera's own status is what others follow
        self.recent_events.append(event)
        if isinstance(event, HealthEvent):
            status = CameraStatusChanged(event.camera_id, str(event.status.value), event.reason)
            if not self.relayed.echo(event):  # an owner's report applied here was announced already
                await self.ctx.events.emit(status)
            if self.on_status is not None:
                await self.on_status(event.camera_id, status.status, event.reason)
        for listener in list(self.status_listeners):
            try:
                result = listener(event)
                if hasattr(result, "__await__"):
                    await result
            except Exception:
                log.exception("camera status listener failed for camera %s", event.camera_id)

    def publish(self, event: PlaneEvent) -> None:
        """Hand an event from synchronous code (the recorder's storage events) to the same listeners
        and recent events as camera health, so the console shows both in one place."""
        task = asyncio.get_running_loop().create_task(self._deliver(event))
        self._deliveries.add(task)
        task.add_done_callback(self._deliveries.discard)

    async def sync_camera(self, camera_id: int) -> None:
        """After an admin change: start, restart or stop pulling the camera to match the database."""
        async with self.ctx.db.session() as session:
            camera = await session.get(Camera, camera_id)
        wanted = camera is not None and camera.enabled and self.owns(camera_id)
        if camera is not None and wanted and self.engine.spec(camera_id) == spec_for(camera, self.schemes):
            # The same source (a catalog update from a child node, a status, a flag): viewers keep
            # their stream; the hooks still hear of it (the recorder reads `record`).
            for hook in self.hooks:
                await hook.camera_changed(self, camera_id, camera)
            return
        if self.engine.has_camera(camera_id):
            await self.engine.remove_camera(camera_id)
            self._sources.pop(camera_id, None)
        self.stills.forget(camera_id)
        if camera is not None and camera.enabled and self.owns(camera_id):
            self.engine.add_camera(spec_for(camera, self.schemes))
        for hook in self.hooks:
            await hook.camera_changed(self, camera_id, camera)

    # -- tokens and access ---------------------------------------------------------------------------
    def stream_urls(self, user_id: int, camera_id: int) -> dict[str, str]:
        """Signed, short-lived URLs bound to user, camera and action; only after the policy said yes."""
        ttl = self.ctx.settings.stream_token_seconds
        token = tokens.issue(
            self.secret, user_id, camera_id, Permission.view_live.value, ttl, self.ctx.clock.now()
        )
        base = f"{LIVE_PREFIX}/{camera_id}"
        urls = {
            "ws": f"{base}/ws?token={token}",
            "hls": f"{base}/hls/index.m3u8?token={token}",
            "token": token,
        }
        if self.rtsp is not None and self.rtsp.running:
            urls["rtsp"] = self.rtsp.url(camera_id, token)
        return urls

    def masked_stream_urls(self, user_id: int, camera_id: int) -> dict[str, str]:
        """`stream_urls` of the camera's masked variant (started here if nobody watched it)."""
        return self.stream_urls(user_id, self.masks.ensure(camera_id))

    def verify(self, token: str, camera_id: int) -> tokens.StreamClaims:
        """A genuine token for this engine id; one for a masked variant also starts (or keeps) the
        variant here when this process pulls its camera: a web process signed it (owner_views.py)."""
        action = Permission.view_live.value
        claims = tokens.verify(self.secret, token, camera_id, action, self.ctx.clock.now())
        if is_masked_id(camera_id) and not is_masked_id(original_id(camera_id)):
            self.masks.ensure(original_id(camera_id))
        return claims

    async def _recheck(self, claims: tokens.StreamClaims) -> bool:
        """Re-asks the policy, so revoked rights (disabled user, flag cleared, moved region) end streams."""
        return await self.may_view(claims.user_id, claims.camera_id)

    async def _recheck_periodic(self, claims: tokens.StreamClaims) -> bool:
        """`_recheck` for open streams: a user's streams due together share one visit to the database."""
        return await self._batch.may_view(claims.user_id, claims.camera_id)

    async def allowed_cameras(self, user_id: int, camera_ids: frozenset[int]) -> frozenset[int]:
        """The access policy, asked now for several cameras: those this user may watch live."""
        async with self.ctx.db.session() as session:
            user = await session.get(User, user_id)
            if user is None or user.disabled:
                return frozenset()
            principal = await accounts.principal_for(session, user)
            originals = frozenset(original_id(c) for c in camera_ids)
            allowed = await cameras.allowed_camera_ids(session, principal, originals, Permission.view_live)
            return self.masks.filter_allowed(principal, camera_ids, allowed)

    async def may_view(self, user_id: int, camera_id: int) -> bool:
        """The access policy, asked now: may this user watch this camera live?"""
        return camera_id in await self.allowed_cameras(user_id, frozenset((camera_id,)))

    async def _audit_session(self, action: str, live: LiveSession) -> None:
        async with self.ctx.db.session() as session:
            user = await session.get(User, live.user_id)
            actor = Actor(live.user_id, user.username if user else "", live.client)
            detail: dict[str, Any] = {"session": live.session_id, "kind": live.kind}
            if is_masked_id(live.camera_id):
                detail["masked"] = True
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
                at=self.ctx.clock.now(),
                target_type="camera",
                target_id=original_id(live.camera_id),
                detail=detail,
            )
            await session.commit()

    async def session_started(self, live: LiveSession) -> None:
        await self._audit_session("live.start", live)
        await self._tell_listeners("live.start", live)

    async def session_ended(self, live: LiveSession) -> None:
        await self._audit_session("live.end", live)
        await self._tell_listeners("live.end", live)

    async def _tell_listeners(self, action: str, live: LiveSession) -> None:
        for listener in list(self.session_listeners):
            try:
                await listener(action, live)
            except Exception:
                log.exception("live session listener failed for camera %s", live.camera_id)
