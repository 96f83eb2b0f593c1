"""Arbitrary and mutated input to every parser a camera can reach: the only exception allowed out is
MediaProtocolError, which ends that camera's session and nothing else."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.bitstreams import encode_clip
from tests.support.bitwriter import h264_sps, h265_sps
from xueliang.media.codecs import h264, h265
from xueliang.media.codecs.annexb import split_annexb, split_length_prefixed
from xueliang.media.codecs.config_record import parse_avcc, parse_hvcc
from xueliang.media.codecs.params import ParamSetTracker, make_params
from xueliang.media.errors import MediaProtocolError
from xueliang.media.frames import AccessUnit, Codec
from xueliang.media.rtp.assembler import FrameAssembler
from xueliang.media.rtp.h264 import H264Depacketizer
from xueliang.media.rtp.h265 import H265Depacketizer
from xueliang.media.rtp.packet import RtpPacket, parse_rtp
from xueliang.media.rtsp.auth import ClientAuth, ServerAuth, parse_auth_header
from xueliang.media.rtsp.fields import parse_pair, parse_session, parse_transport
from xueliang.media.rtsp.message import RtspParser
from xueliang.media.rtsp.sdp import parse_sdp, video_track

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def clean(fn: Callable[..., Any], *args: Any) -> None:
    """Call fn; a MediaProtocolError is the accepted way to refuse input."""
    try:
        fn(*args)
    except MediaProtocolError as exc:
        assert exc.reason


def mutate(data: bytes, edits: list[tuple[int, int]]) -> bytes:
    out = bytearray(data)
    for pos, value in edits:
        if out:
            out[pos % len(out)] = value
    return bytes(out)


edits = st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), min_size=1, max_size=6)

RTSP_STREAM = (
    b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\nContent-Length: 10\r\n\r\nv=0\r\ns=x\r\n"
    b"$\x00\x00\x10" + bytes(16) + b"OPTIONS rtsp://h/ RTSP/1.0\r\nCSeq: 9\r\n\r\n"
)


@FUZZ
@given(st.lists(st.binary(max_size=200), max_size=8))
def test_rtsp_parser_on_arbitrary_bytes(chunks: list[bytes]) -> None:
    parser = RtspParser()
    for chunk in chunks:
        clean(parser.feed, chunk)


@FUZZ
@given(edits, st.integers(1, 64))
def test_rtsp_parser_on_mutated_streams(changes: list[tuple[int, int]], chunk: int) -> None:
    data = mutate(RTSP_STREAM, changes)
    parser = RtspParser()
    try:
        for pos in range(0, len(data), chunk):
            parser.feed(data[pos : pos + chunk])
    except MediaProtocolError:
        pass


SDP = (
    "v=0\r\no=- 0 0 IN IP4 h\r\ns=x\r\na=control:*\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n"
    "a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0IAH5WoFAFuQA==,aM48gA==\r\na=control:trackID=0\r\n"
)


@FUZZ
@given(st.one_of(st.binary(max_size=400), st.text(max_size=400)))
def test_sdp_on_arbitrary_input(data: bytes | str) -> None:
    clean(lambda: video_track(parse_sdp(data), "rtsp://h/a"))


@FUZZ
@given(edits)
def test_sdp_on_mutated_descriptions(changes: list[tuple[int, int]]) -> None:
    clean(lambda: video_track(parse_sdp(mutate(SDP.encode(), changes)), "rtsp://h/a"))


@FUZZ
@given(
    st.sampled_from(["H264", "H265", "HEVC", "h264"]),
    st.text(max_size=40),
    st.text(max_size=40),
    st.text(max_size=10),
)
def test_sdp_with_arbitrary_attribute_values(
    encoding: str, fmtp: str, control: str, rtpmap_tail: str
) -> None:
    text = (
        f"m=video 0 RTP/AVP 96\na=rtpmap:96 {encoding}/{rtpmap_tail}\na=fmtp:96 {fmtp}\na=control:{control}\n"
    )
    clean(lambda: video_track(parse_sdp(text), "rtsp://h/a"))


@FUZZ
@given(st.binary(max_size=100))
def test_rtp_on_arbitrary_bytes(data: bytes) -> None:
    clean(parse_rtp, data)


@FUZZ
@given(st.lists(st.binary(max_size=60), max_size=12), st.booleans())
def test_depacketizers_on_arbitrary_payloads(payloads: list[bytes], donl: bool) -> None:
    for depack in (H264Depacketizer(), H265Depacketizer(donl)):
        for payload in payloads:
            clean(depack.push, payload)


packets = st.builds(
    RtpPacket,
    payload_type=st.just(96),
    sequence=st.integers(0, 65535),
    timestamp=st.integers(0, 2**32 - 1),
    ssrc=st.sampled_from([1, 2]),
    payload=st.binary(min_size=0, max_size=40),
    marker=st.booleans(),
)


@FUZZ
@given(st.lists(packets, max_size=30), st.sampled_from([Codec.h264, Codec.h265]))
def test_frame_assembler_on_arbitrary_packets(stream: list[RtpPacket], codec: Codec) -> None:
    out: list[AccessUnit] = []
    assembler = FrameAssembler(codec, 96, out.append)
    for packet in stream:
        clean(assembler.push, packet)


NAL_PAYLOADS = [
    b"\x65\x88\x80",  # H.264 IDR slice
    b"\x41\x9a\x02",  # H.264 non-IDR slice
    b"\x7c\x85\x01",  # FU-A start, end and middle of an IDR slice
    b"\x7c\x45\x03",
    b"\x7c\x05\x02",
    b"\x7c\xc5\x04",  # FU-A with both start and end set (invalid)
    b"\xfc\x05\x02",  # FU-A middle with the forbidden bit set
    b"\x26\x01\xaf",  # H.265 IDR slice
    b"\x62\x01\x81\x11",  # H.265 FU start, end and middle
    b"\x62\x01\x41\x12",
    b"\x62\x01\x01\x13",
    b"\x62\x01\xc1\x14",  # H.265 FU with both start and end set (invalid)
]


@st.composite
def wire_streams(draw: st.DrawFn, plain: bool = False) -> list[bytes]:
    """Mostly well-formed RTP streams (steps of one in sequence, frames closed by markers) with
    losses, reordering, other SSRCs and payload types, CSRCs, extensions, padding and garbage.
    `plain`: no CSRCs, extensions or padding, the headers the client's fast path takes."""
    out: list[bytes] = []
    sequence, timestamp = draw(st.integers(0, 65535)), draw(st.integers(0, 2**32 - 1))
    for _ in range(draw(st.integers(0, 30))):
        if draw(st.integers(0, 9)) == 0:
            out.append(draw(st.binary(max_size=30)))
            continue
        sequence = (sequence + draw(st.sampled_from([1, 1, 1, 1, 1, 0, 2, -2]))) & 0xFFFF
        timestamp = (timestamp + draw(st.sampled_from([0, 0, 0, 3600, -3600]))) & 0xFFFFFFFF
        packet = RtpPacket(
            payload_type=draw(st.sampled_from([96, 96, 96, 96, 97])),
            sequence=sequence,
            timestamp=timestamp,
            ssrc=draw(st.sampled_from([1, 1, 1, 1, 2])),
            payload=draw(st.one_of(st.sampled_from(NAL_PAYLOADS), st.binary(max_size=20))),
            marker=draw(st.booleans()),
            csrcs=() if plain else tuple(draw(st.lists(st.integers(0, 2**32 - 1), max_size=2))),
            extension_profile=None if plain else draw(st.sampled_from([None, None, None, 0xBEDE])),
            padding=0 if plain else draw(st.sampled_from([0, 0, 0, 4])),
        )
        out.append(packet.to_bytes())
    return out


