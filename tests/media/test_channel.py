"""The channel: GOP cache, bounded per-viewer queues, skipping, new init segments, one timeline."""

from __future__ import annotations

import io
import itertools
import struct

import av
import pytest

from tests.support.clips import FRAME_TICKS, encode_clip, read_marker
from tests.support.media import looped
from xueliang.media.channel import (
    Channel,
    ChannelConfig,
    Fragment,
    Gap,
    InitSegment,
    Item,
    StatusNote,
    Viewer,
    ViewerClosed,
)
from xueliang.media.frames import AccessUnit


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def drain(viewer: Viewer) -> list[Item]:
    items = []
    while viewer.queued:
        item = viewer._queue[0]
        viewer._queue.popleft()
        items.append(item)
    return items


async def take(viewer: Viewer, count: int) -> list[Item]:
    return [await viewer.next() for _ in range(count)]


def fragments(items: list[Item]) -> list[Fragment]:
    return [i for i in items if isinstance(i, Fragment)]


async def test_new_viewer_starts_at_once_from_the_cached_gop(h264_clip: list[AccessUnit]) -> None:
    channel = Channel(1)
    for au in h264_clip[:35]:  # keyframes at 0 and 25
        channel.push(au)
    viewer = channel.open_viewer()
    items = await take(viewer, 11)
    assert isinstance(items[0], InitSegment)
    frags = fragments(items)
    assert [f.index for f in frags] == list(range(25, 35))
    assert frags[0].keyframe and not any(f.keyframe for f in frags[1:])
    assert viewer.queued == 0


async def test_viewer_before_the_first_keyframe_waits_for_one(h264_clip: list[AccessUnit]) -> None:
    channel = Channel(1)
    viewer = channel.open_viewer()
    for au in h264_clip[10:30]:  # starts mid-GOP: nothing decodable until frame 25
        channel.push(au)
    items = drain(viewer)
    assert isinstance(items[0], InitSegment)
    assert [f.keyframe for f in fragments(items)] == [True] + [False] * 4
    assert not any(isinstance(i, Gap) for i in items)


async def test_slow_viewer_skips_to_a_keyframe_and_fast_viewer_gets_everything(
    h264_clip: list[AccessUnit],
) -> None:
    channel = Channel(1, ChannelConfig(max_queue=10, max_skips=10))
    fast, slow = channel.open_viewer(), channel.open_viewer()
    received: list[Item] = []
    for au in looped(h264_clip, 80):
        channel.push(au)
        received.extend(drain(fast))  # the fast one keeps up, the slow one reads nothing
    assert [f.index for f in fragments(received)] == list(range(80))
    assert channel.stats().skips >= 1 and channel.stats().drops > 0
    items = drain(slow)
    assert isinstance(items[0], Gap) and items[0].dropped > 0
    assert isinstance(items[1], InitSegment)  # its first init was dropped with the queue
    resumed = fragments(items)
    assert resumed[0].keyframe and resumed[0].index % 25 == 0
    assert [f.index for f in resumed] == list(range(resumed[0].index, 80))
    assert slow.skips == channel.stats().skips and slow.drops == channel.stats().drops


