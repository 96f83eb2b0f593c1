"""Arbitrary, truncated and mutated input to the PS demuxer and the PS RTP receiver: nothing a camera
sends may raise out of them (they count and drop), and what they emit is always a whole unit."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.clips import encode_clip
from xueliang.media.frames import AccessUnit, Codec
from xueliang.media.ps import PsDemuxer, PsMuxer, PsRtpReceiver, PsSender

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _ours(codec: Codec) -> bytes:
    muxer = PsMuxer(pack_stuffing=2, max_pes_payload=400)
    return b"".join(muxer.mux(au) for au in encode_clip(codec=codec, frames=6, gop=3, width=64, height=48))


OURS = {codec: _ours(codec) for codec in Codec}
_SENDER = PsSender(5, tcp=True, max_packet=300)
WIRE = b"".join(p for au in encode_clip(frames=6, gop=3, width=64, height=48) for p in _SENDER.packets(au))
PIECES = [
    b"\x00\x00\x01\xba",
    b"\x00\x00\x01\xbb",
    b"\x00\x00\x01\xbc",
    b"\x00\x00\x01\xe0",
    b"\x00\x00\x01\xc0",
    b"\x00\x00\x01\xb9",
    b"\x44\x00\x04\x00\x04\x01\x01\x86\xa3\xf8",  # MPEG-2 pack header fields
    b"\x21\x00\x01\x00\x01\x80\x01",  # MPEG-1 pack header fields
    b"\x80\xc0\x0a\x31\x00\x01\x00\x01\x11\x00\x01\x00\x01",  # PES header with PTS and DTS
    b"\x00\x00\x00\x01\x67\x42\xc0\x0b",  # an H.264 SPS start
    b"\x00\x00\x01\x65\x88",  # an IDR slice start
    b"\x00\x00\x01\x40\x01",  # an H.265 VPS start
]
stream_bytes = st.lists(st.one_of(st.sampled_from(PIECES), st.binary(max_size=40)), max_size=40).map(b"".join)
edits = st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1, max_size=8)
actions = st.sampled_from(["feed", "end", "lost"])


def check(units: list[AccessUnit]) -> None:
    for au in units:
        assert au.nalus and all(au.nalus) and au.params.sps and au.params.pps


@FUZZ
@given(st.lists(st.tuples(actions, stream_bytes), max_size=12), st.sampled_from([None, *Codec]))
def test_demuxer_on_arbitrary_bytes(steps: list[tuple[str, bytes]], codec: Codec | None) -> None:
    out: list[AccessUnit] = []
    demuxer = PsDemuxer(out.append, codec=codec)
    for action, data in steps:
        if action == "feed":
            demuxer.feed(data)
        elif action == "end":
            demuxer.end_frame()
        else:
            demuxer.lost()
    demuxer.flush()
    check(out)


@FUZZ
@given(st.sampled_from(list(Codec)), edits, st.integers(1, 3000))
def test_demuxer_on_mutated_real_streams(codec: Codec, changes: list[tuple[int, int]], chunk: int) -> None:
    data = bytearray(OURS[codec])
    for pos, value in changes:
        data[pos % len(data)] = value
    out: list[AccessUnit] = []
    demuxer = PsDemuxer(out.append)
    for pos in range(0, len(data), chunk):
        demuxer.feed(data[pos : pos + chunk])
    demuxer.flush()
    check(out)
    assert len(out) <= 6 + len(changes)


@FUZZ
@given(edits, st.integers(1, 3000))
def test_demuxer_on_mutated_ffmpeg_streams(
    h264_mpeg1: bytes, h265_vob: bytes, changes: list[tuple[int, int]], chunk: int
) -> None:
    for stream in (h264_mpeg1, h265_vob):
        data = bytearray(stream)
        for pos, value in changes:
            data[pos % len(data)] = value
        out: list[AccessUnit] = []
        demuxer = PsDemuxer(out.append)
        for pos in range(0, len(data), chunk):
            demuxer.feed(data[pos : pos + chunk])
        demuxer.flush()
        check(out)


@FUZZ
@given(st.sampled_from(list(Codec)), st.integers(0, 1 << 20), st.lists(st.integers(1, 5000), max_size=20))
def test_truncated_and_rechunked_streams_give_the_same_frames(
    codec: Codec, cut: int, sizes: list[int]
) -> None:
    data = OURS[codec]
    whole: list[AccessUnit] = []
    PsDemuxer(whole.append).feed(data)
    assert len(whole) == 5  # the last frame waits for its end (or the next frame)
    out: list[AccessUnit] = []
    demuxer = PsDemuxer(out.append)
    pos = 0
    for size in sizes:
        demuxer.feed(data[pos : pos + size])
        pos += size
    demuxer.feed(data[pos:])
    demuxer.flush()
    assert [au.nalus for au in out][:5] == [au.nalus for au in whole] and len(out) == 6
    truncated: list[AccessUnit] = []
    cut_at = cut % len(data)
    demuxer = PsDemuxer(truncated.append)
    demuxer.feed(data[:cut_at])
    demuxer.lost()
    demuxer.feed(data[cut_at:])
    demuxer.flush()
    check(truncated)
    assert len(truncated) >= 3  # lost: the frame cut in two, the one before it, P-frames after a key


packets = st.builds(
    bytes.__add__,
    st.tuples(
        st.sampled_from([0x80, 0x90, 0xA0, 0x81, 0x00]),
        st.sampled_from([96, 96 | 0x80, 97]),
        st.integers(0, 65535),
        st.integers(0, 2**32 - 1),
        st.sampled_from([1, 2]),
    ).map(
        lambda f: (
            bytes((f[0], f[1])) + f[2].to_bytes(2, "big") + f[3].to_bytes(4, "big") + f[4].to_bytes(4, "big")
        )
    ),
    stream_bytes,
)


@FUZZ
@given(st.lists(st.one_of(packets, st.binary(max_size=30)), max_size=30))
def test_rtp_receiver_on_arbitrary_packets(stream: list[bytes]) -> None:
    out: list[AccessUnit] = []
    receiver = PsRtpReceiver(out.append)
    for packet in stream:
        receiver.push_rtp(packet)
    receiver.flush()
    check(out)


@FUZZ
@given(st.binary(max_size=2000), edits)
def test_rtp_receiver_on_arbitrary_and_mutated_tcp_streams(
    noise: bytes, changes: list[tuple[int, int]]
) -> None:
    wire = bytearray(WIRE)
    for pos, value in changes:
        wire[pos % len(wire)] = value
    out: list[AccessUnit] = []
    receiver = PsRtpReceiver(out.append)
    receiver.push_tcp(noise)
    receiver.push_tcp(bytes(wire))
    receiver.flush()
    check(out)