FU_PIECES = {
    Codec.h264: [
        b"\x7c\x85\x01\x02",  # start, middles, end
        b"\x7c\x05\x03",
        b"\x7c\x05\x04\x05",
        b"\x7c\x45\x06",
        b"\x7c\xc5\x07",  # start and end together (invalid)
        b"\xfc\x05\x08",  # forbidden bit
        b"\x7c\x85",  # too short
        b"\x65\x88\x80",  # not a fragment
    ],
    Codec.h265: [
        b"\x62\x01\x81\x11\x12",
        b"\x62\x01\x01\x13",
        b"\x62\x01\x01\x14\x15",
        b"\x62\x01\x41\x16",
        b"\x62\x01\xc1\x17",
        b"\xe2\x01\x01\x18",
        b"\x62\x01\x81",
        b"\x62\x01\x81\x00\x01\x19",  # a start long enough for a DONL field
        b"\x26\x01\xaf",
    ],
}


@FUZZ
@given(st.data(), st.sampled_from([Codec.h264, Codec.h265]), st.booleans())
def test_extend_takes_only_what_push_would_take_the_same_way(
    data: st.DataObject, codec: Codec, donl: bool
) -> None:
    """The assembler's fast path (`extend`, then `push` for what it declines) and `push` alone give
    the same NAL units, damage flags and failures for any run of fragment pieces."""
    pieces = data.draw(st.lists(st.sampled_from(FU_PIECES[codec]), max_size=12))
    if codec is Codec.h264:
        fast: H264Depacketizer | H265Depacketizer = H264Depacketizer()
        plain: H264Depacketizer | H265Depacketizer = H264Depacketizer()
    else:
        fast, plain = H265Depacketizer(donl), H265Depacketizer(donl)
    for piece in pieces:
        framed = b"??" + piece + b"!"
        fast_out: list[bytes] = []
        try:
            if not fast.extend(framed, 2, len(framed) - 1, fast_out):
                fast_out += fast.push(piece)
            fast_error = None
        except MediaProtocolError as exc:
            fast_error = exc.reason
        try:
            plain_out, plain_error = plain.push(piece), None
        except MediaProtocolError as exc:
            plain_out, plain_error = [], exc.reason
        assert (fast_out, fast_error, fast.broken) == (plain_out, plain_error, plain.broken)
        if fast_error is not None:
            break


