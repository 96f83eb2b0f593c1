"""RTP packets, the H.264/H.265 payload formats and frame assembly."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.bitstreams import Decoder, encode_clip, to_rtp
from xueliang.media.errors import MediaProtocolError
from xueliang.media.frames import AccessUnit, Codec
from xueliang.media.rtp.assembler import FrameAssembler
from xueliang.media.rtp.h264 import FU_A, STAP_A, H264Depacketizer, H264Packetizer
from xueliang.media.rtp.h265 import AP, FU, H265Depacketizer, H265Packetizer
from xueliang.media.rtp.packet import RtpPacket, parse_rtp
from xueliang.media.rtp.timeline import Timeline

# -- packets --------------------------------------------------------------------------------------


def test_rtp_header_fields_from_known_bytes() -> None:
    data = bytes.fromhex("80e1 04d2 0000 3039 deadbeef") + b"payload"
    packet = parse_rtp(data)
    assert (packet.payload_type, packet.marker, packet.sequence) == (97, True, 1234)
    assert (packet.timestamp, packet.ssrc, packet.payload) == (12345, 0xDEADBEEF, b"payload")
    assert packet.to_bytes() == data


def test_rtp_csrc_extension_and_padding_are_parsed_and_stripped() -> None:
    packet = RtpPacket(96, 65535, 2**32 - 1, 7, b"abc", True, (1, 2), 0xBEDE, b"\x01\x02\x03\x04", 4)
    data = packet.to_bytes()
    assert data[0] == 0x80 | 0x20 | 0x10 | 2 and data[-1] == 4
    parsed = parse_rtp(data)
    assert parsed == packet


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x80\x60\x00",
        bytes.fromhex("40600001000000010000000100"),  # version 1
        bytes.fromhex("82600001000000010000000100"),  # two CSRCs announced, none there
        bytes.fromhex("90600001000000010000000100"),  # extension announced, truncated
        bytes.fromhex("a060000100000001000000010009"),  # padding longer than the packet
        bytes.fromhex("a060000100000001000000010000"),  # padding count zero
    ],
)
def test_malformed_rtp_is_a_protocol_error(data: bytes) -> None:
    with pytest.raises(MediaProtocolError):
        parse_rtp(data)


@given(
    pt=st.integers(0, 127),
    seq=st.integers(0, 65535),
    ts=st.integers(0, 2**32 - 1),
    ssrc=st.integers(0, 2**32 - 1),
    payload=st.binary(max_size=64),
    marker=st.booleans(),
    csrcs=st.lists(st.integers(0, 2**32 - 1), max_size=15),
    ext=st.one_of(st.none(), st.tuples(st.integers(0, 65535), st.binary(max_size=12))),
    padding=st.integers(0, 32),
)
def test_rtp_build_parse_round_trip(
    pt: int,
    seq: int,
    ts: int,
    ssrc: int,
    payload: bytes,
    marker: bool,
    csrcs: list[int],
    ext: tuple[int, bytes] | None,
    padding: int,
) -> None:
    profile, ext_data = (None, b"") if ext is None else (ext[0], ext[1] + bytes(-len(ext[1]) % 4))
    packet = RtpPacket(pt, seq, ts, ssrc, payload, marker, tuple(csrcs), profile, ext_data, padding)
    assert parse_rtp(packet.to_bytes()) == packet


# -- payload formats --------------------------------------------------------------------------------


def test_h264_single_stap_a_and_fu_a() -> None:
    depack = H264Depacketizer()
    assert depack.push(b"\x41\x01\x02") == [b"\x41\x01\x02"]
    stap = bytes([STAP_A | 0x60]) + b"\x00\x02\x67\x01" + b"\x00\x03\x68\x02\x03"
    assert depack.push(stap) == [b"\x67\x01", b"\x68\x02\x03"]
    nalu = b"\x65" + bytes(range(1, 250)) * 20
    payloads = H264Packetizer(max_payload=500).packetize([nalu])
    assert len(payloads) > 1 and all(p[0] & 0x1F == FU_A for p in payloads)
    assert payloads[0][1] & 0x80 and payloads[-1][1] & 0x40
    assert all(len(p) <= 500 for p in payloads)
    out = [n for p in payloads for n in depack.push(p)]
    assert out == [nalu] and not depack.broken


def test_fragment_with_both_start_and_end_set_is_a_whole_unit_and_a_new_start_drops_the_open_one() -> None:
    depack = H264Depacketizer()
    assert depack.push(b"\x7c\x85\x01") == [] and not depack.broken
    assert depack.push(b"\x7c\xc1\x02\x03") == [b"\x61\x02\x03"] and depack.broken
    depack265 = H265Depacketizer()
    assert depack265.push(b"\x62\x01\x81\x11") == []
    assert depack265.push(b"\x62\x01\xd3\x12") == [b"\x26\x01\x12"] and depack265.broken


def test_h264_fragment_without_start_marks_the_frame_broken() -> None:
    depack = H264Depacketizer()
    payloads = H264Packetizer(max_payload=100).packetize([b"\x65" + bytes(300)])
    assert depack.push(payloads[1]) == [] and depack.broken
    depack.broken = False
    depack.push(payloads[0])
    assert depack.push(b"\x41\x00") == [b"\x41\x00"]  # an unfinished FU-A is abandoned
    assert depack.broken


@pytest.mark.parametrize(
    "payload",
    [b"", b"\x7c", b"\x7c\x85", b"\x78\x00", b"\x78\x00\x05\x67", b"\x7a\x00\x00", b"\x7d\x00\x00"],
)
def test_h264_malformed_payloads_are_protocol_errors(payload: bytes) -> None:
    with pytest.raises(MediaProtocolError):
        H264Depacketizer().push(payload)


nal_lists = st.lists(
    st.binary(min_size=2, max_size=3000).map(lambda b: bytes([b[0] & 0x7F or 1]) + b[1:]),
    min_size=1,
    max_size=8,
)


@settings(max_examples=150, deadline=None)
@given(nalus=nal_lists, mtu=st.integers(16, 1500), aggregate=st.booleans())
def test_h264_packetize_depacketize_round_trip(nalus: list[bytes], mtu: int, aggregate: bool) -> None:
    nalus = [bytes([(n[0] & 0xE0) | ((n[0] & 0x1F) % 23 + 1)]) + n[1:] for n in nalus]
    payloads = H264Packetizer(mtu, aggregate).packetize(nalus)
    assert all(len(p) <= mtu for p in payloads)
    depack = H264Depacketizer()
    assert [n for p in payloads for n in depack.push(p)] == nalus
    assert not depack.broken


@settings(max_examples=150, deadline=None)
@given(nalus=nal_lists, mtu=st.integers(16, 1500), aggregate=st.booleans())
def test_h265_packetize_depacketize_round_trip(nalus: list[bytes], mtu: int, aggregate: bool) -> None:
    # a two-byte header, then at least one byte of payload (an RTP payload is never just a header)
    nalus = [
        bytes([((n[0] >> 1) % 41) << 1, (n[1] & 0xF8) | max(1, n[1] & 7)]) + n[2:] + b"\x80" for n in nalus
    ]
    payloads = H265Packetizer(mtu, aggregate).packetize(nalus)
    assert all(len(p) <= mtu for p in payloads)
    depack = H265Depacketizer()
    assert [n for p in payloads for n in depack.push(p)] == nalus


def test_h265_aggregation_and_fragmentation_headers() -> None:
    vps, sps, pps = b"\x40\x01\x0c", b"\x42\x01\x01\x02", b"\x44\x01\xc0"
    idr = b"\x26\x01" + bytes(range(256)) * 10
    payloads = H265Packetizer(1000).packetize([vps, sps, pps, idr])
    assert (payloads[0][0] >> 1) & 0x3F == AP
    assert all((p[0] >> 1) & 0x3F == FU and p[2] & 0x3F == 19 for p in payloads[1:])
    depack = H265Depacketizer()
    assert [n for p in payloads for n in depack.push(p)] == [vps, sps, pps, idr]


def test_h265_donl_fields_are_skipped() -> None:
    depack = H265Depacketizer(donl=True)
    assert depack.push(b"\x26\x01\x00\x07\xaa\xbb") == [b"\x26\x01\xaa\xbb"]
    ap = b"\x60\x01" + b"\x00\x01" + b"\x00\x03\x40\x01\x0c" + b"\x01" + b"\x00\x03\x42\x01\x01"
    assert depack.push(ap) == [b"\x40\x01\x0c", b"\x42\x01\x01"]
    fu_start = b"\x62\x01\x93\x00\x09\xaa"
    fu_end = b"\x62\x01\x53\xbb"
    assert depack.push(fu_start) == [] and depack.push(fu_end) == [b"\x26\x01\xaa\xbb"]


def test_h265_paci_is_refused_and_unknown_types_ignored() -> None:
    with pytest.raises(MediaProtocolError):
        H265Depacketizer().push(b"\x64\x01\x00\x00")
    assert H265Depacketizer().push(b"\x66\x01\x00") == []


# -- timeline ---------------------------------------------------------------------------------------


def test_timeline_unwraps_32_bit_timestamps_and_rebases_sessions_forward() -> None:
    timeline = Timeline()
    first = [timeline.map((2**32 - 7200 + i * 3600) % 2**32) for i in range(4)]
    assert first == [0, 3600, 7200, 10800]
    timeline.new_session()
    assert timeline.map(5) == 14400  # one frame after the last one, whatever the new base
    assert timeline.map(3605) == 18000
    assert timeline.map(3605 + 90000 * 60) == 21600  # a 60 s jump is a discontinuity, not a gap


# -- assembly ---------------------------------------------------------------------------------------


def _assemble(
    packets: list[RtpPacket], codec: Codec = Codec.h264, **kwargs: object
) -> tuple[FrameAssembler, list[AccessUnit]]:
    out: list[AccessUnit] = []
    assembler = FrameAssembler(codec, 96, out.append, **kwargs)  # type: ignore[arg-type]
    for packet in packets:
        assembler.push(packet)
    return assembler, out


def _clip_packets(codec: Codec = Codec.h264, frames: int = 20, mtu: int = 300, **kw: int) -> list[RtpPacket]:
    clip = encode_clip(codec, 160, 96, frames, 10)
    packetizer = H264Packetizer(mtu) if codec is Codec.h264 else H265Packetizer(mtu)
    return to_rtp([packetizer.packetize(list(au)) for au in clip], **kw)


def _assemble_from_wire(packets: list[RtpPacket], codec: Codec) -> list[AccessUnit]:
    """The RTSP client's path: the packets' bytes in one read buffer, handed over as spans."""
    out: list[AccessUnit] = []
    buffer, spans = b"", []
    for packet in packets:
        data = packet.to_bytes()
        spans += [len(buffer) + 4, len(buffer) + 4 + len(data)]
        buffer += b"$\x00" + len(data).to_bytes(2, "big") + data
    FrameAssembler(codec, 96, out.append).push_packets(buffer, spans)
    return out


@pytest.mark.parametrize("wire", [False, True], ids=["parsed", "wire"])
@pytest.mark.parametrize("codec", [Codec.h264, Codec.h265])
def test_assembled_frames_equal_the_encoded_ones_and_decode(codec: Codec, wire: bool) -> None:
    clip = encode_clip(codec, 160, 96, 20, 10)
    packets = _clip_packets(codec, seq=65530, ts=2**32 - 3 * 3600)
    aus = _assemble_from_wire(packets, codec) if wire else _assemble(packets, codec)[1]
    assert [au.nalus for au in aus] == [list(au) for au in clip]
    assert [au.keyframe for au in aus] == [i % 10 == 0 for i in range(20)]
    assert [au.pts for au in aus] == [i * 3600 for i in range(20)]
    assert aus[0].params.width == 160 and aus[0].params.height == 96
    decoder = Decoder(codec)
    pictures = [p for au in aus for p in decoder.decode_au(au)] + decoder.flush()
    assert len(pictures) == 20


@pytest.mark.parametrize("codec", [Codec.h264, Codec.h265])
def test_unmarked_frames_close_on_the_next_timestamp_on_the_wire_path(codec: Codec) -> None:
    """Cameras need not set the marker bit. Without it, the packet that starts the next frame
    continues the sequence numbers of the open one and may be a fragment start `extend` would
    take: only its new timestamp closes the open frame, in one read as in many."""
    clip = encode_clip(codec, 160, 96, 20, 10)
    packets = _clip_packets(codec, mtu=120, seq=65500)
    assert sum(p.marker for p in packets) == 20
    for packet in packets:
        packet.marker = False
    aus = _assemble_from_wire(packets, codec)
    assert [au.nalus for au in aus] == [list(au) for au in clip[:19]]  # the last frame is still open
    assert [au.pts for au in aus] == [i * 3600 for i in range(19)]


def test_marker_bit_emits_the_frame_at_once_and_next_timestamp_closes_unmarked_frames() -> None:
    packets = _clip_packets(frames=3)
    out: list[AccessUnit] = []
    assembler = FrameAssembler(Codec.h264, 96, out.append)
    first_frame = [p for p in packets if p.timestamp == packets[0].timestamp]
    for packet in first_frame:
        assembler.push(packet)
    assert len(out) == 1  # no need to wait for the next frame
    for packet in packets[len(first_frame) :]:
        packet.marker = False
        assembler.push(packet)
    assert len(out) == 2  # the second frame closed when the third began; the third is still open


def test_parameter_sets_sent_apart_with_the_idr_timestamp_join_the_keyframe() -> None:
    clip = encode_clip(Codec.h264, 160, 96, 2, 10)
    params = [n for n in clip[0] if n[0] & 0x1F in (7, 8)]
    rest = [n for n in clip[0] if n[0] & 0x1F not in (7, 8)]
    pack = H264Packetizer(1400, aggregate=False).packetize
    # a camera that marks its parameter-set "frame" with the marker bit and the IDR's timestamp
    packets = to_rtp([pack(params), pack(rest), pack(list(clip[1]))], step=0)
    packets[-1].timestamp += 3600
    _, aus = _assemble(packets)
    assert len(aus) == 2
    assert aus[0].keyframe and aus[0].nalus == params + rest


def test_parameter_sets_with_their_own_timestamp_are_carried_into_the_next_frame() -> None:
    clip = encode_clip(Codec.h264, 160, 96, 2, 10)
    params = [n for n in clip[0] if n[0] & 0x1F in (7, 8)]
    rest = [n for n in clip[0] if n[0] & 0x1F not in (7, 8)]
    pack = H264Packetizer(1400).packetize
    _, aus = _assemble(to_rtp([pack(params), pack(rest), pack(list(clip[1]))], step=1800))
    assert [au.keyframe for au in aus] == [True, False]
    assert aus[0].nalus == params + rest


def test_frames_before_the_first_keyframe_are_skipped() -> None:
    packets = _clip_packets(frames=20)
    start = next(i for i, p in enumerate(packets) if p.timestamp == packets[0].timestamp + 3 * 3600)
    assembler, aus = _assemble(packets[start:])
    assert aus[0].keyframe and len(aus) == 10
    assert assembler.stats.skipped_frames == 7


def test_lost_packet_drops_only_the_damaged_frame() -> None:
    packets = _clip_packets(frames=20, mtu=120)
    frame_ts = sorted({p.timestamp for p in packets})
    victim = next(i for i, p in enumerate(packets) if p.timestamp == frame_ts[4] and not p.marker)
    assembler, aus = _assemble(packets[:victim] + packets[victim + 1 :])
    assert len(aus) == 19
    assert frame_ts[4] - frame_ts[0] not in [au.pts for au in aus]
    assert assembler.stats.lost_packets == 1 and assembler.stats.damaged_frames == 1


def test_loss_of_a_whole_marker_packet_damages_both_neighbours_at_most() -> None:
    packets = _clip_packets(frames=20, mtu=120)
    frame_ts = sorted({p.timestamp for p in packets})
    victim = next(i for i, p in enumerate(packets) if p.timestamp == frame_ts[4] and p.marker)
    assembler, aus = _assemble(packets[:victim] + packets[victim + 1 :])
    assert 18 <= len(aus) <= 19 and assembler.stats.damaged_frames >= 1


def test_resync_on_loss_waits_for_the_next_keyframe() -> None:
    packets = _clip_packets(frames=20, mtu=120)
    frame_ts = sorted({p.timestamp for p in packets})
    victim = next(i for i, p in enumerate(packets) if p.timestamp == frame_ts[4])
    _, aus = _assemble(packets[:victim] + packets[victim + 1 :], wait_keyframe_after_loss=True)
    assert len(aus) == 14 and aus[4].keyframe


def test_duplicate_and_late_packets_are_ignored() -> None:
    packets = _clip_packets(frames=10)
    noisy = []
    for packet in packets:
        noisy += [packet, packet]
    assembler, aus = _assemble(noisy)
    assert len(aus) == 10 and assembler.stats.late_packets == len(packets)


def test_reconnect_continues_the_timeline_forward() -> None:
    timeline = Timeline()
    _, first = _assemble(_clip_packets(frames=10, ts=4_000_000_000), timeline=timeline)
    _, second = _assemble(_clip_packets(frames=10, ts=12345, seq=7), timeline=timeline)
    pts = [au.pts for au in first + second]
    assert pts == [i * 3600 for i in range(20)]


def test_ssrc_change_restarts_at_a_keyframe_and_keeps_time_moving() -> None:
    packets = _clip_packets(frames=10) + _clip_packets(frames=10, ssrc=99, ts=5, seq=3)
    _, aus = _assemble(packets)
    assert len(aus) == 20
    assert all(b.pts > a.pts for a, b in itertools.pairwise(aus))


def test_other_payload_types_are_ignored() -> None:
    packets = _clip_packets(frames=5)
    for packet in packets:
        packet.payload_type = 97
    assembler, aus = _assemble(packets)
    assert aus == [] and assembler.stats.packets == 0
