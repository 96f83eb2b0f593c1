"""B-frames end to end without a network: RTP carries presentation times only, the assembler derives
decode times from the SPS's reorder depth, and every output (fMP4 fragments, HLS segments, RTP for the
re-serve) keeps both, so FFmpeg decodes every frame in order. Clips are real libx264/libx265 output."""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterator
from dataclasses import replace

import av
import pytest

from tests.support.clips import FRAME_TICKS, encode_clip
from xueliang.media.channel import Channel, Fragment, InitSegment
from xueliang.media.codecs import h264
from xueliang.media.codecs.params import DEFAULT_REORDER_DEPTH, reorder_depth
from xueliang.media.errors import MediaProtocolError
from xueliang.media.frames import AccessUnit, Codec, CodecParams
from xueliang.media.hls.packager import HlsConfig, HlsPackager
from xueliang.media.restream.packager import RtpPackager
from xueliang.media.rtp.assembler import FrameAssembler
from xueliang.media.rtp.h264 import H264Packetizer
from xueliang.media.rtp.h265 import H265Packetizer
from xueliang.media.rtp.packet import RtpPacket
from xueliang.media.rtp.timeline import DecodeClock, Timeline


@pytest.mark.parametrize(
    ("codec", "bframes", "depth"),
    [(Codec.h264, 0, 0), (Codec.h264, 2, 2), (Codec.h265, 0, 0), (Codec.h265, 2, 2)],
)
def test_reorder_depth_comes_from_the_encoders_sps(codec: Codec, bframes: int, depth: int) -> None:
    clip = encode_clip(codec=codec, frames=4, gop=4, bframes=bframes)
    assert reorder_depth(clip[0].params) == depth


def _check(stamps: list[tuple[int, int]]) -> None:
    """Decode times strictly increase and never pass their frame's presentation time."""
    dts = [d for _, d in stamps]
    assert dts == sorted(set(dts)), dts
    assert all(p >= d for p, d in stamps)


PYRAMID = [0, 4, 2, 1, 3, 8, 6, 5, 7, 12, 10, 9, 11, 16, 14, 13, 15]  # IBBBP with a B pyramid


def test_decode_clock_follows_a_pyramid_and_deepens_when_a_stream_understates_it() -> None:
    exact = DecodeClock(2)
    stamps = [exact.stamp(p * FRAME_TICKS) for p in PYRAMID]
    _check(stamps)
    shift = stamps[0][0]
    assert [p - shift for p, _ in stamps] == [p * FRAME_TICKS for p in PYRAMID]  # presentation kept
    assert [d - stamps[0][1] for _, d in stamps[2:]] == [i * FRAME_TICKS for i in range(2, len(PYRAMID))]

    shallow = DecodeClock(1)  # the SPS said one frame of reordering; the stream needs two
    stamps = [shallow.stamp(p * FRAME_TICKS) for p in PYRAMID]
    _check(stamps)
    assert shallow.depth == 2
    tail = [p - stamps[-8][0] for p, _ in stamps[-8:]]
    assert tail == [(p - PYRAMID[-8]) * FRAME_TICKS for p in PYRAMID[-8:]]  # exact again after the fix


def test_decode_times_run_on_across_a_reconnect() -> None:
    timeline = Timeline()
    timeline.clock = DecodeClock(2)
    stamps = []
    for session in range(3):
        timeline.new_session()
        base = 1_000_000 * (session + 1)  # each session starts somewhere else on the sender's clock
        stamps += [timeline.clock.stamp(timeline.map(base + p * FRAME_TICKS)) for p in PYRAMID[:9]]
    _check(stamps)


