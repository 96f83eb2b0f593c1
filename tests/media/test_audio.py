"""Audio pieces without a network: the SDP audio track, RTP depacketizing of real AAC (RFC 3640 AAC-hbr)
and G.711, the audio fMP4 track FFmpeg decodes, and G.711 → AAC on demand. Sound is made by FFmpeg's
encoders through PyAV (a 440 Hz tone)."""

from __future__ import annotations

import io
import struct

import av
import numpy as np
import pytest

from tests.support.waits import wait_until
from xueliang.media.audio.aac import FRAME_SAMPLES, build_asc, codec_string, parse_asc
from xueliang.media.audio.channel import AudioChannel, AudioFragment
from xueliang.media.audio.fmp4 import AudioFragmentWriter, AudioInit, build_audio_init
from xueliang.media.audio.frames import AudioCodec, AudioConfig, AudioFrame
from xueliang.media.audio.rtp import AudioAssembler
from xueliang.media.audio.sdp import AudioTrack, audio_track
from xueliang.media.audio.transcode import G711ToAac, OnDemandTranscoder
from xueliang.media.rtp.packet import RtpPacket
from xueliang.media.rtsp.sdp import parse_sdp


def tone(rate: int, seconds: float) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (np.sin(2 * np.pi * 440 * t) * 8000).astype(np.int16)


def encode(codec: str, rate: int, seconds: float, chunk: int) -> list[bytes]:
    """Encoded packets of a mono tone: `pcm_alaw`, `pcm_mulaw` or `aac`."""
    ctx = av.CodecContext.create(codec, "w")
    ctx.sample_rate, ctx.layout = rate, "mono"  # type: ignore[attr-defined]
    ctx.format = "fltp" if codec == "aac" else "s16"  # type: ignore[attr-defined]
    pcm = tone(rate, seconds)
    packets: list[bytes] = []
    for i in range(0, len(pcm) - chunk + 1, chunk):
        samples = pcm[None, i : i + chunk]
        if codec == "aac":
            frame = av.AudioFrame.from_ndarray(
                (samples / 32768).astype(np.float32), format="fltp", layout="mono"
            )
        else:
            frame = av.AudioFrame.from_ndarray(samples, format="s16", layout="mono")
        frame.sample_rate, frame.pts = rate, i
        packets += [bytes(p) for p in ctx.encode(frame)]  # type: ignore[attr-defined]
    packets += [bytes(p) for p in ctx.encode(None)]  # type: ignore[attr-defined]
    return packets


SDP = """v=0
o=- 1 1 IN IP4 127.0.0.1
s=cam
a=control:*
m=video 0 RTP/AVP 96
a=rtpmap:96 H264/90000
a=control:stream=0
m=audio 0 RTP/AVP {fmt}
{lines}a=control:stream=1
"""


@pytest.mark.parametrize(
    ("fmt", "lines", "codec", "rate"),
    [
        ("8", "a=rtpmap:8 PCMA/8000\n", AudioCodec.pcma, 8000),
        ("0", "", AudioCodec.pcmu, 8000),  # static payload type, no rtpmap
        (
            "97",
            "a=rtpmap:97 MPEG4-GENERIC/16000/1\na=fmtp:97 streamtype=5;profile-level-id=2;mode=AAC-hbr;"
            "config=1408;sizelength=13;indexlength=3;indexdeltalength=3\n",
            AudioCodec.aac,
            16000,
        ),
    ],
)
def test_the_sdp_audio_track_gives_codec_rate_and_control(
    fmt: str, lines: str, codec: AudioCodec, rate: int
) -> None:
    track = audio_track(parse_sdp(SDP.format(fmt=fmt, lines=lines)), "rtsp://cam/live/")
    assert track is not None and track.config.codec is codec and track.config.sample_rate == rate
    assert track.control_url == "rtsp://cam/live/stream=1"


def test_audio_a_node_cannot_carry_is_no_track() -> None:
    opus = SDP.format(fmt="111", lines="a=rtpmap:111 opus/48000/2\n")
    latm = SDP.format(fmt="96", lines="a=rtpmap:96 MP4A-LATM/16000\n")
    assert audio_track(parse_sdp(opus), "rtsp://cam/") is None
    assert audio_track(parse_sdp(latm), "rtsp://cam/") is None


