"""Annex-B framing, exp-Golomb reading, SPS parsing and codec strings for H.264 and H.265."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.bitstreams import encode_clip
from tests.support.bitwriter import BitWriter, escape, h264_sps, h265_sps
from xueliang.media.codecs import h264, h265
from xueliang.media.codecs.annexb import (
    join_annexb,
    join_length_prefixed,
    split_annexb,
    split_length_prefixed,
)
from xueliang.media.codecs.bits import BitReader, unescape_rbsp
from xueliang.media.codecs.config_record import parse_avcc, parse_hvcc
from xueliang.media.codecs.params import ParamSetTracker, codec_string, is_keyframe, make_params
from xueliang.media.errors import MediaProtocolError
from xueliang.media.frames import Codec


def test_annexb_split_handles_three_and_four_byte_start_codes_and_trailing_zeros() -> None:
    data = b"\x00\x00\x00\x01\x67\xaa\x00\x00\x01\x68\xbb\x00\x00\x00\x00\x01\x65\xcc\xdd\x00"
    assert split_annexb(data) == [b"\x67\xaa", b"\x68\xbb", b"\x65\xcc\xdd"]


def test_annexb_join_then_split_is_identity() -> None:
    nalus = [b"\x67\x01\x02", b"\x68\x03", b"\x65" + bytes(range(1, 200))]
    assert split_annexb(join_annexb(nalus)) == nalus


def test_annexb_without_start_code_is_a_protocol_error() -> None:
    with pytest.raises(MediaProtocolError):
        split_annexb(b"\x67\x00\x01\x02")


def test_length_prefixed_round_trip_and_errors() -> None:
    nalus = [b"\x67\x01", b"\x65" * 300]
    for size in (1, 2, 4):
        short = [n[:200] for n in nalus]
        assert split_length_prefixed(join_length_prefixed(short, size), size) == short
    with pytest.raises(MediaProtocolError):
        split_length_prefixed(b"\x00\x00\x00\x09\x65", 4)
    with pytest.raises(MediaProtocolError):
        split_length_prefixed(b"\x00\x00", 4)


def test_unescape_removes_emulation_prevention_bytes() -> None:
    assert unescape_rbsp(b"\x00\x00\x03\x01\x00\x00\x03\x00\x00\x03") == b"\x00\x00\x01\x00\x00\x00\x00"
    assert unescape_rbsp(b"\x01\x02") == b"\x01\x02"


@given(st.lists(st.integers(0, 2**20), max_size=30), st.lists(st.integers(-(2**15), 2**15), max_size=30))
def test_exp_golomb_reads_what_was_written(unsigned: list[int], signed: list[int]) -> None:
    writer = BitWriter()
    for value in unsigned:
        writer.ue(value)
    for value in signed:
        writer.se(value)
    reader = BitReader(writer.rbsp())
    assert [reader.ue() for _ in unsigned] == unsigned
    assert [reader.se() for _ in signed] == signed


def test_bit_reader_past_the_end_raises() -> None:
    reader = BitReader(b"\xff")
    reader.u(8)
    with pytest.raises(MediaProtocolError):
        reader.u(1)
    with pytest.raises(MediaProtocolError):
        BitReader(b"\x00\x00\x00\x00\x00").ue()


@pytest.mark.parametrize(
    ("width", "height", "profile", "pix_fmt", "extra", "chroma", "progressive"),
    [
        (640, 360, "high", "yuv420p", "", 1, True),
        (1280, 720, "main", "yuv420p", "", 1, True),
        (176, 144, "baseline", "yuv420p", "", 1, True),
        (322, 242, "high", "yuv420p", "", 1, True),
        (320, 240, "high444", "yuv444p", "", 3, True),
        (320, 240, "high422", "yuv422p", "", 2, True),
        (352, 288, "high", "yuv420p", ":interlaced=1", 1, False),
    ],
)
def test_h264_sps_of_x264_streams(
    width: int, height: int, profile: str, pix_fmt: str, extra: str, chroma: int, progressive: bool
) -> None:
    clip = encode_clip(Codec.h264, width, height, 2, 2, pix_fmt, profile, extra)
    sps = next(n for n in clip[0] if h264.nal_type(n) == h264.NAL_SPS)
    info = h264.parse_sps(sps)
    assert (info.width, info.height) == (width, height)
    assert info.chroma_format_idc == chroma
    assert info.frame_mbs_only is progressive
    assert info.profile_idc == sps[1] and info.level_idc == sps[3]
    assert info.codec_string == f"avc1.{sps[1:4].hex()}"


def test_h264_sps_with_scaling_lists_poc_type_1_and_escapes() -> None:
    sps = h264_sps(scaling=True, poc_type=1, width_mbs=120, height_units=68, crop=(0, 0, 0, 4))
    info = h264.parse_sps(sps)
    assert (info.width, info.height) == (1920, 1080)
    assert info.codec_string == "avc1.64001f"


@settings(max_examples=150, deadline=None)
@given(
    profile=st.sampled_from([66, 77, 88, 100, 110, 122, 244]),
    chroma=st.integers(0, 3),
    depth=st.integers(8, 14),
    width_mbs=st.integers(1, 200),
    height_units=st.integers(1, 120),
    progressive=st.booleans(),
    crop=st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)),
    scaling=st.booleans(),
    poc_type=st.integers(0, 2),
)
def test_h264_sps_fields_survive_a_write_read_round_trip(
    profile: int,
    chroma: int,
    depth: int,
    width_mbs: int,
    height_units: int,
    progressive: bool,
    crop: tuple[int, int, int, int],
    scaling: bool,
    poc_type: int,
) -> None:
    high = profile >= 100
    chroma = chroma if high else 1
    sps = h264_sps(
        profile_idc=profile,
        chroma_format_idc=chroma,
        depth_luma=depth if high else 8,
        depth_chroma=depth if high else 8,
        scaling=scaling and high,
        poc_type=poc_type,
        width_mbs=width_mbs,
        height_units=height_units,
        frame_mbs_only=progressive,
        crop=crop,
    )
    # crop units per H.264 Table 6-1 and equations 7-19..7-22
    unit_x = {0: 1, 1: 2, 2: 2, 3: 1}[chroma]
    unit_y = {0: 1, 1: 2, 2: 1, 3: 1}[chroma] * (1 if progressive else 2)
    width = width_mbs * 16 - unit_x * (crop[0] + crop[1])
    height = height_units * 16 * (1 if progressive else 2) - unit_y * (crop[2] + crop[3])
    if width <= 0 or height <= 0:
        with pytest.raises(MediaProtocolError):
            h264.parse_sps(sps)
        return
    info = h264.parse_sps(sps)
    assert (info.width, info.height) == (width, height)
    assert info.chroma_format_idc == chroma
    assert info.bit_depth_luma == (depth if high else 8)


def test_h264_sps_rejects_wrong_nal_type_and_truncation() -> None:
    sps = h264_sps()
    with pytest.raises(MediaProtocolError):
        h264.parse_sps(b"\x68" + sps[1:])
    for cut in range(len(sps) - 2):  # the crop and VUI flags sit in the last two bytes
        with pytest.raises(MediaProtocolError):
            h264.parse_sps(sps[:cut])


def test_h265_sps_of_x265_streams() -> None:
    for width, height in ((640, 360), (650, 362), (1280, 720)):
        clip = encode_clip(Codec.h265, width, height, 2, 2)
        sps = next(n for n in clip[0] if h265.nal_type(n) == h265.NAL_SPS)
        info = h265.parse_sps(sps)
        assert (info.width, info.height) == (width, height)
        assert info.profile_idc == 1 and info.chroma_format_idc == 1 and info.bit_depth_luma == 8
        assert info.codec_string.startswith("hvc1.1.6.L")


def test_h265_codec_string_matches_the_spec_example() -> None:
    """ISO/IEC 14496-15 Annex E: Main profile, level 3.1, progressive+non-packed+frame-only flags."""
    info = h265.parse_sps(h265_sps())
    assert info.codec_string == "hvc1.1.6.L93.B0"
    assert (info.width, info.height) == (640, 360)
    high_tier = h265.parse_sps(h265_sps(profile_space=1, tier=1, level_idc=120, constraints=0x900000000001))
    assert high_tier.codec_string == "hvc1.A1.6.H120.90.0.0.0.0.1"


@settings(max_examples=100, deadline=None)
@given(
    sub_layers=st.integers(1, 7),
    chroma=st.integers(0, 3),
    width=st.integers(8, 8192),
    height=st.integers(8, 4320),
    window=st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 3), st.integers(0, 3)),
    depth=st.integers(8, 12),
    compat=st.integers(0, 2**32 - 1),
)
def test_h265_sps_fields_survive_a_write_read_round_trip(
    sub_layers: int,
    chroma: int,
    width: int,
    height: int,
    window: tuple[int, int, int, int],
    depth: int,
    compat: int,
) -> None:
    sps = h265_sps(
        sub_layers=sub_layers,
        chroma_format_idc=chroma,
        width=width,
        height=height,
        window=window,
        depth_luma=depth,
        depth_chroma=depth,
        compat=compat,
    )
    sub_w = 2 if chroma in (1, 2) else 1
    sub_h = 2 if chroma == 1 else 1
    exp_w, exp_h = width - sub_w * (window[0] + window[1]), height - sub_h * (window[2] + window[3])
    if exp_w <= 0 or exp_h <= 0:
        with pytest.raises(MediaProtocolError):
            h265.parse_sps(sps)
        return
    info = h265.parse_sps(sps)
    assert (info.width, info.height) == (exp_w, exp_h)
    assert info.max_sub_layers == sub_layers
    assert info.profile_compatibility_flags == compat
    assert info.bit_depth_chroma == depth


def test_escape_bytes_inside_sps_are_removed_before_parsing() -> None:
    # A width of 2**16 luma samples writes a long run of zero bits, forcing emulation prevention.
    sps = h265_sps(width=4096, height=2160, window=None, compat=0, constraints=0)
    assert b"\x00\x00\x03" in sps
    assert (h265.parse_sps(sps).width, h265.parse_sps(sps).height) == (4096, 2160)
    raw = bytes([33 << 1, 1]) + BitWriter().u(64, 0).rbsp()
    assert escape(raw) != raw


def test_keyframes_params_and_codec_strings_from_real_streams() -> None:
    for codec in (Codec.h264, Codec.h265):
        clip = encode_clip(codec, 160, 96, 12, 6)
        keys = [is_keyframe(codec, au) for au in clip]
        assert keys == [i % 6 == 0 for i in range(12)]
        tracker = ParamSetTracker(codec)
        params = tracker.update(clip[0])
        assert params is not None and (params.width, params.height) == (160, 96)
        assert codec_string(params).startswith("avc1." if codec is Codec.h264 else "hvc1.")
        assert tracker.update(clip[1]) is params  # no new parameter sets: same object


def test_make_params_requires_complete_parameter_sets() -> None:
    sps = h264_sps()
    with pytest.raises(MediaProtocolError):
        make_params(Codec.h264, sps, b"")
    with pytest.raises(MediaProtocolError):
        make_params(Codec.h264, sps, b"\x65\x00")
    with pytest.raises(MediaProtocolError):
        make_params(Codec.h265, h265_sps(), b"\x44\x01\xc0", b"")


@pytest.mark.parametrize("codec", [Codec.h264, Codec.h265])
def test_config_records_written_by_ffmpeg_mp4_muxer(tmp_path: Path, codec: Codec) -> None:
    clip = encode_clip(codec, 160, 96, 6, 6)
    source = tmp_path / ("clip.h264" if codec is Codec.h264 else "clip.hevc")
    source.write_bytes(b"".join(join_annexb(au) for au in clip))
    target = tmp_path / "clip.mp4"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-r", "25", "-i", str(source), "-c", "copy", str(target)],
        check=True,
        timeout=60,
    )
    with av.open(str(target)) as container:
        extradata = container.streams.video[0].codec_context.extradata or b""
    record = parse_avcc(extradata) if codec is Codec.h264 else parse_hvcc(extradata)
    assert record.length_size == 4
    # FFmpeg keeps the zero byte of a 4-byte start code as trailing_zero_8bits of the NAL before it
    assert record.sps and record.sps[0].rstrip(b"\x00") in clip[0]
    assert record.pps and record.pps[0].rstrip(b"\x00") in clip[0]
    assert (codec is Codec.h264) == (not record.vps)
    with pytest.raises(MediaProtocolError):
        (parse_avcc if codec is Codec.h264 else parse_hvcc)(extradata[:-3])
