"""PS ingest CPU per camera against our RTSP/RTP H.264 ingest of the same stream, in the same run:
prints one JSON object (not a test).

A GB/T 28181 camera sends its H.264 as MPEG-PS over RTP (`media/ps/`: RTP check, PS walk, NAL unit
split by start codes, access units); an RTSP camera sends the same H.264 as RFC 6184 RTP
(`media/rtp/assembler.py`). Both ingest paths are fed the same frames (the simulator's camera loop:
640x360, 25 fps, 1 Mbit/s, GOP 2 s, the one `xueliang sim` serves), in process, with no sockets:

    ps-udp   one PsRtpReceiver.push_rtp per datagram of PS/RTP (1400-byte packets)
    ps-tcp   PsRtpReceiver.push_tcp per 4 KiB read of the RFC 4571 stream of those packets
    rtp-udp  one FrameAssembler.push_rtp per datagram of H.264/RTP (FU-A, 1400-byte packets)
    rtp-tcp  FrameAssembler.push_packets per 4 KiB read (what the RTSP client does for TCP interleaved)

Each mode's CPU time (time.process_time) per frame is measured over `--frames` frames, `--repeat`
times in alternating order; the medians, the PS/RTP ratios and the CPU of one 25 fps camera in % of a
core are printed. Compare figures from the same run only.

    .venv/bin/python bench/ps_ingest.py [--frames 2000] [--repeat 7] [--width 640 --height 360]"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from xueliang.media.frames import AccessUnit, Codec
from xueliang.media.ps import PsRtpReceiver, PsSender, frame_tcp
from xueliang.media.rtp.assembler import FrameAssembler
from xueliang.media.rtp.h264 import H264Packetizer
from xueliang.media.rtp.packet import HEADER_SIZE, RtpPacket
from xueliang.media.sim.encode import LoopSpec, load_loop

ROOT = Path(__file__).resolve().parents[1]
PACKET = 1400  # bytes of an RTP packet, header included, on both paths
READ = 4096  # bytes of one TCP read


def units(spec: LoopSpec, count: int) -> list[AccessUnit]:
    """`count` frames of the simulator's loop of camera 1, replayed with time running on."""
    loop = load_loop(ROOT / "var" / "bench-cache", 1, spec)
    step = 90000 // spec.fps
    out = []
    for i in range(count):
        index = i % len(loop.frames)
        out.append(AccessUnit(loop.frames[index], i * step, loop.keyframes[index], loop.params))
    return out


def h264_rtp(frames: list[AccessUnit]) -> list[bytes]:
    """RFC 6184 packets as our RTSP simulator sends them (parameter sets in band at keyframes)."""
    packetizer = H264Packetizer(max_payload=PACKET - HEADER_SIZE)
    out = []
    seq = 0
    for au in frames:
        nalus = [au.params.sps, au.params.pps, *au.nalus] if au.keyframe and len(au.nalus) < 3 else au.nalus
        payloads = packetizer.packetize(nalus)
        for i, payload in enumerate(payloads):
            packet = RtpPacket(96, seq & 0xFFFF, au.pts, 0x1234, payload, marker=i == len(payloads) - 1)
            out.append(packet.to_bytes())
            seq += 1
    return out


def reads(packets: list[bytes]) -> list[bytes]:
    """The byte stream of the packets cut into reads of READ bytes."""
    stream = b"".join(packets)
    return [stream[pos : pos + READ] for pos in range(0, len(stream), READ)]


def interleaved(packets: list[bytes]) -> list[tuple[bytes, list[int]]]:
    """Reads of whole RTSP-interleaved packets, each with the spans of its RTP packets (as the RTSP
    client hands them to FrameAssembler.push_packets)."""
    out: list[tuple[bytes, list[int]]] = []
    parts: list[bytes] = []
    spans: list[int] = []
    size = 0
    for packet in packets:
        framed = b"$\x00" + len(packet).to_bytes(2, "big") + packet
        if size + len(framed) > READ and parts:
            out.append((b"".join(parts), spans))
            parts, spans, size = [], [], 0
        spans += [size + 4, size + len(framed)]
        parts.append(framed)
        size += len(framed)
    if parts:
        out.append((b"".join(parts), spans))
    return out


