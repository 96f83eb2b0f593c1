"""SIP over UDP and TCP on asyncio, with RFC 3261 non-INVITE transactions on both sides.

Server side: a request is handed to the handler once per transaction (keyed by the top Via's branch,
its sent-by and the method); a retransmission while the handler runs is absorbed, one after the final
response gets the same response again (Timer J: kept 32 s on UDP). Client side: `request` sends,
retransmits on UDP (T1 doubling up to T2) and waits for the final response or Timer F (64*T1).

Responses go back to where the request came from (RFC 3581 rport behaviour, always: GB devices sit
behind NAT); a device that registered over TCP is reached over its connection."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from xueliang.gb28181.sip.message import (
    SipMessage,
    SipParseError,
    StreamFramer,
    bad_request,
    parse,
    response_to,
)

log = logging.getLogger(__name__)

T1 = 0.5
T2 = 4.0
TIMER_J = 32.0
MAX_TRANSACTIONS = 10_000
MAX_TCP_CONNECTIONS = 2_000


@dataclass(frozen=True)
class Source:
    """Where a message came from (and where its answers and our requests to that peer go)."""

    transport: str  # "UDP" or "TCP"
    host: str
    port: int

    @property
    def addr(self) -> tuple[str, int]:
        return self.host, self.port


Handler = Callable[[SipMessage, Source], Awaitable[SipMessage]]


@dataclass
class _ServerTx:
    response: bytes | None = None
    expires: float = 0.0


@dataclass
class _ClientTx:
    future: asyncio.Future[SipMessage]
    invite: bool = False
    provisional: bool = False
    retransmit: asyncio.Task[None] | None = field(default=None)


def new_branch() -> str:
    return "z9hG4bK" + secrets.token_hex(8)


def new_tag() -> str:
    return secrets.token_hex(6)


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, endpoint: SipEndpoint) -> None:
        self.endpoint = endpoint

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.endpoint._received(data, Source("UDP", str(addr[0]), int(str(addr[1]))))

    def error_received(self, exc: Exception) -> None:
        log.debug("SIP UDP error: %s", exc)


class SipEndpoint:
    """The node's SIP listener (UDP and/or TCP on one port) and its transaction layer."""

    def __init__(
        self,
        handler: Handler,
        host: str,
        port: int,
        transports: tuple[str, ...] = ("UDP", "TCP"),
        advertise: str = "127.0.0.1",
    ) -> None:
        self.handler = handler
        self.advertise = advertise  # the address our Via and Contact name (what devices can reach)
        self.host, self.port, self.transports = host, port, transports
        self._udp: asyncio.DatagramTransport | None = None
        self._tcp: asyncio.Server | None = None
        self._conns: dict[tuple[str, int], asyncio.StreamWriter] = {}
        self._server_tx: dict[tuple[str, str, str], _ServerTx] = {}
        self._client_tx: dict[tuple[str, str], _ClientTx] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.on_tcp_closed: Callable[[Source], None] | None = None
        self.on_stray_response: Callable[[SipMessage, Source], None] | None = None
        self.on_ack: Callable[[SipMessage, Source], None] | None = None  # ACKs to INVITEs we answered

    # -- life ----------------------------------------------------------------------------------------
    async def start(self) -> None:
        """Binds UDP and TCP on one port. With port 0 the system picks UDP's port, and TCP may find that
        number taken by another TCP socket: then both are let go and another port is tried."""
        wanted = self.port
        for attempt in range(20 if wanted == 0 else 1):
            self.port = wanted
            try:
                await self._bind()
                return
            except OSError as exc:
                await self._unbind()
                if wanted != 0 or exc.errno != errno.EADDRINUSE or attempt == 19:
                    raise

    async def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        if "UDP" in self.transports:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Udp(self), local_addr=(self.host, self.port)
            )
            self._udp = transport
            if self.port == 0:
                self.port = int(transport.get_extra_info("sockname")[1])
        if "TCP" in self.transports:
            self._tcp = await asyncio.start_server(self._serve_tcp, self.host, self.port)
            if self.port == 0:
                self.port = int(self._tcp.sockets[0].getsockname()[1])

    async def _unbind(self) -> None:
        if self._udp is not None:
            self._udp.close()
            self._udp = None
        if self._tcp is not None:
            self._tcp.close()
            await self._tcp.wait_closed()
            self._tcp = None

    async def stop(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._tcp is not None:
            self._tcp.close()
        for writer in list(self._conns.values()):
            writer.close()
        for task in list(self._tasks):
            task.cancel()
        for tx in list(self._client_tx.values()):
            if not tx.future.done():
                tx.future.cancel()
        if self._tcp is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._tcp.wait_closed(), 2)
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- sending -------------------------------------------------------------------------------------
    def send(self, data: bytes, dest: Source) -> bool:
        if dest.transport == "TCP":
            writer = self._conns.get(dest.addr)
            if writer is None or writer.is_closing():
                return False
            writer.write(data)
            return True
        if self._udp is None:
            return False
        self._udp.sendto(data, dest.addr)
        return True

    def via(self, transport: str) -> str:
        return f"SIP/2.0/{transport} {self.advertise}:{self.port};rport;branch={new_branch()}"

    async def request(self, msg: SipMessage, dest: Source, wait_s: float | None = None) -> SipMessage:
        """Sends a request in a client transaction; the final response, or TimeoutError. For an INVITE
        the caller sends the ACK (`ack`); retransmissions stop at the first provisional response."""
        if not msg.get("Via"):
            msg.headers.insert(0, ("Via", self.via(dest.transport)))
        key = (msg.branch, msg.cseq[1])
        tx = _ClientTx(asyncio.get_running_loop().create_future(), invite=msg.method == "INVITE")
        self._client_tx[key] = tx
        data = msg.encode()
        try:
            if not self.send(data, dest):
                raise ConnectionError(f"no {dest.transport} connection to {dest.host}:{dest.port}")
            if dest.transport == "UDP":
                tx.retransmit = asyncio.create_task(self._retransmit(tx, data, dest))
            return await asyncio.wait_for(asyncio.shield(tx.future), wait_s or 64 * T1)
        finally:
            if tx.retransmit is not None:
                tx.retransmit.cancel()
            self._client_tx.pop(key, None)

    async def _retransmit(self, tx: _ClientTx, data: bytes, dest: Source) -> None:
        interval = T1
        while not tx.future.done():
            await asyncio.sleep(interval)
            if tx.future.done():
                return
            self.send(data, dest)
            if tx.provisional and tx.invite:
                return  # an INVITE stops retransmitting once the peer said it is working on it
            interval = T2 if tx.provisional else min(interval * 2, T2)

    # -- receiving -----------------------------------------------------------------------------------
    def _received(self, data: bytes, src: Source) -> None:
        if not data.strip():
            return  # keep-alive CRLF
        try:
            msg = parse(data)
        except SipParseError as exc:
            answer = bad_request(data, str(exc))
            if answer is not None:
                self.send(answer, src)
            return
        if msg.is_request:
            self._incoming_request(msg, src)
        else:
            tx = self._client_tx.get((msg.branch, msg.cseq[1]))
            if tx is None or tx.future.done():
                if self.on_stray_response is not None and msg.status >= 200:
                    self.on_stray_response(msg, src)  # e.g. a 200 to our INVITE again: its ACK was lost
                return
            if msg.status < 200:
                tx.provisional = True
            else:
                tx.future.set_result(msg)

    def _incoming_request(self, msg: SipMessage, src: Source) -> None:
        if msg.method == "ACK":
            if self.on_ack is not None:
                self.on_ack(msg, src)  # the INVITE's answerer (the cascade) starts or ends its dialog
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        key = (msg.branch or f"{msg.call_id}/{msg.cseq[0]}", msg.top_via.split(";")[0], msg.method)
        tx = self._server_tx.get(key)
        if tx is not None:
            if tx.response is not None:
                self.send(tx.response, src)  # a retransmission after the final response
            return  # or while the handler still runs: absorbed
        if len(self._server_tx) >= MAX_TRANSACTIONS:
            self._expire(now)
            if len(self._server_tx) >= MAX_TRANSACTIONS:
                self.send(response_to(msg, 503).encode(), src)
                return
        tx = self._server_tx[key] = _ServerTx()
        self._spawn(self._handle(msg, src, tx, key))

    async def _handle(self, msg: SipMessage, src: Source, tx: _ServerTx, key: tuple[str, str, str]) -> None:
        try:
            resp = await self.handler(msg, src)
        except Exception:
            log.exception("SIP %s from %s failed", msg.method, src)
            resp = response_to(msg, 500)
        tx.response = resp.encode()
        self.send(tx.response, src)
        loop = asyncio.get_running_loop()
        tx.expires = loop.time() + (TIMER_J if src.transport == "UDP" else 1.0)
        self._expire(loop.time())

    def _expire(self, now: float) -> None:
        for key in [k for k, t in self._server_tx.items() if t.response is not None and t.expires < now]:
            del self._server_tx[key]

    async def connect(self, host: str, port: int, wait_s: float = 5.0) -> Source:
        """An outgoing TCP connection (a lower platform to its upper), read like an accepted one and
        reused while it stays open; requests to the returned `Source` go over it."""
        src = Source("TCP", host, port)
        known = self._conns.get(src.addr)
        if known is not None and not known.is_closing():
            return src
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), wait_s)
        self._conns[src.addr] = writer
        self._spawn(self._read_tcp(reader, writer, src))
        return src

    async def _serve_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        src = Source("TCP", str(peer[0]), int(peer[1]))
        if len(self._conns) >= MAX_TCP_CONNECTIONS:
            writer.close()
            return
        self._conns[src.addr] = writer
        await self._read_tcp(reader, writer, src)

    async def _read_tcp(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, src: Source
    ) -> None:
        framer = StreamFramer()
        try:
            while data := await reader.read(16384):
                for frame in framer.feed(data):
                    self._received(frame, src)
        except (SipParseError, ConnectionError) as exc:
            log.info("SIP TCP %s:%s closed: %s", src.host, src.port, exc)
        finally:
            self._conns.pop(src.addr, None)
            writer.close()
            if self.on_tcp_closed is not None:
                self.on_tcp_closed(src)
