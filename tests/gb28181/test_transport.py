"""The SIP endpoint's transactions on real sockets: a retransmitted request reaches the handler once
and gets the same response again; a malformed datagram gets a 400 (or nothing), never a crash; our
requests are retransmitted over UDP until answered; TCP frames by Content-Length."""

from __future__ import annotations

import asyncio
import errno
import socket
from typing import Any

import pytest

from tests.support.waits import wait_until
from xueliang.gb28181.sip.message import SipMessage, parse, response_to
from xueliang.gb28181.sip.transport import SipEndpoint, Source

REQUEST = (
    "OPTIONS sip:51322300002000000001@127.0.0.1 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 127.0.0.1:{port};rport;branch={branch}\r\n"
    "From: <sip:51322310001180000001@5132230000>;tag=1\r\nTo: <sip:51322300002000000001@5132230000>\r\n"
    "Call-ID: {branch}@x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
)


async def test_retransmissions_are_absorbed_and_answered_alike() -> None:
    calls: list[str] = []
    gate = asyncio.Event()

    async def handler(msg: SipMessage, src: Source) -> SipMessage:
        calls.append(msg.branch)
        await gate.wait()
        return response_to(msg, 200, to_tag="t")

    endpoint = SipEndpoint(handler, "127.0.0.1", 0, ("UDP",))
    await endpoint.start()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    try:
        data = REQUEST.format(port=sock.getsockname()[1], branch="z9hG4bKabc").encode()
        for _ in range(3):  # while the handler still runs: absorbed
            await loop.sock_sendto(sock, data, ("127.0.0.1", endpoint.port))
        await wait_until(lambda: len(calls) == 1, 2, "the handler")
        gate.set()
        first = parse(await asyncio.wait_for(loop.sock_recv(sock, 65536), 2))
        await loop.sock_sendto(sock, data, ("127.0.0.1", endpoint.port))  # after the final response
        again = parse(await asyncio.wait_for(loop.sock_recv(sock, 65536), 2))
        assert first.status == again.status == 200 and first.get("To") == again.get("To")
        assert calls == ["z9hG4bKabc"]
        bad = data.replace(b"CSeq: 1 OPTIONS", b"CSeq: 1 INVITE")
        await loop.sock_sendto(sock, bad, ("127.0.0.1", endpoint.port))
        assert parse(await asyncio.wait_for(loop.sock_recv(sock, 65536), 2)).status == 400
        await loop.sock_sendto(sock, b"\x00garbage", ("127.0.0.1", endpoint.port))  # dropped
        await loop.sock_sendto(sock, data.replace(b"abc", b"def"), ("127.0.0.1", endpoint.port))
        assert parse(await asyncio.wait_for(loop.sock_recv(sock, 65536), 2)).status == 200  # still serving
    finally:
        sock.close()
        await endpoint.stop()


async def test_client_transaction_retransmits_over_udp_until_answered() -> None:
    async def handler(msg: SipMessage, src: Source) -> SipMessage:
        return response_to(msg, 200)

    ours = SipEndpoint(handler, "127.0.0.1", 0, ("UDP",))
    await ours.start()
    peer = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    peer.bind(("127.0.0.1", 0))
    peer.setblocking(False)
    loop = asyncio.get_running_loop()
    try:
        req = SipMessage(method="MESSAGE", uri="sip:x@127.0.0.1")
        for name, value in (
            ("From", "<sip:a@b>;tag=1"),
            ("To", "<sip:x@y>"),
            ("Call-ID", "c1"),
            ("CSeq", "1 MESSAGE"),
        ):
            req.add(name, value)
        pending = asyncio.create_task(
            ours.request(req, Source("UDP", "127.0.0.1", peer.getsockname()[1]), wait_s=5)
        )
        first = await asyncio.wait_for(loop.sock_recvfrom(peer, 65536), 2)
        second = await asyncio.wait_for(loop.sock_recvfrom(peer, 65536), 2)  # not answered: sent again (T1)
        assert first[0] == second[0]
        await loop.sock_sendto(peer, response_to(parse(second[0]), 200).encode(), second[1])
        assert (await pending).status == 200
    finally:
        peer.close()
        await ours.stop()


async def test_tcp_frames_by_content_length() -> None:
    async def handler(msg: SipMessage, src: Source) -> SipMessage:
        assert src.transport == "TCP"
        return response_to(msg, 200)

    endpoint = SipEndpoint(handler, "127.0.0.1", 0, ("TCP",))
    await endpoint.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", endpoint.port)
        one = REQUEST.format(port=1, branch="z9hG4bK1").replace("UDP", "TCP").encode()
        two = REQUEST.format(port=1, branch="z9hG4bK2").replace("UDP", "TCP").encode()
        writer.write(one + two[:20])
        await writer.drain()
        writer.write(two[20:])
        got = []
        for _ in range(2):
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
            got.append(parse(head).branch)
        assert sorted(got) == ["z9hG4bK1", "z9hG4bK2"]
        writer.write(b"NOT SIP AT ALL\r\n\r\n")  # no Content-Length on a stream: the connection is closed
        assert await asyncio.wait_for(reader.read(), 2) == b""
        writer.close()
    finally:
        await endpoint.stop()


async def test_port_zero_moves_udp_and_tcp_together_when_tcp_finds_its_number_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """UDP picks a free port; TCP may find that number taken (seen in CI): both move to another one."""
    real_start_server = asyncio.start_server
    tried: list[int] = []

    async def taken_once(*args: Any, **kwargs: Any) -> asyncio.Server:
        tried.append(int(args[2]))
        if len(tried) == 1:
            raise OSError(errno.EADDRINUSE, "address already in use")
        return await real_start_server(*args, **kwargs)

    monkeypatch.setattr(asyncio, "start_server", taken_once)

    async def ok(msg: SipMessage, _src: Source) -> SipMessage:
        return response_to(msg, 200, "OK")

    endpoint = SipEndpoint(ok, "127.0.0.1", 0)
    await endpoint.start()
    try:
        assert len(tried) == 2 and endpoint.port == tried[1] != 0
        for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):  # both really hold the one port
            with socket.socket(socket.AF_INET, kind) as probe, pytest.raises(OSError):
                probe.bind(("127.0.0.1", endpoint.port))
    finally:
        await endpoint.stop()
