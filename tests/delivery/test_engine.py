"""The engine: one pull per camera, health and its events, failure isolation, backoff, clean shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from xueliang.media.channel import Fragment, ViewerClosed
from xueliang.media.engine import (
    CameraSpec,
    CameraStatus,
    EngineConfig,
    HealthEvent,
    MediaEngine,
    UnknownCamera,
)
from xueliang.media.frames import AccessUnit

from .support import ScriptedCamera, wait_until


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
