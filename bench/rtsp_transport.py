"""What the RTSP transports of issue 15 part 4 cost in Python: prints one JSON object (not a test).

- reorder: µs per RTP packet through the UDP ingest's reorder buffer (media/rtp/reorder.py), in order
  and with every 7th packet swapped with the next (what the e2e relay does);
- send: µs per frame to one re-serve client, TCP interleaved (`for_tcp` + one write) against UDP
  (`for_udp` + one sendto per packet), into real loopback sockets, for a 720p-sized P-frame (6 packets)
  and keyframe (60 packets);
- report: µs to build one RTCP sender report (one per session every 5 s: negligible by design).

Medians over --repeat runs. Compare versions on the same machine in the same hour.

    .venv/bin/python bench/rtsp_transport.py [--packets 200000] [--repeat 7]"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import struct
import time
from typing import Any

from xueliang.media.rtp import rtcp
from xueliang.media.rtp.prepared import PreparedFrame, prepare_frame
from xueliang.media.rtp.reorder import ReorderBuffer


def packets(count: int, swap: bool) -> list[bytes]:
    out = [struct.pack(">BBHII", 0x80, 96, n & 0xFFFF, n // 6 * 3600, 42) + bytes(1200) for n in range(count)]
    if swap:
        for n in range(7, count - 1, 7):
            out[n], out[n + 1] = out[n + 1], out[n]
    return out


async def reorder_us(count: int, swap: bool) -> float:
    data = packets(count, swap)
    sink: list[bytes] = []
    buffer = ReorderBuffer(sink.append)
    start = time.perf_counter()
    for packet in data:
        buffer.push(packet)
    elapsed = time.perf_counter() - start
    buffer.close()
    assert len(sink) == count
    return elapsed / count * 1e6


def frame(count: int) -> PreparedFrame:
    return prepare_frame([os.urandom(1400) for _ in range(count)], 96, count > 10)


def send_us(prepared: PreparedFrame, frames: int) -> tuple[float, float]:
    """(TCP, UDP) µs per frame into loopback sockets, emptied after each frame (not timed)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    tcp = socket.create_connection(server.getsockname())
    peer, _ = server.accept()
    peer.setblocking(False)
    udp_in = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp_in.bind(("127.0.0.1", 0))
    udp_in.setblocking(False)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.setblocking(False)
    target = udp_in.getsockname()

    def drain() -> None:
        for sock in (peer, udp_in):
            try:
                while sock.recv(1 << 20):
                    pass
            except BlockingIOError:
                pass

    seq = ts = 0
    tcp_time = udp_time = 0.0
    for _ in range(frames):
        start = time.perf_counter()
        tcp.sendall(prepared.for_tcp(0, seq, ts, 42))
        tcp_time += time.perf_counter() - start
        start = time.perf_counter()
        for packet in prepared.for_udp(seq, ts, 42):
            udp.sendto(packet, target)
        udp_time += time.perf_counter() - start
        seq, ts = seq + prepared.packets, ts + 3600
        drain()
    for sock in (server, tcp, peer, udp_in, udp):
        sock.close()
    return tcp_time / frames * 1e6, udp_time / frames * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--packets", type=int, default=200_000)
    parser.add_argument("--frames", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    result: dict[str, Any] = {}
    for swap in (False, True):
        runs = [asyncio.run(reorder_us(args.packets, swap)) for _ in range(args.repeat)]
        result[f"reorder_us_per_packet_{'swapped' if swap else 'in_order'}"] = round(
            statistics.median(runs), 3
        )
    for name, count in (("p_frame_6_packets", 6), ("keyframe_60_packets", 60)):
        prepared = frame(count)
        pairs = [send_us(prepared, args.frames) for _ in range(args.repeat)]
        result[f"send_us_per_frame_tcp_{name}"] = round(statistics.median(p[0] for p in pairs), 2)
        result[f"send_us_per_frame_udp_{name}"] = round(statistics.median(p[1] for p in pairs), 2)
    start = time.perf_counter()
    for n in range(10_000):
        rtcp.sender_report(42, n, n, n * 1000, "xueliang-1")
    result["sender_report_us"] = round((time.perf_counter() - start) / 10_000 * 1e6, 3)
    result["load_1min"] = os.getloadavg()[0]
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