def timed(feed: Callable[[], int], expected: int) -> float:
    """CPU seconds of one feed, which must emit `expected` frames."""
    start = time.process_time()
    emitted = feed()
    elapsed = time.process_time() - start
    if emitted != expected:
        raise SystemExit(f"a path emitted {emitted} frames of {expected}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--width", type=int, default=640)
    parser.add_argument("--height", type=int, default=360)
    args = parser.parse_args()
    spec = LoopSpec(width=args.width, height=args.height)
    frames = units(spec, args.frames)
    sender = PsSender(0x1234, max_packet=PACKET)
    ps_packets = [p for au in frames for p in sender.packets(au)]
    ps_reads = reads([frame_tcp(p) for p in ps_packets])
    rtp_packets = h264_rtp(frames)
    rtp_reads = interleaved(rtp_packets)

    def ps_udp() -> int:
        out: list[AccessUnit] = []
        receiver = PsRtpReceiver(out.append, codec=Codec.h264)
        for packet in ps_packets:
            receiver.push_rtp(packet)
        return len(out)

    def ps_tcp() -> int:
        out: list[AccessUnit] = []
        receiver = PsRtpReceiver(out.append, codec=Codec.h264)
        for read in ps_reads:
            receiver.push_tcp(read)
        return len(out)

    def rtp_udp() -> int:
        out: list[AccessUnit] = []
        assembler = FrameAssembler(Codec.h264, 96, out.append)
        for packet in rtp_packets:
            assembler.push_rtp(packet)
        return len(out)

    def rtp_tcp() -> int:
        out: list[AccessUnit] = []
        assembler = FrameAssembler(Codec.h264, 96, out.append)
        for data, spans in rtp_reads:
            assembler.push_packets(data, spans)
        return len(out)

    modes = {"ps-udp": ps_udp, "ps-tcp": ps_tcp, "rtp-udp": rtp_udp, "rtp-tcp": rtp_tcp}
    times: dict[str, list[float]] = {name: [] for name in modes}
    for feed in modes.values():  # warm-up
        timed(feed, args.frames)
    for round_ in range(args.repeat):
        order = list(modes) if round_ % 2 == 0 else list(reversed(modes))
        for name in order:
            times[name].append(timed(modes[name], args.frames))
    per_frame = {name: statistics.median(t) / args.frames * 1e6 for name, t in times.items()}
    ps_bytes = sum(len(p) for p in ps_packets)
    rtp_bytes = sum(len(p) for p in rtp_packets)
    report = {
        "stream": f"{spec.width}x{spec.height} {spec.fps} fps {spec.bits_per_second // 1000} kbit/s h264",
        "frames": args.frames,
        "repeat": args.repeat,
        "packets_per_frame": {
            "ps": round(len(ps_packets) / args.frames, 2),
            "rtp": round(len(rtp_packets) / args.frames, 2),
        },
        "wire_overhead_ps_vs_rtp": round(ps_bytes / rtp_bytes, 4),
        "us_per_frame_median": {name: round(v, 2) for name, v in per_frame.items()},
        "us_per_frame_spread": {
            name: [round(min(t) / args.frames * 1e6, 2), round(max(t) / args.frames * 1e6, 2)]
            for name, t in times.items()
        },
        "ratio_ps_to_rtp": {
            "udp": round(per_frame["ps-udp"] / per_frame["rtp-udp"], 2),
            "tcp": round(per_frame["ps-tcp"] / per_frame["rtp-tcp"], 2),
        },
        "cpu_percent_per_camera_at_fps": {
            name: round(v * spec.fps / 1e6 * 100, 4) for name, v in per_frame.items()
        },
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