@FUZZ
@given(
    st.one_of(wire_streams(), wire_streams(plain=True)),
    st.sampled_from([Codec.h264, Codec.h265]),
    st.lists(st.booleans(), max_size=30),
)
def test_push_rtp_on_raw_packets_does_what_push_of_the_parsed_packet_does(
    stream: list[bytes], codec: Codec, rtcp_after: list[bool]
) -> None:
    """The client's paths (`push_rtp` on the bytes read, with fast paths for plain headers and for
    packets continuing the open frame, alone and as `push_packets` behind `RtspParser.scan` on whole
    reads of `$`-framed packets) and the general one (`push(parse_rtp(...))`) emit the same frames,
    count the same and fail alike."""
    direct: list[AccessUnit] = []
    parsed: list[AccessUnit] = []
    batched: list[AccessUnit] = []
    params = (
        make_params(Codec.h264, h264_sps(), b"\x68\xce\x3c\x80")
        if codec is Codec.h264
        else make_params(Codec.h265, h265_sps(), b"\x44\x01\xc1", b"\x40\x01\x0c")
    )
    fast = FrameAssembler(codec, 96, direct.append, params=params)
    slow = FrameAssembler(codec, 96, parsed.append, params=params)
    batch = FrameAssembler(codec, 96, batched.append, params=params)

    def outcome(push: Callable[[], None]) -> str | None:
        try:
            push()
        except MediaProtocolError as exc:
            return exc.reason
        return None

    failed: str | None = None
    for data in stream:
        framed = b"??" + data + b"!"  # the packet as a range of a larger read buffer
        failed = outcome(lambda: fast.push_rtp(framed, 2, len(framed) - 1))  # noqa: B023
        assert failed == outcome(lambda: slow.push(parse_rtp(data)))  # noqa: B023
        if failed is not None:
            break  # the session would end here
    # The same packets as one read, with RTCP on channel 1 after some of them: the packets between
    # two RTCP frames reach `push_packets` as one run. Stops where the others failed.
    read = b"".join(
        b"$\x00"
        + len(d).to_bytes(2, "big")
        + d
        + (b"$\x01\x00\x01R" if i < len(rtcp_after) and rtcp_after[i] else b"")
        for i, d in enumerate(stream)
    )

    def on_frames(channel: int, buf: bytes, spans: list[int]) -> None:
        if channel == 0:
            batch.push_packets(buf, spans)

    batch_failed = outcome(lambda: RtspParser().scan(read, on_frames, lambda _message: None))
    assert batch_failed == failed
    for other in (slow, batch):
        assert fast.stats == other.stats
    frames = [(a.nalus, a.pts, a.keyframe, a.params) for a in direct]
    assert frames == [(a.nalus, a.pts, a.keyframe, a.params) for a in parsed]
    assert frames == [(a.nalus, a.pts, a.keyframe, a.params) for a in batched]


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 200), st.integers(0, 255)), max_size=8), st.booleans())
def test_frame_assembler_on_mutated_real_streams(changes: list[tuple[int, int]], h265_stream: bool) -> None:
    """Real frames with corrupted bytes: in-band SPS included, so the SPS parser is reached too."""
    codec = Codec.h265 if h265_stream else Codec.h264
    clip = encode_clip(codec, 160, 96, 3, 3)
    out: list[AccessUnit] = []
    assembler = FrameAssembler(codec, 96, out.append)
    for index, au in enumerate(clip):
        for i, nalu in enumerate(au):
            payload = mutate(nalu[:300], changes) if index == 0 else nalu[:300]
            packet = RtpPacket(96, index * 10 + i, index * 3600, 1, payload, i == len(au) - 1)
            clean(assembler.push, packet)


@FUZZ
@given(st.binary(max_size=80))
def test_sps_parsers_on_arbitrary_bytes(data: bytes) -> None:
    clean(h264.parse_sps, b"\x67" + data)
    clean(h265.parse_sps, b"\x42\x01" + data)
    clean(ParamSetTracker(Codec.h264).update, [b"\x67" + data, b"\x68\xce"])


@FUZZ
@given(edits)
def test_sps_parsers_on_mutated_units(changes: list[tuple[int, int]]) -> None:
    clean(h264.parse_sps, mutate(h264_sps(scaling=True, poc_type=1), changes))
    clean(h265.parse_sps, mutate(h265_sps(sub_layers=3), changes))


@FUZZ
@given(st.binary(max_size=120), st.sampled_from([1, 2, 4]))
def test_bitstream_framing_on_arbitrary_bytes(data: bytes, size: int) -> None:
    clean(split_annexb, data)
    clean(split_length_prefixed, data, size)
    clean(parse_avcc, data)
    clean(parse_hvcc, data)


@FUZZ
@given(st.text(max_size=120))
def test_header_fields_on_arbitrary_text(text: str) -> None:
    clean(parse_auth_header, text)
    clean(parse_transport, text)
    clean(parse_session, text)
    clean(parse_pair, text, "ports")
    clean(ClientAuth("u", "p").accept, [text])
    assert ServerAuth("u", "p").check("DESCRIBE", text) in ("ok", "stale", "denied")
