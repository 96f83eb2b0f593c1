"""Our muxer's PS read by FFmpeg (`-f mpeg`): every frame decodes, at the clip's size, showing the
camera's marker; also when the PS went through our RTP packetizer and was put back together."""

from __future__ import annotations

import pytest

from tests.media.ps.ffmpeg_ps import ffmpeg_read
from tests.support.clips import encode_clip, read_marker
from xueliang.media.frames import Codec
from xueliang.media.ps import PsMuxer, PsSender, split_tcp
from xueliang.media.ps import packets as ps
from xueliang.media.rtp.packet import parse_rtp


@pytest.mark.parametrize(("codec", "name"), [(Codec.h264, "h264"), (Codec.h265, "hevc")])
def test_ffmpeg_decodes_our_ps(codec: Codec, name: str) -> None:
    clip = encode_clip(codec=codec, frames=30, gop=15, camera_index=3)
    muxer = PsMuxer()
    data = b"".join(muxer.mux(au) for au in clip)
    names, frames = ffmpeg_read(data)
    assert names == {name}
    assert len(frames) == 30
    assert {(f.width, f.height) for f in frames} == {(160, 96)}
    assert {read_marker(f) for f in frames} == {3}
    assert data.count(b"\x00\x00\x01\xbc") == data.count(b"\x00\x00\x01\xbb") == 2  # at each keyframe
    assert data.count(b"\x00\x00\x01\xba") == 30  # a pack per frame


def test_ffmpeg_decodes_b_frames_in_presentation_order() -> None:
    clip = encode_clip(frames=20, gop=10, bframes=2, camera_index=2)
    muxer = PsMuxer()
    _, frames = ffmpeg_read(b"".join(muxer.mux(au) for au in clip))
    assert len(frames) == 20 and {read_marker(f) for f in frames} == {2}
    times = [f.pts or 0 for f in frames]
    assert times == sorted(times) and len(set(times)) == 20


def test_psm_is_well_formed() -> None:
    clip = encode_clip(frames=1, gop=1)
    muxer = PsMuxer(audio_type=ps.ST_G711A)
    psm = muxer.stream_map(Codec.h264)
    assert psm[:4] == b"\x00\x00\x01\xbc" and int.from_bytes(psm[4:6], "big") == len(psm) - 6
    assert ps.crc32_mpeg2(psm) == 0  # the CRC covers the map so that the whole checks to zero
    assert bytes((ps.ST_H264, 0xE0)) in psm and bytes((ps.ST_G711A, 0xC0)) in psm
    pack = muxer.mux(clip[0])
    assert ps.read_scr(pack, 0) == (clip[0].pts - 3600) & ps.TS_MASK
    assert ps.read_ts(pack, pack.index(b"\x00\x00\x01\xe0") + 9) == clip[0].pts


@pytest.mark.parametrize("tcp", [False, True])
def test_ffmpeg_decodes_our_ps_from_rtp_payloads(tcp: bool) -> None:
    """What an upper platform receives: RTP packets (RFC 4571 framed over TCP), PT 96, one SSRC, a
    timestamp per frame, the marker on each frame's last packet, none over 1400 bytes."""
    clip = encode_clip(frames=25, gop=25, camera_index=1, noise=True)
    sender = PsSender(0x0102030405 & 0xFFFFFFFF, tcp=tcp)
    wire = [p for au in clip for p in sender.packets(au)]
    raw = [bytes(p) for chunk in wire for p in split_tcp(chunk)] if tcp else wire
    packets = [parse_rtp(p) for p in raw]
    assert {(p.payload_type, p.ssrc) for p in packets} == {(96, 0x02030405)}
    assert max(len(p) for p in raw) <= 1400
    assert sum(p.marker for p in packets) == 25 and packets[-1].marker
    assert [p.sequence for p in packets] == list(range(len(packets)))
    assert len({p.timestamp for p in packets}) == 25
    _, frames = ffmpeg_read(b"".join(p.payload for p in packets))
    assert len(frames) == 25 and {read_marker(f) for f in frames} == {1}
