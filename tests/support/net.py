"""Loopback ports."""

from __future__ import annotations

import os
import random
import socket

# Below the kernel's ephemeral range (net.ipv4.ip_local_port_range, 32768-60999 by default): a port
# handed out by `bind(0)` is an ephemeral one, and between picking it and the server binding it any
# outgoing connection (a NATS leaf link, an HTTP client) may take it as its local port — a node of the
# federation tests once failed to start with "address already in use" that way. Ports from this range
# are never taken implicitly. The two database passes run side by side, each picking at random and
# binding only later (a node's ports are written to its settings long before its servers start): a
# CI run once lost a federation node that way, so each pass draws from its own half of the range.
_HALVES = {"sqlite": (20000, 26000), "postgresql": (26000, 32000)}
PICK_FROM = _HALVES.get(os.environ.get("XUELIANG_TEST_DB", "sqlite"), (20000, 32000))
_rng = random.SystemRandom()


def free_port() -> int:
    for _ in range(200):
        port = _rng.randrange(*PICK_FROM)
        with socket.socket() as tcp, socket.socket(type=socket.SOCK_DGRAM) as udp:
            try:  # free for TCP on every address (a leaf listener binds 0.0.0.0) and UDP (RTSP/SIP)
                tcp.bind(("0.0.0.0", port))  # noqa: S104 - bound only to test that the port is free
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