async def test_direct_sender_takes_fragments_only_in_order_and_a_backed_up_one_still_skips(
    h264_clip: list[AccessUnit],
) -> None:
    """`Viewer.direct` (the live WebSocket's write-at-once path): offered a fragment only while the
    queue is empty, so order holds; counted as taken; while it declines (socket backed up) fragments
    queue, and the viewer is skipped to a keyframe and resumes with a Gap exactly as without it."""
    channel = Channel(1, ChannelConfig(max_queue=10, max_skips=10))
    viewer = channel.open_viewer()
    sent: list[Fragment] = []
    writable = True

    def direct(fragment: Fragment) -> bool:
        if writable:
            sent.append(fragment)
        return writable

    viewer.direct = direct
    clip = looped(h264_clip, 120)
    for au in clip[:5]:
        channel.push(au)
    assert isinstance(drain(viewer)[0], InitSegment) and sent == []  # the init segment is queued
    for au in clip[5:40]:
        channel.push(au)
    assert viewer.queued == 0 and [f.index for f in sent] == list(range(5, 40))
    assert viewer.fragments == 35 and viewer.bytes == sum(len(f.data) for f in sent)
    assert channel.stats().frames_out == 35

    writable = False  # the socket is backed up: the queue fills and overflows at frame 50, a keyframe
    for au in clip[40:55]:
        channel.push(au)
    assert viewer.skips == 1 and viewer.drops == 10 and len(sent) == 35
    writable = True
    for au in clip[55:58]:
        channel.push(au)
    assert len(sent) == 35  # the Gap and fragments are queued: direct must wait its turn
    items = drain(viewer)
    assert isinstance(items[0], Gap) and items[0].dropped == 10
    resumed = fragments(items)
    assert resumed[0].keyframe and [f.index for f in resumed] == list(range(50, 58))
    for au in clip[58:70]:
        channel.push(au)
    assert viewer.queued == 0 and [f.index for f in sent[35:]] == list(range(58, 70))


async def test_hopeless_viewer_is_closed_with_a_reason(h264_clip: list[AccessUnit]) -> None:
    channel = Channel(1, ChannelConfig(max_queue=5, max_skips=2))
    stuck = channel.open_viewer()
    for au in looped(h264_clip, 100):
        channel.push(au)
    with pytest.raises(ViewerClosed, match="too slow"):
        await stuck.next()
    stats = channel.stats()
    assert stats.viewers == 0 and stats.viewers_dropped == 1


async def test_stalled_viewer_is_closed_after_the_stall_timeout(h264_clip: list[AccessUnit]) -> None:
    clock = FakeClock()
    channel = Channel(1, ChannelConfig(stall_timeout=3.0), clock=clock)
    viewer = channel.open_viewer()
    channel.push(h264_clip[0])
    clock.now += 2.9
    channel.push(h264_clip[1])
    assert viewer.closed_reason is None
    clock.now += 0.2
    channel.push(h264_clip[2])
    assert viewer.closed_reason is not None and viewer.closed_reason.startswith("stalled")
    with pytest.raises(ViewerClosed):
        await viewer.next()


async def test_idle_viewer_is_not_stalled_when_frames_come_back_in_a_burst(
    h264_clip: list[AccessUnit],
) -> None:
    clock = FakeClock()
    channel = Channel(1, ChannelConfig(stall_timeout=3.0), clock=clock)
    viewer = channel.open_viewer()
    channel.push(h264_clip[0])
    await take(viewer, 2)  # init and keyframe: the viewer is idle now, waiting
    clock.now += 30  # the camera was away
    for au in h264_clip[1:4]:  # frames return faster than the viewer's task gets to run
        channel.push(au)
    assert viewer.closed_reason is None and viewer.queued == 3


async def test_new_codec_parameters_bring_a_new_init_segment(h264_clip: list[AccessUnit]) -> None:
    bigger = encode_clip(frames=20, gop=10, width=192, height=128, camera_index=3)
    channel = Channel(1)
    viewer = channel.open_viewer()
    for au in h264_clip[:20]:
        channel.push(au)
    for au in bigger:
        channel.push(au)
    items = drain(viewer)
    inits = [i for i in items if isinstance(i, InitSegment)]
    assert [(i.epoch, i.track.width, i.track.height) for i in inits] == [(0, 160, 96), (1, 192, 128)]
    cut = items.index(inits[1])
    for init, part, marker in ((inits[0], items[1:cut], 0), (inits[1], items[cut + 1 :], 3)):
        data = init.data + b"".join(f.data for f in fragments(part))
        with av.open(io.BytesIO(data), "r") as container:
            frames = list(container.decode(video=0))
        assert len(frames) == 20 and {read_marker(f) for f in frames} == {marker}
    times = [f.decode_time for f in fragments(items)]
    assert times == [i * FRAME_TICKS for i in range(40)]  # one timeline across both configurations


