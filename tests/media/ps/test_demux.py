"""Our demuxer on program streams that FFmpeg wrote: every frame comes out once, keyframes where the
encoder put them, time stamps on the 90 kHz clock, and FFmpeg's decoder takes every unit."""

from __future__ import annotations

import itertools

import pytest

from tests.media.ps.ffmpeg_ps import ffmpeg_read, g711_frames
from tests.support.bitstreams import Decoder
from tests.support.bitstreams import encode_clip as bitstream_clip
from tests.support.clips import encode_clip
from xueliang.media.channel import Channel
from xueliang.media.codecs.params import NAL_FLAGS, NAL_VCL, ParamSetTracker
from xueliang.media.frames import AccessUnit, Codec, CodecParams
from xueliang.media.ps import PsDemuxer, PsMuxer
from xueliang.media.ps import packets as ps
from xueliang.media.ps.mux import pes_packets


def demux(data: bytes, chunk: int = 1400, **kwargs: object) -> tuple[list[AccessUnit], PsDemuxer]:
    out: list[AccessUnit] = []
    demuxer = PsDemuxer(out.append, **kwargs)  # type: ignore[arg-type]
    for pos in range(0, len(data), chunk):
        demuxer.feed(data[pos : pos + chunk])
    demuxer.flush()
    return out, demuxer


def decoded(codec: Codec, units: list[AccessUnit]) -> int:
    decoder = Decoder(codec)
    count = sum(len(decoder.decode(au.nalus)) for au in units)
    return count + len(decoder.flush())


@pytest.mark.parametrize("chunk", [1400, 97, 1 << 20])
def test_h264_from_ffmpeg_mpeg1_system_stream(h264_mpeg1: bytes, chunk: int) -> None:
    units, demuxer = demux(h264_mpeg1, chunk)
    assert demuxer.codec is Codec.h264  # no PSM in FFmpeg's streams: told by the SPS
    assert len(units) == 50
    assert [i for i, au in enumerate(units) if au.keyframe] == [0, 25]
    assert [b.pts - a.pts for a, b in itertools.pairwise(units)] == [3600] * 49
    assert units[0].params.width == 160 and units[0].params.height == 96
    assert demuxer.stats.audio_pes > 0 and demuxer.stats.malformed == 0
    assert decoded(Codec.h264, units) == 50


def test_h264_with_bframes_from_ffmpeg_mpeg2_program_stream(h264_vob_bframes: bytes) -> None:
    units, demuxer = demux(h264_vob_bframes, 211)
    assert demuxer.stats.packs > 0 and demuxer.stats.malformed == 0
    assert len(units) == 50
    assert [i for i, au in enumerate(units) if au.keyframe] == [0, 25]
    decode = [au.decode_ts for au in units]
    assert decode == sorted(decode) and len(set(decode)) == 50
    assert any(au.dts is not None and au.pts > au.dts for au in units)  # reordered frames carry a DTS
    assert decoded(Codec.h264, units) == 50


def test_h265_from_ffmpeg_mpeg2_program_stream(h265_vob: bytes) -> None:
    units, demuxer = demux(h265_vob, 500)
    assert demuxer.codec is Codec.h265
    assert len(units) == 50
    assert [i for i, au in enumerate(units) if au.keyframe] == [0, 25]
    assert units[0].params.vps and units[0].params.width == 160
    assert decoded(Codec.h265, units) == 50


def test_units_feed_a_camera_channel(h264_mpeg1: bytes) -> None:
    channel = Channel(7)
    demuxer = PsDemuxer(channel.push)
    demuxer.feed(h264_mpeg1)
    demuxer.flush()
    stats = channel.stats()
    assert (stats.frames_in, stats.fragments, stats.width, stats.height) == (50, 50, 160, 96)
    assert stats.codec is not None and stats.codec.startswith("avc1.")


@pytest.mark.parametrize(
    ("audio_type", "encoder", "ffmpeg_reads"),
    [(ps.ST_G711A, "pcm_alaw", "pcm_alaw"), (ps.ST_G711U, "pcm_mulaw", "mp2")],
)
def test_g711_audio_is_skipped_and_ffmpeg_sees_it(audio_type: int, encoder: str, ffmpeg_reads: str) -> None:
    """FFmpeg's PS muxer refuses G.711, so this PS is ours, with real G.711 from FFmpeg's encoder;
    ours gives the video and counts the audio. FFmpeg's demuxer knows stream type 0x90 (G.711A) but
    not 0x91 (it takes G.711U for MPEG audio): its video is whole either way."""
    clip = encode_clip(frames=25, gop=25)
    sound = g711_frames(len(clip), encoder)
    muxer = PsMuxer(audio_type=audio_type)
    data = b"".join(muxer.mux(au) + muxer.mux_audio(s, au.pts) for au, s in zip(clip, sound, strict=True))
    units, demuxer = demux(data, 333)
    assert [au.nalus for au in units] == [au.nalus for au in clip]
    assert (demuxer.stats.audio_pes, demuxer.stats.audio_type, demuxer.stats.video_type) == (
        25,
        audio_type,
        0x1B,
    )
    names, frames = ffmpeg_read(data)
    assert names == {"h264", ffmpeg_reads} and len(frames) == 25