def test_audio_specific_config_round_trip() -> None:
    asc = build_asc(16000, 1)
    assert (
        asc == bytes.fromhex("1408") and parse_asc(asc) == (2, 16000, 1) and codec_string(asc) == "mp4a.40.2"
    )


def aac_hbr(units: list[bytes], ts: int, seq: int, marker: bool = True) -> RtpPacket:
    """An RFC 3640 AAC-hbr payload: 13-bit sizes, 3-bit index (delta) fields, then the units."""
    headers = b"".join(struct.pack(">H", len(u) << 3) for u in units)
    payload = struct.pack(">H", 16 * len(units)) + headers + b"".join(units)
    return RtpPacket(97, seq, ts, 0x77, payload, marker)


def test_aac_units_come_out_as_sent_with_sample_times_and_loss_costs_only_what_it_hit() -> None:
    units = encode("aac", 16000, 1.0, FRAME_SAMPLES)
    config = AudioConfig(AudioCodec.aac, 16000, 1, build_asc(16000, 1))
    out: list[AudioFrame] = []
    assembler = AudioAssembler(AudioTrack(config, 97, "rtsp://cam/a"), out.append)
    seq, ts = 65530, 2**32 - 3 * FRAME_SAMPLES  # both counters wrap
    packets = []
    for i in range(0, len(units), 3):  # three access units a packet
        packets.append(aac_hbr(units[i : i + 3], ts, seq & 0xFFFF))
        seq, ts = seq + 1, (ts + FRAME_SAMPLES * len(units[i : i + 3])) & 0xFFFFFFFF
    big = bytes(range(256)) * 12  # a 3 KB unit in two pieces with one timestamp
    whole = aac_hbr([big], ts, seq & 0xFFFF).payload
    packets += [
        RtpPacket(97, seq & 0xFFFF, ts, 0x77, whole[:1500], False),
        RtpPacket(97, (seq + 1) & 0xFFFF, ts, 0x77, whole[:4] + whole[1500:], True),
    ]
    for packet in packets:
        assembler.push_rtp(packet.to_bytes())
    assert [f.data for f in out] == [*units, big]
    assert [f.pts for f in out] == [i * FRAME_SAMPLES for i in range(len(units) + 1)]

    lossy: list[AudioFrame] = []
    assembler = AudioAssembler(AudioTrack(config, 97, "rtsp://cam/a"), lossy.append)
    for n, packet in enumerate(packets[:4]):
        if n != 1:
            assembler.push_rtp(packet.to_bytes())
    assert [f.data for f in lossy] == units[:3] + units[6:12]
    assert assembler.stats.lost_packets == 1


def test_g711_packets_are_frames_of_their_samples() -> None:
    packets = encode("pcm_alaw", 8000, 0.5, 160)
    config = AudioConfig(AudioCodec.pcma, 8000)
    out: list[AudioFrame] = []
    assembler = AudioAssembler(AudioTrack(config, 8, "rtsp://cam/a"), out.append)
    for n, payload in enumerate(packets):
        assembler.push_rtp(RtpPacket(8, n, 1000 + n * 160, 5, payload, False).to_bytes())
    assert [f.data for f in out] == packets and {f.samples for f in out} == {160}
    assert [f.pts for f in out] == [n * 160 for n in range(len(packets))]


def decode_audio(data: bytes) -> tuple[int, list[int]]:
    """(samples decoded, frame pts) of an audio fMP4 as FFmpeg reads it."""
    samples, times = 0, list[int]()
    with av.open(io.BytesIO(data), "r", format="mp4") as container:
        for packet in container.demux(audio=0):
            for frame in packet.decode():
                samples += frame.samples
                if frame.pts is not None:
                    times.append(frame.pts)
    return samples, times


async def test_g711_becomes_aac_in_an_fmp4_ffmpeg_plays_but_only_while_someone_holds_it() -> None:
    source = AudioConfig(AudioCodec.pcma, 8000)
    frames = [AudioFrame(p, n * 160, 160, source) for n, p in enumerate(encode("pcm_alaw", 8000, 2.0, 160))]
    transcoder = OnDemandTranscoder(source)
    assert await transcoder.push(frames[0]) == []  # nobody listens: no work at all
    transcoder.acquire()
    aac: list[AudioFrame] = []
    for frame in frames:
        aac += await transcoder.push(frame)
    transcoder.release()
    assert await transcoder.push(frames[0]) == []
    assert len(aac) >= 2 * 8000 // FRAME_SAMPLES - 2  # the encoder holds its delay back
    assert [f.pts for f in aac] == [n * FRAME_SAMPLES for n in range(len(aac))]

    init = build_audio_init(aac[0].config)
    assert init.mime == 'audio/mp4; codecs="mp4a.40.2"'
    writer = AudioFragmentWriter()
    runs = [aac[i : i + 5] for i in range(0, len(aac), 5)]
    data = init.data + b"".join(
        writer.write(run[0].pts, [f.data for f in run], FRAME_SAMPLES) for run in runs
    )
    samples, times = decode_audio(data)
    assert samples == len(aac) * FRAME_SAMPLES and times == [f.pts for f in aac]


