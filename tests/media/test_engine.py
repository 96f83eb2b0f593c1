"""The engine: one pull per camera, health and its events, failure isolation, backoff, clean shutdown."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable

import pytest

from tests.support.media import ScriptedCamera, looped
from tests.support.waits import wait_until
from xueliang.media.channel import Fragment, ViewerClosed
from xueliang.media.engine import (
    CameraSpec,
    CameraStatus,
    EngineConfig,
    HealthEvent,
    MediaEngine,
    UnknownCamera,
)
from xueliang.media.frames import AccessUnit, Codec, CodecParams


def fast_config(**changes: object) -> EngineConfig:
    settings: dict[str, object] = {"stale_after": 0.3, "backoff": (0.05, 0.1), "housekeeping_every": 0.05}
    settings.update(changes)
    return EngineConfig(**settings)  # type: ignore[arg-type]


async def collect(events: list[HealthEvent], source: AsyncIterator[HealthEvent]) -> None:
    async for event in source:
        events.append(event)


async def test_camera_health_goes_online_offline_and_back(clips: dict[int, list[AccessUnit]]) -> None:
    tasks_before = asyncio.all_tasks()
    camera = ScriptedCamera(clips)
    engine = MediaEngine(camera.open, fast_config())
    await engine.start([CameraSpec(1)])
    events: list[HealthEvent] = []
    subscription = engine.subscribe()
    listener = asyncio.create_task(collect(events, subscription))
    await wait_until(lambda: engine.health(1).status is CameraStatus.online, what="online")
    await wait_until(lambda: engine.health(1).frames_in >= 30, what="frames")
    health = engine.health(1)
    assert health.fps > 50 and health.bitrate_bps > 0 and health.last_keyframe_at is not None
    assert (
        health.codec is not None
        and health.codec.startswith("avc1.")
        and (health.width, health.height) == (160, 96)
    )

    camera.live.clear()  # connected but silent, like a camera whose encoder hung
    silent_at = asyncio.get_running_loop().time()
    await wait_until(lambda: engine.health(1).status is CameraStatus.offline, within=2.0, what="offline")
    took = asyncio.get_running_loop().time() - silent_at
    assert 0.25 <= took <= 1.0, took  # stale_after is 0.3 s
    assert engine.health(1).reason == "no data for 0.3 s"

    camera.live.set()
    await wait_until(lambda: engine.health(1).status is CameraStatus.online, within=2.0, what="back online")
    assert engine.health(1).reconnects >= 1 and camera.opens[1] >= 2
    await wait_until(lambda: len(events) >= 3, what="events")
    assert [(e.camera_id, e.status) for e in events[:3]] == [
        (1, CameraStatus.online),
        (1, CameraStatus.offline),
        (1, CameraStatus.online),
    ]
    await engine.stop()
    await asyncio.wait_for(listener, 1.0)  # subscriptions end with the engine
    assert events[-1].status is CameraStatus.stopped
    assert asyncio.all_tasks() == tasks_before


async def test_a_failing_source_ends_only_its_own_camera(clips: dict[int, list[AccessUnit]]) -> None:
    camera = ScriptedCamera(clips)
    camera.fail_next[2] = ValueError("malformed SDP")
    async with MediaEngine(camera.open, fast_config()) as engine:
        engine.add_camera(CameraSpec(1))
        engine.add_camera(CameraSpec(2))
        await wait_until(lambda: engine.health(2).reconnects >= 1, what="camera 2 retried")
        await wait_until(lambda: engine.health(2).status is CameraStatus.online, what="camera 2 recovered")
        assert engine.health(1).status is CameraStatus.online
        assert engine.health(1).reconnects == 0


async def test_reconnect_backoff_steps_then_repeats_the_last() -> None:
    waits: list[float] = []
    attempts = asyncio.Event()

    async def record(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) >= 6:
            attempts.set()
        await asyncio.sleep(0)

    async def refused(spec: CameraSpec) -> AsyncIterator[AccessUnit]:
        raise ConnectionRefusedError("camera down")
        yield  # pragma: no cover

    engine = MediaEngine(refused, EngineConfig(), sleep=record)
    async with engine:
        engine.add_camera(CameraSpec(9))
        await asyncio.wait_for(attempts.wait(), 2.0)
        health = engine.health(9)
    assert waits[:6] == [1.0, 2.0, 5.0, 10.0, 10.0, 10.0]
    assert health.status is CameraStatus.offline and "ConnectionRefusedError: camera down" in health.reason


async def test_one_pull_per_camera_however_many_viewers(clips: dict[int, list[AccessUnit]]) -> None:
    camera = ScriptedCamera(clips)
    async with MediaEngine(camera.open, fast_config()) as engine:
        channel = engine.add_camera(CameraSpec(3))
        viewers = [channel.open_viewer() for _ in range(20)]
        firsts = [await asyncio.wait_for(v.next(), 2.0) for v in viewers]
        assert all(type(item).__name__ == "InitSegment" for item in firsts)
        await wait_until(lambda: all(v.queued >= 5 for v in viewers), what="fan-out")
        assert camera.opens == {3: 1}
        assert engine.health(3).viewers == 20
        seconds = [await v.next() for v in viewers]
        assert all(isinstance(s, Fragment) and s.keyframe for s in seconds)
    with pytest.raises(ViewerClosed, match="engine stopped"):
        while True:
            await viewers[0].next()


async def test_hls_packager_is_made_on_demand_and_dropped_when_idle(
    clips: dict[int, list[AccessUnit]],
) -> None:
    camera = ScriptedCamera(clips)
    async with MediaEngine(camera.open, fast_config(hls_idle=0.2)) as engine:
        engine.add_camera(CameraSpec(1))
        await wait_until(lambda: engine.health(1).frames_in > 0, what="frames")
        packager = engine.hls(1)
        assert engine.hls(1) is packager
        await wait_until(lambda: packager.closed, within=2.0, what="idle packager dropped")
        assert engine.hls(1) is not packager
        with pytest.raises(UnknownCamera):
            engine.hls(99)
        await engine.remove_camera(1)
        assert not engine.has_camera(1)


async def test_disabled_camera_has_a_channel_but_no_source(clips: dict[int, list[AccessUnit]]) -> None:
    camera = ScriptedCamera(clips)
    async with MediaEngine(camera.open, fast_config()) as engine:
        engine.add_camera(CameraSpec(1, enabled=False))
        assert engine.health(1).status is CameraStatus.stopped and camera.opens == {}
        with pytest.raises(ValueError, match="already"):
            engine.add_camera(CameraSpec(1))


class PushingCamera:
    """A source with `pump`, like the RTSP client: frames go to the engine's sink from timer callbacks
    (no task per frame), and iterating it is an error. `live` cleared: connected but silent."""

    def __init__(self, clip: list[AccessUnit], interval: float = 0.005) -> None:
        self.clip = clip
        self.interval = interval
        self.live = True
        self.opens = 0
        self.closes = 0
        self.sent = 0
        self.broken_after: int | None = None  # frames before one whose parameter sets cannot be read

    def open(self, spec: CameraSpec) -> PushingCamera.Session:
        self.opens += 1
        return PushingCamera.Session(self)

    class Session:
        def __init__(self, camera: PushingCamera) -> None:
            self.camera = camera
            self.done: asyncio.Future[None] | None = None
            self.timer: asyncio.TimerHandle | None = None

        def __aiter__(self) -> PushingCamera.Session:
            return self

        async def __anext__(self) -> AccessUnit:
            raise AssertionError("the engine iterated a source that can pump")

        async def pump(self, sink: Callable[[AccessUnit], None]) -> None:
            loop = asyncio.get_running_loop()
            self.done = loop.create_future()
            camera = self.camera

            def tick() -> None:
                self.timer = loop.call_later(camera.interval, tick)
                if not camera.live:
                    return
                au = looped(camera.clip, 1, camera.sent)[0]
                if camera.broken_after is not None and camera.sent >= camera.broken_after:
                    camera.broken_after = None
                    bad = CodecParams(Codec.h264, b"", b"")
                    au = dataclasses.replace(au, params=bad, keyframe=True)
                camera.sent += 1
                try:
                    sink(au)
                except Exception as exc:
                    assert self.done is not None
                    if not self.done.done():
                        self.done.set_exception(exc)

            tick()
            try:
                await self.done
            finally:
                self.timer.cancel()

        async def aclose(self) -> None:
            self.camera.closes += 1
            if self.timer is not None:
                self.timer.cancel()


async def test_a_pumping_source_goes_online_offline_when_silent_and_back(
    clips: dict[int, list[AccessUnit]],
) -> None:
    """The push path: no task switch and no timer reschedule per frame, yet the same health: online at
    the first frame, offline after `stale_after` of silence (the watchdog), reconnected, closed."""
    camera = PushingCamera(clips[1])
    async with MediaEngine(camera.open, fast_config()) as engine:
        channel = engine.add_camera(CameraSpec(1))
        viewer = channel.open_viewer()
        await wait_until(lambda: engine.health(1).status is CameraStatus.online, what="online")
        await wait_until(lambda: engine.health(1).frames_in >= 30, what="frames")
        items = [await asyncio.wait_for(viewer.next(), 1.0) for _ in range(10)]
        assert type(items[0]).__name__ == "InitSegment"
        fragments = [i for i in items if isinstance(i, Fragment)]
        assert len(fragments) >= 8 and fragments[0].keyframe
        assert [f.index for f in fragments] == list(range(len(fragments)))

        camera.live = False
        silent_at = asyncio.get_running_loop().time()
        await wait_until(lambda: engine.health(1).status is CameraStatus.offline, within=2.0, what="offline")
        took = asyncio.get_running_loop().time() - silent_at
        assert 0.25 <= took <= 1.0, took  # stale_after is 0.3 s
        assert engine.health(1).reason == "no data for 0.3 s" and camera.closes == 1

        camera.live = True
        await wait_until(lambda: engine.health(1).status is CameraStatus.online, within=2.0, what="back")
        assert engine.health(1).reconnects >= 1 and camera.opens >= 2
    assert camera.closes == camera.opens


async def test_what_the_channel_raises_inside_a_pump_ends_that_session(
    clips: dict[int, list[AccessUnit]],
) -> None:
    camera = PushingCamera(clips[2])
    camera.broken_after = 20
    async with MediaEngine(camera.open, fast_config()) as engine:
        events: list[HealthEvent] = []
        listener = asyncio.create_task(collect(events, engine.subscribe()))
        engine.add_camera(CameraSpec(2))
        await wait_until(lambda: len(events) >= 3, what="offline and back")
        online, offline = CameraStatus.online, CameraStatus.offline
        assert [e.status for e in events[:3]] == [online, offline, online]
        assert events[1].reason == "InitSegmentError: SPS and PPS are required"
        assert camera.closes >= 1 and camera.sent >= 21
    await listener
