"""Loopback ports."""

from __future__ import annotations

import random
import socket

# Below the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768-60999 by default): a port
# handed out by `bind(0)` is an ephemeral one, and between picking it and the server binding it any
# outgoing connection (a NATS leaf link, an HTTP client) may take it as its local port — a node of the
# federation tests once failed to start with "address already in use" that way. Ports from this range
# are never taken implicitly; a random pick checked by binding keeps the two test passes apart.
PICK_FROM = (20000, 32000)
_rng = random.SystemRandom()


def free_port() -> int:
    for _ in range(200):
        port = _rng.randrange(*PICK_FROM)
        with socket.socket() as tcp, socket.socket(type=socket.SOCK_DGRAM) as udp:
            try:  # free for TCP and UDP (RTSP/SIP servers bind both)
                tcp.bind(("127.0.0.1", port))
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free loopback port in {PICK_FROM}")


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False