def test_an_h264_sps_that_does_not_say_gets_the_default_depth() -> None:
    """Main profile with POC type 0 may reorder: an SPS whose VUI ends before the bitstream restriction
    (cut short here) gets the default depth, and its picture size is still read."""
    params = encode_clip(frames=4, gop=4, bframes=2)[0].params
    assert reorder_depth(params) == 2
    cuts = [replace(params, sps=params.sps[:n]) for n in range(len(params.sps) - 1, 4, -1)]
    readable = [cut for cut in cuts if _readable(cut)]
    assert readable and all(reorder_depth(cut) == DEFAULT_REORDER_DEPTH for cut in readable)
    assert all(h264.parse_sps(cut.sps).width == 160 for cut in readable)


def _readable(params: CodecParams) -> bool:
    try:
        h264.parse_sps(params.sps)
    except MediaProtocolError:
        return False
    return True


def _rtp(units: list[AccessUnit], codec: Codec, base: int) -> Iterator[RtpPacket]:
    """The camera's side: RTP timestamps are presentation times, packets in decode order."""
    packetizer = H264Packetizer(1200) if codec is Codec.h264 else H265Packetizer(1200)
    seq = 1000
    for au in units:
        payloads = packetizer.packetize(au.nalus)
        for i, payload in enumerate(payloads):
            yield RtpPacket(
                96, seq & 0xFFFF, (base + au.pts) & 0xFFFFFFFF, 0x55, payload, i == len(payloads) - 1
            )
            seq += 1


def _decode(data: bytes, fmt: str) -> tuple[list[int], list[int]]:
    """(packet decode times, decoded frame presentation times) as FFmpeg reads `data`."""
    dts: list[int] = []
    pts: list[int] = []
    with av.open(io.BytesIO(data), "r", format=fmt) as container:
        stream = container.streams.video[0]
        for packet in container.demux(stream):
            if packet.dts is not None:
                dts.append(packet.dts)
            pts.extend(frame.pts for frame in packet.decode() if frame.pts is not None)
    return dts, pts


@pytest.mark.parametrize("codec", [Codec.h264, Codec.h265])
def test_b_frames_from_rtp_reach_fmp4_hls_and_the_re_serve_in_order(codec: Codec) -> None:
    frames = 60
    clip = encode_clip(codec=codec, frames=frames, gop=25, bframes=2)
    assert any(au.dts is not None and au.dts != au.pts for au in clip)  # the clip has B-frames
    units: list[AccessUnit] = []
    assembler = FrameAssembler(codec, 96, units.append)
    for packet in _rtp(clip, codec, 2**32 - 10 * FRAME_TICKS):  # across the 32-bit wrap
        assembler.push(packet)
    assert len(units) == frames
    _check([(au.pts, au.pts if au.dts is None else au.dts) for au in units])
    shift = units[0].pts - clip[0].pts
    assert [au.pts - shift for au in units] == [au.pts for au in clip]

    channel = Channel(1)
    items: list[InitSegment | Fragment] = []
    channel.add_listener(items.append)
    hls = HlsPackager(HlsConfig(segment_target=1.0, part_target=0.2))
    channel.add_listener(hls.on_item)
    for au in units:
        channel.push(au)
    init = items[0]
    assert isinstance(init, InitSegment)
    fragments = [item for item in items if isinstance(item, Fragment)]
    assert len(fragments) == frames

    dts, pts = _decode(init.data + b"".join(f.data for f in fragments), "mp4")
    assert len(dts) == frames and dts == sorted(set(dts))
    assert len(pts) == frames and pts == sorted(set(pts))  # every frame, shown in order
    assert {b - a for a, b in itertools.pairwise(pts)} == {FRAME_TICKS}

    assert hls.segments, "a complete segment"
    segment = hls.segments[0]
    dts, pts = _decode(init.data + segment.data(), "mp4")
    assert pts == sorted(set(pts)) and len(pts) == round(segment.duration / FRAME_TICKS)

    packager = RtpPackager(1)
    times = [packager.prepare(f, init.params)[1] for f in fragments]
    assert sorted(times) == [times[0] + i * FRAME_TICKS for i in range(frames)]  # RTP time = PTS
    assert times != sorted(times)  # and still in decode order on the wire