def test_pack_stuffing_and_frames_split_over_many_pes_packets() -> None:
    clip = encode_clip(frames=10, gop=5, noise=True)
    muxer = PsMuxer(pack_stuffing=7, max_pes_payload=700)
    data = b"".join(muxer.mux(au) for au in clip)
    units, demuxer = demux(data, 4096)
    assert demuxer.stats.video_pes > 100  # noisy frames are several KB: many PES packets each
    assert [au.nalus for au in units] == [au.nalus for au in clip]
    assert [au.pts - units[0].pts for au in units] == [au.pts - clip[0].pts for au in clip]


def test_psm_names_the_codec_and_an_unsupported_one_gives_nothing() -> None:
    clip = encode_clip(frames=5, gop=5)
    muxer = PsMuxer()
    data = b"".join(muxer.mux(au) for au in clip)
    units, demuxer = demux(data)
    assert len(units) == 5 and demuxer.stats.psms == 1 and demuxer.stats.video_type == ps.ST_H264
    svac = data.replace(bytes((ps.ST_H264, 0xE0)), bytes((ps.ST_SVAC_VIDEO, 0xE0)), 1)
    units, demuxer = demux(svac)
    assert units == [] and demuxer.stats.unsupported == 5 and demuxer.stats.video_type == ps.ST_SVAC_VIDEO


def test_garbage_between_packs_drops_one_frame_and_resyncs() -> None:
    clip = encode_clip(frames=10, gop=10)
    muxer = PsMuxer()
    packs = [muxer.mux(au) for au in clip]
    packs[4] = packs[4][:300] + b"\x00\x00\x01\x67garbage" + packs[4][300:]
    units, demuxer = demux(b"".join(packs))
    assert demuxer.stats.malformed == 1 and demuxer.stats.damaged_frames == 1
    assert [au.nalus for au in units] == [au.nalus for i, au in enumerate(clip) if i != 4]


def camera_shaped(clip: list[AccessUnit]) -> list[bytes]:
    """Packs shaped as GB cameras send them: pack headers with 6 stuffing bytes; at a keyframe the
    system header, the PSM, then SPS, PPS and slice each in PES packets of their own (every one with
    the frame's PTS, the slice split over 4 KB PES packets); a PES header padded with stuffing
    bytes; a private stream (vendor data) and a G.711 frame in between."""
    muxer = PsMuxer(audio_type=ps.ST_G711A)
    packs = []
    for au in clip:
        parts = [ps.pack_header(au.pts, 6000, stuffing=6)]
        if au.keyframe:
            parts += [muxer.system_header(), muxer.stream_map(Codec.h264)]
        for nalu in au.nalus:
            parts += pes_packets(ps.VIDEO_ID, b"\x00\x00\x00\x01" + nalu, au.pts, None, 4000)
        parts.append(pes_packets(ps.PRIVATE_STREAM_1, b"vendor data", None, None)[0])
        parts.append(pes_packets(ps.AUDIO_ID, bytes(160), au.pts, None)[0])
        padded = b"\x00\x00\x01\xe0\x00\x0b\x80\x80\x08" + ps.write_ts(2, au.pts) + b"\xff\xff\xff"
        parts.insert(1, padded)  # a PES packet with a PTS and three header stuffing bytes, no data
        packs.append(b"".join(parts))
    return packs


def test_streams_shaped_like_gb_cameras() -> None:
    clip = encode_clip(frames=20, gop=10, noise=True)
    units, demuxer = demux(b"".join(camera_shaped(clip)), 1400)
    assert [au.nalus for au in units] == [au.nalus for au in clip]
    assert [au.pts - units[0].pts for au in units] == [au.pts - clip[0].pts for au in clip]
    assert demuxer.stats.malformed == 0 and demuxer.stats.audio_type == ps.ST_G711A
    assert demuxer.stats.other_pes >= 20 and demuxer.stats.audio_pes == 20


def test_parameter_sets_marked_apart_wait_for_their_picture() -> None:
    """Some cameras end an RTP 'frame' (marker bit) after the parameter sets, then send the slice."""
    clip = encode_clip(frames=6, gop=3)
    out: list[AccessUnit] = []
    demuxer = PsDemuxer(out.append)
    for au in clip:
        demuxer.feed(ps.pack_header(au.pts, 6000))
        for nalu in au.nalus:
            demuxer.feed(pes_packets(ps.VIDEO_ID, b"\x00\x00\x01" + nalu, au.pts, None)[0])
            demuxer.end_frame()
        assert len(out) == clip.index(au) + 1  # each frame out at its last mark, not one frame late
    assert [au.nalus for au in out] == [au.nalus for au in clip]
    assert [au.keyframe for au in out] == [True, False, False] * 2


@pytest.mark.parametrize("codec", [Codec.h264, Codec.h265])
def test_pictures_of_several_slices_stay_whole(codec: Codec) -> None:
    """Cameras often cut a picture into slices: every slice after the first continues its frame."""
    frames = bitstream_clip(codec, frames=12, gop=6, extra=":slices=4")
    vcl = NAL_FLAGS[codec]
    assert all(sum(1 for n in f if vcl[n[0]] & NAL_VCL) > 2 for f in frames)  # x265: a slice per CTU row
    clip = [
        AccessUnit(list(f), i * 3600, i % 6 == 0, first_params(codec, frames[0]))
        for i, f in enumerate(frames)
    ]
    muxer = PsMuxer()
    units, _ = demux(b"".join(muxer.mux(au) for au in clip), 1000)
    assert [au.nalus for au in units] == [au.nalus for au in clip]
    assert decoded(codec, units) == 12


def first_params(codec: Codec, nalus: tuple[bytes, ...]) -> CodecParams:
    tracker = ParamSetTracker(codec)
    params = tracker.update(nalus)
    assert params is not None
    return params
