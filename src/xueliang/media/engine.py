"""The media engine: one channel and one source task per enabled camera, health, and HLS on demand.

Each camera's source task opens `open_source(camera)` (the RTSP client, the simulator, a file) and
pushes what it yields into the camera's channel, so a camera is pulled once however many viewers it
has. A source that yields nothing for `stale_after` seconds, ends, or raises ends only that camera's
session: the camera is marked offline with the reason and reopened after the next backoff step.
Health changes are published to subscribers as `HealthEvent`s.

HLS packagers are created on the first HLS request for a camera and dropped after `hls_idle` seconds
without one, so cameras nobody watches over HLS cost no memory for segments.

A camera whose spec says `on_demand` (a camera hosted by a child node, pulled across the link) is
opened only while its channel has a consumer (a viewer, the HLS packager, the recorder) and closed
`demand_linger` seconds after the last one left; an idle camera keeps its status (the end of a session
for want of viewers is not the camera going offline)."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol, Self

from xueliang.media.audio.channel import AudioChannel
from xueliang.media.channel import Channel, ChannelConfig
from xueliang.media.errors import MediaError
from xueliang.media.frames import AccessUnit
from xueliang.media.hls import HlsConfig, HlsPackager

log = logging.getLogger(__name__)

BACKOFF = (1.0, 2.0, 5.0, 10.0)


@dataclass(frozen=True, slots=True)
class CameraSpec:
    """What a source needs to open a camera; `options` is for the source (transport, credentials...)."""

    camera_id: int
    url: str = ""
    name: str = ""
    enabled: bool = True
    options: Mapping[str, object] = field(default_factory=dict)
    on_demand: bool = False  # pulled only while someone consumes the channel (see the module docstring)


SourceFactory = Callable[[CameraSpec], AsyncIterator[AccessUnit]]
"""Opens one session to a camera. The engine iterates it, or, when it has `pump` (see `PushSource`),
lets it push; it calls `aclose()`, when present, once the session is over."""
FrameSink = Callable[[AccessUnit], None]


class PushSource(Protocol):
    """A source session that can hand every access unit to `sink` synchronously, from the callback
    that completed it (no task switch per frame). `pump` returns when the source ends and raises what
    ended it otherwise, including anything `sink` raised."""

    def pump(self, sink: FrameSink) -> Awaitable[None]: ...


class CameraStatus(enum.StrEnum):
    starting = "starting"
    online = "online"
    offline = "offline"
    stopped = "stopped"


@dataclass(frozen=True, slots=True)
class HealthEvent:
    camera_id: int
    status: CameraStatus
    reason: str
    at: float  # Unix time
    reconnects: int


@dataclass(frozen=True, slots=True)
class CameraHealth:
    camera_id: int
    status: CameraStatus
    reason: str
    since: float  # Unix time of the last status change
    reconnects: int
    fps: float
    bitrate_bps: float
    last_keyframe_at: float | None
    last_frame_at: float | None
    viewers: int
    frames_in: int
    drops: int
    codec: str | None
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class EngineConfig:
    stale_after: float = 10.0  # no access unit for this long: offline
    backoff: Sequence[float] = BACKOFF  # waits before reopening; the last repeats
    hls_idle: float = 60.0  # drop a camera's HLS packager after this long without a request
    housekeeping_every: float = 5.0
    subscriber_queue: int = 1000  # health events buffered per subscriber; the oldest go first
    demand_linger: float = 5.0  # an on-demand source is closed this long after its last consumer left
    channel: ChannelConfig = field(default_factory=ChannelConfig)
    hls: HlsConfig = field(default_factory=HlsConfig)


class HealthSubscription:
    """An async iterator of health events; close it (or leave its `async with`) to unsubscribe."""

    def __init__(self, engine: MediaEngine, maxlen: int) -> None:
        self._engine = engine
        self._events: deque[HealthEvent] = deque(maxlen=maxlen)
        self._wakeup = asyncio.Event()
        self._closed = False
        self.lost = 0  # events dropped because this subscriber fell behind

    def _put(self, event: HealthEvent) -> None:
        if len(self._events) == self._events.maxlen:
            self.lost += 1
        self._events.append(event)
        self._wakeup.set()

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> HealthEvent:
        while not self._events:
            if self._closed:
                raise StopAsyncIteration
            self._wakeup.clear()
            await self._wakeup.wait()
        return self._events.popleft()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._wakeup.set()
            self._engine._subscribers.discard(self)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


@dataclass(slots=True)
class _Camera:
    spec: CameraSpec
    channel: Channel
    status: CameraStatus = CameraStatus.starting
    reason: str = "starting"
    since: float = 0.0
    reconnects: int = 0
    task: asyncio.Task[None] | None = None
    hls: HlsPackager | None = None
    hls_detach: Callable[[], None] | None = None
    hls_used: float = 0.0
    audio: AudioChannel | None = None  # the camera's sound, when its spec asks for it (options["audio"])
    pulling: bool = False  # a source session is open (an on-demand camera: someone consumes it)


NO_DEMAND = "on demand: no viewers"


class UnknownCamera(KeyError):
    """The engine has no channel for this camera id (unknown, disabled or removed)."""


class MediaEngine:
    """Owns channels and source tasks. Use `async with MediaEngine(...)` or `start()`/`stop()`."""

    def __init__(
        self,
        open_source: SourceFactory,
        config: EngineConfig | None = None,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._open_source = open_source
        self.config = config or EngineConfig()
        self._sleep = sleep
        self._clock = clock
        self._wall = wall
        self._cameras: dict[int, _Camera] = {}
        self._subscribers: set[HealthSubscription] = set()
        self._housekeeper: asyncio.Task[None] | None = None
        self._running = False

    # -- lifecycle -----------------------------------------------------------------------------------

    async def start(self, cameras: Iterable[CameraSpec] = ()) -> None:
        self._running = True
        self._housekeeper = asyncio.create_task(self._housekeeping(), name="media-housekeeping")
        for spec in cameras:
            self.add_camera(spec)

    async def stop(self) -> None:
        """Stop every source task, close every channel (viewers get ViewerClosed) and subscription."""
        self._running = False
        tasks = [t for t in (self._housekeeper, *(c.task for c in self._cameras.values())) if t]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for camera_id in list(self._cameras):
            self._drop_camera(camera_id, "engine stopped")
        for subscription in list(self._subscribers):
            subscription.close()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    def add_camera(self, spec: CameraSpec) -> Channel:
        """Create the camera's channel and, if it is enabled, its source task. Replaces nothing."""
        if spec.camera_id in self._cameras:
            raise ValueError(f"camera {spec.camera_id} is already in the engine")
        if not self._running:
            raise RuntimeError("start the engine before adding cameras")
        channel = Channel(spec.camera_id, self.config.channel, clock=self._clock, wall=self._wall)
        camera = _Camera(spec, channel, since=self._wall())
        if spec.options.get("audio"):
            camera.audio = AudioChannel(spec.camera_id)
        self._cameras[spec.camera_id] = camera
        if spec.enabled:
            camera.task = asyncio.create_task(self._run_source(camera), name=f"media-source-{spec.camera_id}")
        else:
            self._set_status(camera, CameraStatus.stopped, "disabled")
        return channel

    async def remove_camera(self, camera_id: int) -> None:
        """Stop the camera's source task and close its channel and viewers."""
        camera = self._cameras.get(camera_id)
        if camera is None:
            return
        if camera.task is not None:
            camera.task.cancel()
            await asyncio.gather(camera.task, return_exceptions=True)
        self._drop_camera(camera_id, "camera removed")

    def _drop_camera(self, camera_id: int, reason: str) -> None:
        camera = self._cameras.pop(camera_id)
        self._close_hls(camera)
        if camera.audio is not None:
            camera.audio.close()
        camera.channel.close(reason)
        self._set_status(camera, CameraStatus.stopped, reason)

    # -- sources -------------------------------------------------------------------------------------

    async def _run_source(self, camera: _Camera) -> None:
        backoff = self.config.backoff
        failures = -1  # consecutive sessions without a frame; the first wait is backoff[0] either way
        while True:
            if camera.spec.on_demand:
                await self._demand(camera.channel)
            camera.pulling = True
            try:
                delivered, reason = await self._session(camera)
            finally:
                camera.pulling = False
            camera.channel.set_online(False, reason)
            if reason == NO_DEMAND:  # nobody watches: not a fault, no backoff, the status stays
                camera.reason, failures = reason, -1
                continue
            self._set_status(camera, CameraStatus.offline, reason)
            failures = 0 if delivered else failures + 1
            await self._sleep(backoff[min(failures, len(backoff) - 1)])
            camera.reconnects += 1

    @staticmethod
    async def _demand(channel: Channel) -> None:
        """Returns once the channel has a consumer (woken by the channel, never polled)."""
        while channel.consumers == 0:
            wake = asyncio.Event()
            channel.on_demand_change = wake.set
            try:
                await wake.wait()
            finally:
                channel.on_demand_change = None

    async def _session(self, camera: _Camera) -> tuple[bool, str]:
        """Pull one source session into the channel; returns whether any frame came, and why it ended.

        A source with `pump` hands each access unit over synchronously from the callback that read it;
        any other is iterated. Either way nothing is rescheduled per frame: a watchdog timer wakes once
        per `stale_after` and expires the deadline when no frame came for that long."""
        stale = self.config.stale_after
        loop = asyncio.get_running_loop()
        channel = camera.channel
        delivered = False
        last = loop.time()
        source: AsyncIterator[AccessUnit] | None = None
        deadline = asyncio.timeout(None)
        watchdog: asyncio.TimerHandle | None = None
        idle: asyncio.TimerHandle | None = None
        no_demand = False

        def check() -> None:
            nonlocal watchdog
            now = loop.time()
            if now - last >= stale:
                watchdog = None
                deadline.reschedule(now)  # expires at once: the session ends with TimeoutError
            else:
                watchdog = loop.call_at(last + stale, check)

        def demand_gone() -> None:
            nonlocal idle, no_demand
            idle = None
            if channel.consumers == 0:
                no_demand = True
                deadline.reschedule(loop.time())

        def demand_changed() -> None:
            nonlocal idle
            if channel.consumers == 0 and idle is None:
                idle = loop.call_later(self.config.demand_linger, demand_gone)

        def on_frame(au: AccessUnit) -> None:
            nonlocal delivered, last
            channel.push(au)
            last = loop.time()
            if not delivered:
                delivered = True
                channel.set_online(True, "receiving")
                self._set_status(camera, CameraStatus.online, "receiving")

        try:
            async with deadline:
                watchdog = loop.call_at(last + stale, check)
                if camera.spec.on_demand:
                    channel.on_demand_change = demand_changed
                    demand_changed()
                source = self._open_source(camera.spec)
                if camera.audio is not None and hasattr(source, "audio_sink"):
                    source.audio_sink = camera.audio.push  # beside the video: see media/audio/channel.py
                pump: Callable[[FrameSink], Awaitable[None]] | None = getattr(source, "pump", None)
                if pump is not None:
                    await pump(on_frame)
                else:
                    async for au in source:
                        on_frame(au)
            reason = "source ended"
        except Exception as exc:
            if isinstance(exc, TimeoutError) and deadline.expired() and no_demand:
                reason = NO_DEMAND
            elif isinstance(exc, TimeoutError) and deadline.expired():
                reason = f"no data for {stale:g} s"
            else:
                # A camera's own faults (refused, malformed reply) are expected: one line, no traceback.
                expected = isinstance(exc, MediaError)
                reason = str(exc) if expected else f"{type(exc).__name__}: {exc}"
                log.warning(
                    "camera %s: source failed: %s", camera.spec.camera_id, reason, exc_info=not expected
                )
        finally:
            if watchdog is not None:
                watchdog.cancel()
            if idle is not None:
                idle.cancel()
            if camera.spec.on_demand:
                channel.on_demand_change = None
            aclose = getattr(source, "aclose", None)
            if aclose is not None:
                with contextlib.suppress(Exception):
                    await aclose()
        log.info("camera %s: session ended: %s", camera.spec.camera_id, reason)
        return delivered, reason

    # -- health --------------------------------------------------------------------------------------

    def _set_status(self, camera: _Camera, status: CameraStatus, reason: str) -> None:
        camera.reason = reason
        if status is camera.status:
            return
        camera.status = status
        camera.since = self._wall()
        event = HealthEvent(camera.spec.camera_id, status, reason, camera.since, camera.reconnects)
        for subscription in list(self._subscribers):
            subscription._put(event)

    def report_status(self, camera_id: int, status: CameraStatus, reason: str) -> bool:
        """The status an on-demand camera's owner reported (a camera of a child node), shown while the
        engine does not pull it: an idle relayed camera then reads as its owner sees it, not "starting".
        Ignored while a session is open (the engine's own status is the live one); returns whether taken."""
        camera = self._cameras.get(camera_id)
        if camera is None or not camera.spec.on_demand or camera.pulling:
            return False
        self._set_status(camera, status, reason)
        return True

    def subscribe(self) -> HealthSubscription:
        """Health events from now on (status changes only); iterate with `async for`, then `close()`."""
        subscription = HealthSubscription(self, self.config.subscriber_queue)
        if not self._running:
            subscription.close()
        self._subscribers.add(subscription)
        return subscription

    def health(self, camera_id: int) -> CameraHealth:
        camera = self._camera(camera_id)
        stats = camera.channel.stats()
        return CameraHealth(
            camera_id=camera_id,
            status=camera.status,
            reason=camera.reason,
            since=camera.since,
            reconnects=camera.reconnects,
            fps=stats.fps,
            bitrate_bps=stats.bitrate_bps,
            last_keyframe_at=stats.last_keyframe_at,
            last_frame_at=stats.last_frame_at,
            viewers=stats.viewers,
            frames_in=stats.frames_in,
            drops=stats.drops,
            codec=stats.codec,
            width=stats.width,
            height=stats.height,
        )

    def health_all(self) -> list[CameraHealth]:
        return [self.health(camera_id) for camera_id in sorted(self._cameras)]

    # -- access for sinks ----------------------------------------------------------------------------

    def _camera(self, camera_id: int) -> _Camera:
        camera = self._cameras.get(camera_id)
        if camera is None:
            raise UnknownCamera(camera_id)
        return camera

    def has_camera(self, camera_id: int) -> bool:
        return camera_id in self._cameras

    def spec(self, camera_id: int) -> CameraSpec | None:
        """What the camera's source was opened with (None: not in the engine)."""
        camera = self._cameras.get(camera_id)
        return camera.spec if camera is not None else None

    def channel(self, camera_id: int) -> Channel:
        """The camera's channel; raises UnknownCamera."""
        return self._camera(camera_id).channel

    def audio(self, camera_id: int) -> AudioChannel | None:
        """The camera's sound (None: its audio is off); raises UnknownCamera."""
        return self._camera(camera_id).audio

    def hls(self, camera_id: int) -> HlsPackager:
        """The camera's HLS packager, created (from the cached GOP) on first use; raises UnknownCamera."""
        camera = self._camera(camera_id)
        camera.hls_used = self._clock()
        if camera.hls is None:
            camera.hls = HlsPackager(self.config.hls)
            camera.hls_detach = camera.channel.add_listener(camera.hls.on_item)
        return camera.hls

    def _close_hls(self, camera: _Camera) -> None:
        if camera.hls_detach is not None:
            camera.hls_detach()
        if camera.hls is not None:
            camera.hls.close()
        camera.hls = camera.hls_detach = None

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(self.config.housekeeping_every)
            now = self._clock()
            for camera in self._cameras.values():
                if camera.hls is not None and now - camera.hls_used > self.config.hls_idle:
                    self._close_hls(camera)
