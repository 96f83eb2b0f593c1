"""PS over RTP, ours to ours: what a GB/T 28181 camera's stream goes through on the way in (loss,
reordering, a restart with a new SSRC, TCP framing), and what comes out."""

from __future__ import annotations

import random

from tests.support.clips import encode_clip
from xueliang.media.frames import AccessUnit
from xueliang.media.ps import PsRtpReceiver, PsSender, frame_tcp
from xueliang.media.rtp.packet import parse_rtp

CLIP = encode_clip(frames=30, gop=10, noise=True)  # keyframes 0, 10, 20; several packets per frame


def sent(ssrc: int = 7) -> list[list[bytes]]:
    """The RTP packets of each frame of CLIP."""
    sender = PsSender(ssrc)
    return [sender.packets(au) for au in CLIP]


def receive(packets: list[bytes], **kwargs: object) -> tuple[list[AccessUnit], PsRtpReceiver]:
    out: list[AccessUnit] = []
    receiver = PsRtpReceiver(out.append, **kwargs)  # type: ignore[arg-type]
    for packet in packets:
        receiver.push_rtp(packet)
    receiver.flush()
    return out, receiver


def frames_of(units: list[AccessUnit]) -> list[int]:
    """Which frames of CLIP came out, by their last NAL unit."""
    index = {au.nalus[-1]: i for i, au in enumerate(CLIP)}
    return [index[au.nalus[-1]] for au in units]


def test_every_frame_comes_through_with_its_time_stamps() -> None:
    frames = sent()
    assert min(len(f) for f in frames) > 2
    units, receiver = receive([p for f in frames for p in f])
    assert frames_of(units) == list(range(30))
    assert [au.nalus for au in units] == [au.nalus for au in CLIP]
    assert [au.pts - units[0].pts for au in units] == [au.pts - CLIP[0].pts for au in CLIP]
    assert [au.keyframe for au in units] == [au.keyframe for au in CLIP]
    assert receiver.stats.lost_packets == 0 and receiver.demuxer.stats.damaged_frames == 0


def test_a_lost_packet_drops_its_frame_only() -> None:
    frames = sent()
    frames[5] = frames[5][:1] + frames[5][2:]  # a middle packet of frame 5
    frames[12] = frames[12][1:]  # the first packet of frame 12: its pack header
    frames[17] = frames[17][:-1]  # the last, marked packet of frame 17
    units, receiver = receive([p for f in frames for p in f])
    assert frames_of(units) == [i for i in range(30) if i not in (5, 12, 17)]
    assert receiver.stats.lost_packets == 3
    assert receiver.demuxer.stats.damaged_frames == 2  # frame 12 never opened: its packets were skipped


def test_after_loss_it_can_wait_for_the_next_keyframe() -> None:
    frames = sent()
    frames[5] = frames[5][:1] + frames[5][2:]
    units, _ = receive([p for f in frames for p in f], wait_keyframe_after_loss=True)
    assert frames_of(units) == [*range(5), *range(10, 30)]


def test_late_and_duplicate_packets_are_dropped() -> None:
    packets = [p for f in sent() for p in f]
    packets.insert(10, packets[3])  # a duplicate from long ago
    packets[20], packets[21] = packets[21], packets[20]  # a swap: one gap, one late packet
    units, receiver = receive(packets)
    assert receiver.stats.late_packets == 2 and receiver.stats.lost_packets == 1
    assert len(units) == 29


def test_a_restart_with_a_new_ssrc_starts_over_at_a_keyframe() -> None:
    first = [p for f in sent(ssrc=1)[:15] for p in f]
    second = [p for f in sent(ssrc=2)[5:] for p in f]  # from frame 5: starts with P-frames
    units, receiver = receive(first + second)
    assert frames_of(units) == [*range(15), *range(10, 30)]
    assert receiver.stats.ssrc_changes == 1
    times = [au.decode_ts for au in units]
    assert times == sorted(times) and len(set(times)) == len(times)


def test_a_fixed_ssrc_and_payload_type_keep_other_senders_out() -> None:
    packets = [p for f in sent(ssrc=1) for p in f]
    stray = [p for f in sent(ssrc=2)[:3] for p in f]
    wrong_type = bytearray(packets[0])
    wrong_type[1] = 97
    units, receiver = receive([*stray, bytes(wrong_type), *packets, b"\x80\x60"], ssrc=1)
    assert frames_of(units) == list(range(30))
    assert receiver.stats.foreign_packets == len(stray) + 1 and receiver.stats.malformed_packets == 1


def test_unmarked_frames_end_when_the_timestamp_changes() -> None:
    packets = []
    for frame in sent():
        last = parse_rtp(frame[-1])
        last.marker = False
        packets += [*frame[:-1], last.to_bytes()]
    units, _ = receive(packets)
    assert frames_of(units) == list(range(30))


def test_tcp_rfc4571_in_any_chunking() -> None:
    stream = b"".join(frame_tcp(p) for f in sent() for p in f)
    out: list[AccessUnit] = []
    receiver = PsRtpReceiver(out.append)
    rng = random.Random(4571)
    pos = 0
    while pos < len(stream):
        step = rng.randint(1, 3000)
        receiver.push_tcp(stream[pos : pos + step])
        pos += step
    assert frames_of(out) == list(range(30))