async def test_timestamp_reset_is_bridged_and_offline_waits_for_a_keyframe(
    h264_clip: list[AccessUnit],
) -> None:
    channel = Channel(1)
    viewer = channel.open_viewer()
    for au in h264_clip[:30]:
        channel.push(au)
    channel.set_online(False, "no data for 10 s")
    restarted = encode_clip(frames=30, gop=25, base_ts=0)  # a camera reboot: time starts over
    for au in restarted[5:30]:
        channel.push(au)
    items = drain(viewer)
    assert StatusNote(False, "no data for 10 s") in items
    frags = fragments(items)
    assert len(frags) == 30 + 5  # frames 5..24 after the restart are not decodable; 25.. are
    times = [f.decode_time for f in frags]
    assert all(b - a == FRAME_TICKS for a, b in itertools.pairwise(times))
    assert frags[30].keyframe


def test_stats_report_rate_and_counts(h264_clip: list[AccessUnit]) -> None:
    clock = FakeClock()
    wall = FakeClock()
    channel = Channel(7, ChannelConfig(stats_window=2.0), clock=clock, wall=wall)
    sizes = []
    for au in looped(h264_clip, 100):
        channel.push(au)
        sizes.append(channel._gop[-1].data if channel._gop else b"")
        clock.now += 0.04
        wall.now += 0.04
    clock.now -= 0.03  # the 2 s window now holds the last 50 frames, 1.96 s from first to last
    stats = channel.stats()
    assert stats.fps == pytest.approx(25.0, rel=0.01)
    assert stats.bitrate_bps == pytest.approx(sum(len(s) for s in sizes[-49:]) * 8 / 1.96, rel=0.001)
    assert (stats.frames_in, stats.fragments, stats.codec) == (
        100,
        100,
        "avc1." + h264_clip[0].params.sps[1:4].hex(),
    )
    assert stats.last_keyframe_at == pytest.approx(1000.0 + 75 * 0.04)
    clock.now += 5
    assert channel.stats().fps == 0.0  # a silent camera has no rate


def test_listener_sees_the_gop_then_live_fragments_and_a_failing_one_is_removed(
    h264_clip: list[AccessUnit],
) -> None:
    channel = Channel(1)
    for au in h264_clip[:30]:
        channel.push(au)
    seen: list[InitSegment | Fragment] = []
    remove = channel.add_listener(seen.append)

    def broken(item: InitSegment | Fragment) -> None:
        if isinstance(item, Fragment) and item.index >= 32:
            raise RuntimeError("listener bug")

    channel.add_listener(broken)
    for au in h264_clip[30:40]:
        channel.push(au)
    assert isinstance(seen[0], InitSegment)
    assert [f.index for f in fragments(list(seen))] == list(range(25, 40))
    remove()
    channel.push(h264_clip[40])
    assert len(seen) == 16 and channel.fragments == 41
    assert channel._listeners == []  # the failing listener was detached, the channel carried on


async def test_closing_the_channel_wakes_a_waiting_viewer() -> None:
    channel = Channel(1)
    viewer = channel.open_viewer()
    channel.close("camera removed")
    with pytest.raises(ViewerClosed, match="camera removed"):
        await viewer.next()
    with pytest.raises(ViewerClosed):
        channel.open_viewer()


def test_fragment_sequence_numbers_run_on(h264_clip: list[AccessUnit]) -> None:
    channel = Channel(1)
    viewer = channel.open_viewer()
    for au in h264_clip[:5]:
        channel.push(au)
    seqs = [struct.unpack_from(">I", f.data, 20)[0] for f in fragments(drain(viewer))]
    assert seqs == [1, 2, 3, 4, 5]
