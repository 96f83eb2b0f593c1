"""The fMP4 we write is read back by FFmpeg (through PyAV), an implementation that is not ours."""

from __future__ import annotations

import contextlib
import io
import struct
from fractions import Fraction

import av
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.clips import FRAME_TICKS, encode_clip, read_marker
from xueliang.media.codecs.h264 import parse_sps as parse_h264_sps
from xueliang.media.codecs.h265 import parse_sps as parse_h265_sps
from xueliang.media.errors import MediaProtocolError
from xueliang.media.fmp4 import FragmentWriter, InitSegmentError, build_init, sample_nalus
from xueliang.media.frames import AccessUnit, Codec, CodecParams


def mux(clip: list[AccessUnit], duration: int = FRAME_TICKS) -> bytes:
    """Init segment plus one fragment per frame, decode times relative to the first frame."""
    writer = FragmentWriter()
    codec = clip[0].params.codec
    out = [build_init(clip[0].params).data]
    base = clip[0].decode_ts
    for au in clip:
        cts = None if au.dts is None else au.pts - au.dts
        nalus = sample_nalus(codec, au.nalus)
        out.append(writer.write(au.decode_ts - base, duration, au.keyframe, nalus, cts))
    return b"".join(out)


def decode(data: bytes) -> list[av.VideoFrame]:
    with av.open(io.BytesIO(data), "r") as container:
        return list(container.decode(video=0))


def boxes(data: bytes, offset: int = 0, end: int | None = None) -> list[tuple[bytes, int, int]]:
    """(type, start, size) of the boxes laid end to end in data[offset:end]."""
    end = len(data) if end is None else end
    found = []
    while offset < end:
        size, kind = struct.unpack_from(">I4s", data, offset)
        assert size >= 8 and offset + size <= end, f"bad box {kind!r} at {offset}"
        found.append((kind, offset, size))
        offset += size
    return found


def test_h264_fragments_decode_frame_for_frame(h264_clip: list[AccessUnit]) -> None:
    frames = decode(mux(h264_clip))
    assert len(frames) == len(h264_clip)
    assert [f.pts for f in frames] == [i * FRAME_TICKS for i in range(len(h264_clip))]
    assert frames[0].time_base == Fraction(1, 90_000)
    assert (frames[0].width, frames[0].height) == (160, 96)
    assert {read_marker(f) for f in frames} == {0}


def test_h265_fragments_decode_with_size_from_sps(h265_clip: list[AccessUnit]) -> None:
    assert h265_clip[0].params.width == 0
    init = build_init(h265_clip[0].params)
    assert (init.width, init.height) == (160, 96)
    assert init.codec.startswith("hvc1.1.6.L")
    frames = decode(mux(h265_clip))
    assert len(frames) == len(h265_clip)
    assert [f.pts for f in frames] == [i * FRAME_TICKS for i in range(len(h265_clip))]


def test_b_frames_keep_presentation_order_through_composition_offsets() -> None:
    clip = encode_clip(frames=30, gop=15, bframes=2)
    assert any(au.pts != au.dts for au in clip)
    frames = decode(mux(clip))
    base = clip[0].decode_ts
    assert [f.pts for f in frames] == sorted(au.pts - base for au in clip)


def test_decode_times_not_durations_set_the_timeline(h264_clip: list[AccessUnit]) -> None:
    """Each fragment is written before the next frame arrives, with a guessed duration; tfdt corrects it."""
    frames = decode(mux(h264_clip, duration=FRAME_TICKS // 2))
    assert [f.pts for f in frames] == [i * FRAME_TICKS for i in range(len(h264_clip))]


def test_fragment_layout(h264_clip: list[AccessUnit]) -> None:
    writer = FragmentWriter()
    au = h264_clip[0]
    nalus = sample_nalus(Codec.h264, au.nalus)
    data = writer.write(123_456_789_012, 3600, True, nalus)
    second = writer.write(5, 3600, False, sample_nalus(Codec.h264, h264_clip[1].nalus), cts=-7)
    (moof, _, moof_size), (mdat, mdat_at, mdat_size) = boxes(data)
    assert (moof, mdat) == (b"moof", b"mdat")
    assert mdat_size - 8 == sum(4 + len(n) for n in nalus)
    mfhd, traf = boxes(data, 8, moof_size)
    assert struct.unpack_from(">I", data, mfhd[1] + 12)[0] == 1
    _tfhd, tfdt, trun = boxes(data, traf[1] + 8, traf[1] + traf[2])
    assert struct.unpack_from(">IQ", data, tfdt[1] + 8) == (0x01000000, 123_456_789_012)
    _flags, count, offset, duration, size, sample_flags = struct.unpack_from(">IIiIII", data, trun[1] + 8)
    assert (count, offset, duration, size) == (1, mdat_at + 8, 3600, mdat_size - 8)
    assert sample_flags == 0x02000000
    moof2 = boxes(second)[0]
    traf2 = boxes(second, 8, moof2[2])[1]
    trun2 = boxes(second, traf2[1] + 8, traf2[1] + traf2[2])[2]
    fields = struct.unpack_from(">IIiIIIi", second, trun2[1] + 8)
    assert fields[0] >> 24 == 1 and fields[0] & 0x800 and fields[5] == 0x01010000 and fields[6] == -7
    assert struct.unpack_from(">I", second, 8 + 12)[0] == 2  # mfhd sequence


def test_samples_leave_out_delimiters_and_parameter_sets(h264_clip: list[AccessUnit]) -> None:
    key = h264_clip[0]
    aud = b"\x09\xf0"
    kept = sample_nalus(Codec.h264, [aud, *key.nalus])
    assert {n[0] & 0x1F for n in kept} <= {1, 5, 6}
    assert any(n[0] & 0x1F == 5 for n in kept)
    assert sample_nalus(Codec.h264, [key.params.sps, key.params.pps, aud]) == []


@pytest.mark.parametrize(("width", "height"), [(176, 100), (1280, 720), (322, 242)])
def test_sps_sizes_match_the_encoder(width: int, height: int) -> None:
    for codec in (Codec.h264, Codec.h265):
        params = encode_clip(codec=codec, frames=1, width=width, height=height)[0].params
        info = parse_h264_sps(params.sps) if codec is Codec.h264 else parse_h265_sps(params.sps)
        assert (info.width, info.height) == (width, height)


def test_unreadable_parameter_sets_are_a_clean_error(h264_clip: list[AccessUnit]) -> None:
    good = h264_clip[0].params
    for params in (
        CodecParams(Codec.h264, sps=b"", pps=good.pps),
        CodecParams(Codec.h264, sps=good.sps[:5], pps=good.pps),
        CodecParams(Codec.h265, sps=good.sps, pps=good.pps, vps=b"\x40\x01"),
        CodecParams(Codec.h265, sps=b"\x42\x01", pps=good.pps),
    ):
        with pytest.raises(InitSegmentError):
            build_init(params)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.sampled_from([Codec.h264, Codec.h265]))
def test_arbitrary_parameter_sets_never_crash(data: bytes, codec: Codec) -> None:
    header = b"\x67" if codec is Codec.h264 else b"\x42\x01"
    for sps in (data, header + data):
        with contextlib.suppress(MediaProtocolError):
            (parse_h264_sps if codec is Codec.h264 else parse_h265_sps)(sps)
        with contextlib.suppress(InitSegmentError):
            build_init(CodecParams(codec, sps=sps, pps=b"\x68\xce", vps=b"\x40\x01\x0c"))
