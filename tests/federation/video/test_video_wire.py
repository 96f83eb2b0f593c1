"""The relay's pieces without nodes: the wire frames round-trip what a channel made, long messages
survive the 1 MiB WebSocket limit in pieces, and the engine opens an on-demand camera only while its
channel has a consumer (and closes it, without calling it offline, after the last one left)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from tests.support.clips import encode_clip
from tests.support.media import ScriptedCamera
from tests.support.waits import wait_until

from xueliang.federation.video import wire
from xueliang.media.channel import Channel, Fragment, InitSegment
from xueliang.media.engine import NO_DEMAND, CameraSpec, CameraStatus, EngineConfig, MediaEngine
from xueliang.media.fmp4 import sample_nalus
from xueliang.media.frames import AccessUnit


@pytest.fixture(scope="module")
def clip() -> list[AccessUnit]:
    return encode_clip(frames=12, gop=6, camera_index=1)


def test_a_relayed_frame_is_the_access_unit_the_childs_channel_was_fed(clip: list[AccessUnit]) -> None:
    items: list[InitSegment | Fragment] = []
    channel = Channel(1)
    channel.add_listener(items.append)
    for au in clip:
        channel.push(au)
    init = items[0]
    assert isinstance(init, InitSegment)
    params = wire.decode_params(wire.encode_params(init.params))
    assert params == init.params
    fragments = [i for i in items if isinstance(i, Fragment)]
    assert len(fragments) == len(clip)
    for au, fragment in zip(clip, fragments, strict=True):
        relayed = wire.decode_frame(wire.encode_fragment(fragment), params)
        assert relayed.nalus == sample_nalus(au.params.codec, au.nalus)
        assert relayed.keyframe == au.keyframe and relayed.decode_ts == fragment.decode_time
    with pytest.raises(wire.WireError):
        wire.decode_frame(b"F\x01" + b"\x00" * 8 + b"not a fragment", params)
    with pytest.raises(wire.WireError):
        wire.decode_params(wire.encode_params(init.params)[:-1])


def test_long_messages_go_in_pieces_and_come_back_whole() -> None:
    big = b"F" + bytes(range(256)) * 9000  # about 2.3 MB: a 4K keyframe
    parts = wire.pieces(big, 1 << 20)
    assert len(parts) == 3 and all(len(p) <= (1 << 20) + 1 for p in parts)
    joiner = wire.Reassembler()
    assert [joiner.feed(p) for p in parts] == [None, None, big]
    assert joiner.feed(b"S offline") == b"S offline"  # short ones pass as they are
    joiner.feed(parts[0])
    with pytest.raises(wire.WireError):
        joiner.feed(b"F a whole frame while a long one is half there")


async def test_an_on_demand_camera_is_pulled_only_while_watched(clip: list[AccessUnit]) -> None:
    camera = ScriptedCamera({1: clip})
    config = dataclasses.replace(EngineConfig(), demand_linger=0.2)
    async with MediaEngine(camera.open, config) as engine:
        channel = engine.add_camera(CameraSpec(1, "node://x/1", on_demand=True))
        await asyncio.sleep(0.1)
        assert camera.opens == {}  # nobody watches: nothing crosses the link
        viewer = channel.open_viewer()
        await wait_until(lambda: engine.health(1).status is CameraStatus.online, what="the camera pulled")
        assert camera.opens == {1: 1}
        second = channel.open_viewer()
        viewer.close()
        await asyncio.sleep(0.4)  # one viewer left: the session goes on
        assert camera.opens == {1: 1} and engine.health(1).reason == "receiving"
        second.close()
        await wait_until(lambda: engine.health(1).reason == NO_DEMAND, what="the session to end")
        assert engine.health(1).status is CameraStatus.online  # idle, not offline
        channel.open_viewer()
        await wait_until(lambda: camera.opens.get(1) == 2, what="the next viewer to open it again")


async def test_an_idle_on_demand_camera_takes_its_owners_status_a_pulled_one_its_own(
    clip: list[AccessUnit],
) -> None:
    camera = ScriptedCamera({1: clip})
    config = dataclasses.replace(EngineConfig(), demand_linger=0.2)
    async with MediaEngine(camera.open, config) as engine:
        channel = engine.add_camera(CameraSpec(1, "node://x/1", on_demand=True))
        engine.add_camera(CameraSpec(2, "rtsp://pulled/2"))
        assert engine.health(1).status is CameraStatus.starting
        assert engine.report_status(1, CameraStatus.offline, "node x: reported")  # idle: taken
        assert (engine.health(1).status, engine.health(1).reason) == (
            CameraStatus.offline,
            "node x: reported",
        )
        assert not engine.report_status(2, CameraStatus.offline, "node x")  # not on demand: its own
        viewer = channel.open_viewer()
        await wait_until(lambda: engine.health(1).reason == "receiving", what="the camera pulled")
        assert engine.health(1).status is CameraStatus.online
        assert not engine.report_status(1, CameraStatus.offline, "node x: stale")  # pulled: the live one
        assert engine.health(1).status is CameraStatus.online
        viewer.close()
        await wait_until(lambda: engine.health(1).reason == NO_DEMAND, what="the session to end")
        assert engine.report_status(1, CameraStatus.offline, "node x: reported")
        assert engine.health(1).status is CameraStatus.offline