def test_the_transcoder_follows_a_hole_in_the_g711_time() -> None:
    source = AudioConfig(AudioCodec.pcmu, 8000)
    packets = encode("pcm_mulaw", 8000, 1.0, 160)
    codec = G711ToAac(source)
    out: list[AudioFrame] = []
    for n, payload in enumerate(packets):
        out += codec.push(AudioFrame(payload, n * 160 + (80_000 if n >= 25 else 0), 160, source))
    assert out[-1].pts > 80_000  # after the 10 s hole, AAC time is G.711 time again


async def test_the_audio_channel_makes_a_track_only_for_listeners() -> None:
    config = AudioConfig(AudioCodec.aac, 16000, 1, build_asc(16000, 1))
    units = encode("aac", 16000, 1.0, FRAME_SAMPLES)
    frames = [AudioFrame(u, n * FRAME_SAMPLES, FRAME_SAMPLES, config) for n, u in enumerate(units)]
    channel = AudioChannel(1, frames_per_fragment=4)
    for frame in frames[:4]:
        channel.push(frame)
    assert channel.init is None and channel.fragments == 0  # nobody listens: nothing built
    items: list[AudioInit | AudioFragment] = []
    detach = channel.add_listener(items.append)
    for frame in frames[4:10] + frames[11:]:  # frame 10 lost on the way
        channel.push(frame)
    detach()
    init = items[0]
    assert isinstance(init, AudioInit) and init.codec == "mp4a.40.2"
    fragments = [i for i in items if isinstance(i, AudioFragment)]
    assert [f.decode_time for f in fragments][:3] == [
        4 * FRAME_SAMPLES,
        8 * FRAME_SAMPLES,
        11 * FRAME_SAMPLES,
    ]
    samples, times = decode_audio(init.data + b"".join(f.data for f in fragments))
    assert 11 * FRAME_SAMPLES in times and 10 * FRAME_SAMPLES not in times  # the hole stays a hole
    assert samples == sum(f.duration for f in fragments)


async def test_the_audio_channel_transcodes_g711_while_someone_listens() -> None:
    source = AudioConfig(AudioCodec.pcma, 8000)
    frames = [AudioFrame(p, n * 160, 160, source) for n, p in enumerate(encode("pcm_alaw", 8000, 2.0, 160))]
    channel = AudioChannel(2)
    items: list[AudioInit | AudioFragment] = []
    detach = channel.add_listener(items.append)
    for n, frame in enumerate(frames):
        channel.push(frame)
        if n % 25 == 24:  # half a second at a time, as a camera sends it
            await wait_until(lambda: channel._queue is not None and channel._queue.empty(), what="AAC")
    assert channel.dropped == 0
    await wait_until(lambda: channel.fragments >= 2, within=10, what="AAC fragments from G.711")
    detach()
    assert channel._transcoder is None  # the last listener left: transcoding stopped
    channel.push(frames[0])
    assert channel._queue is None
    init = items[0]
    assert isinstance(init, AudioInit) and init.config.codec is AudioCodec.aac
    samples, _ = decode_audio(init.data + b"".join(i.data for i in items if isinstance(i, AudioFragment)))
    assert samples >= 2 * 5 * FRAME_SAMPLES
    await channel.aclose()


def test_a_camera_with_audio_on_asks_its_engine_spec_for_sound() -> None:
    from xueliang.cameras.models import Camera
    from xueliang.media.plane.plane import spec_for

    on = Camera(id=1, name="gate", stream_url="rtsp://cam/1", enabled=True, audio_enabled=True)
    off = Camera(id=2, name="street", stream_url="rtsp://cam/2", enabled=True, audio_enabled=False)
    assert spec_for(on).options.get("audio") is True
    assert not spec_for(off).options.get("audio")
