"""LL-HLS packaging: segments cut at keyframes, parts, the window, and the playlist text."""

from __future__ import annotations

import asyncio
import re

from tests.support.clips import FRAME_TICKS, encode_clip
from tests.support.media import looped
from xueliang.media.channel import Channel, Fragment, InitSegment
from xueliang.media.frames import AccessUnit
from xueliang.media.hls import HlsConfig, HlsPackager, render_playlist


def packaged(
    clip: list[AccessUnit], frames: int, config: HlsConfig | None = None
) -> tuple[Channel, HlsPackager]:
    channel = Channel(1)
    packager = HlsPackager(config)
    fragments: list[Fragment] = []
    channel.add_listener(packager.on_item)
    channel.add_listener(lambda item: fragments.append(item) if isinstance(item, Fragment) else None)
    for au in looped(clip, frames):
        channel.push(au)
    channel.fragments_seen = fragments  # type: ignore[attr-defined]
    return channel, packager


def test_segments_are_cut_at_keyframes_and_made_of_parts(h264_clip: list[AccessUnit]) -> None:
    channel, packager = packaged(h264_clip, 130)  # GOP 1 s, target 2 s: two GOPs a segment
    frags: list[Fragment] = channel.fragments_seen  # type: ignore[attr-defined]
    assert [s.duration for s in packager.segments] == [50 * FRAME_TICKS, 50 * FRAME_TICKS]
    for segment in packager.segments:
        first = segment.start // FRAME_TICKS
        assert frags[first].keyframe
        assert segment.data() == b"".join(f.data for f in frags[first : first + 50])
        assert all(0 < p.duration <= 0.5 * 90_000 for p in segment.parts)
        assert sum(p.duration for p in segment.parts) == segment.duration
        assert all(p.independent == frags[p.start // FRAME_TICKS].keyframe for p in segment.parts)
        assert sum(p.independent for p in segment.parts) == 2  # each GOP starts a part
    assert packager.current is not None and packager.current.msn == 2


def test_window_slides_and_playlist_lists_what_is_kept(h264_clip: list[AccessUnit]) -> None:
    _, packager = packaged(h264_clip, 50 * 9 + 20, HlsConfig(window=4))
    assert [s.msn for s in packager.segments] == [5, 6, 7, 8]
    text = render_playlist(packager, "?token=T")
    assert "#EXT-X-MEDIA-SEQUENCE:5\n" in text
    assert "#EXT-X-TARGETDURATION:2\n" in text
    assert "CAN-BLOCK-RELOAD=YES" in text and "#EXT-X-PART-INF:PART-TARGET=0.500" in text
    assert re.findall(r"^seg(\d+)\.m4s\?token=T$", text, re.M) == ["5", "6", "7", "8"]
    assert '#EXT-X-MAP:URI="init0.mp4?token=T"' in text
    parts = re.findall(r'#EXT-X-PART:DURATION=[\d.]+,URI="part(\d+)\.(\d+)\.m4s\?token=T"', text)
    assert {int(m) for m, _ in parts} == {7, 8, 9}  # parts only near the live edge
    hint = re.search(r'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="part(\d+)\.(\d+)\.m4s\?token=T"', text)
    assert hint is not None and (int(hint[1]), int(hint[2])) == (9, 1)


def test_a_new_codec_configuration_is_a_discontinuity_with_its_own_map(h264_clip: list[AccessUnit]) -> None:
    channel = Channel(1)
    packager = HlsPackager(HlsConfig(window=3))
    channel.add_listener(packager.on_item)
    for au in looped(h264_clip, 100):
        channel.push(au)
    for au in encode_clip(frames=150, gop=25, width=192, height=128, base_ts=0):
        channel.push(au)
    text = render_playlist(packager)
    assert packager.discontinuity_sequence == 0
    assert text.count("#EXT-X-DISCONTINUITY\n") == 1
    assert text.index('#EXT-X-MAP:URI="init0.mp4"') < text.index("#EXT-X-DISCONTINUITY\n")
    assert text.index("#EXT-X-DISCONTINUITY\n") < text.index('#EXT-X-MAP:URI="init1.mp4"')
    for au in looped(encode_clip(frames=50, gop=25, width=192, height=128), 100, 150):
        channel.push(au)
    text = render_playlist(packager)
    assert "#EXT-X-DISCONTINUITY\n" not in text and packager.discontinuity_sequence == 1
    assert "#EXT-X-DISCONTINUITY-SEQUENCE:1" in text and set(packager.inits) == {1}


async def test_blocking_wait_returns_when_the_part_appears(h264_clip: list[AccessUnit]) -> None:
    channel, packager = packaged(h264_clip, 60)
    assert packager.current is not None
    msn, part = packager.current.msn, len(packager.current.parts)
    assert not await packager.wait_for(msn, part, 0.05)
    waiter = asyncio.create_task(packager.wait_for(msn, part, 5.0))
    await asyncio.sleep(0)
    assert not waiter.done()
    for au in looped(h264_clip, 20, 60):
        channel.push(au)
    assert await asyncio.wait_for(waiter, 1.0)
    assert packager.part_data(msn, part) is not None
    assert await packager.wait_for(0, None, 0.0)  # long done
    packager.close()
    assert not await packager.wait_for(msn + 1, None, 5.0)  # a closed packager answers at once


def test_packager_started_mid_stream_begins_at_the_cached_keyframe(h264_clip: list[AccessUnit]) -> None:
    channel = Channel(1)
    for au in looped(h264_clip, 40):
        channel.push(au)
    packager = HlsPackager()
    channel.add_listener(packager.on_item)
    assert isinstance(packager.inits.get(0), InitSegment)
    assert packager.current is not None and packager.current.start == 25 * FRAME_TICKS
    assert sum(len(p.data) for p in packager.current.parts) > 0
