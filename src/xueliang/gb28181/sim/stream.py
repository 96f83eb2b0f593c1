"""A simulated device's live stream: the platform's SDP offer read, our answer written, and the
channel's loop sent as PS over RTP at the loop's frame rate, over UDP, or over TCP (RFC 4571) in the
role the offer leaves us: `a=setup:passive` (the platform listens) makes us connect, `a=setup:active`
(it connects) makes us listen on a port of our own, named in our answer.

When the channel turns to another preset the stream switches loops at that loop's first frame (an
IDR with its parameter sets, and the PS muxer writes a PSM at every keyframe), so the receiver's
picture changes at once and cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from xueliang.gb28181.sip.message import SipMessage
from xueliang.media.ps import PsSender

if TYPE_CHECKING:
    from xueliang.gb28181.sim.device import SimChannel
    from xueliang.gb28181.sim.loops import Loop
    from xueliang.gb28181.sim.simulator import GbSimulator

log = logging.getLogger(__name__)

_CONNECT_WAIT = 10.0  # seconds a passive TCP stream waits for the platform to connect
_MAX_LAG = 1.0  # seconds behind schedule after which pacing restarts instead of bursting


@dataclass(frozen=True)
class Offer:
    """What we read from the platform's SDP."""

    host: str
    port: int
    ssrc: int
    ssrc_text: str
    tcp: bool
    we_connect: bool  # TCP: the platform is passive (it listens), so we are active
    session: str


def parse_offer(sdp: str) -> Offer:
    """The platform's offer; ValueError when it names no address, port or PS payload."""
    host = session = ssrc_text = ""
    port = -1
    tcp = False
    setup = ""
    for raw in sdp.splitlines():
        line = raw.strip()
        if line.startswith("c=IN IP4 "):
            host = line[9:].strip()
        elif line.startswith("s="):
            session = line[2:].strip()
        elif line.startswith("m=video "):
            fields = line.split()
            if len(fields) < 3 or not fields[1].isdigit():
                raise ValueError("bad m=video line")
            port = int(fields[1])
            tcp = fields[2].upper().startswith("TCP")
        elif line.startswith("a=setup:"):
            setup = line[8:].strip().lower()
        elif line.startswith("y="):
            ssrc_text = line[2:].strip()
    if not host or not 0 <= port < 65536 or (port == 0 and not (tcp and setup == "active")):
        raise ValueError("the offer names no media address")
    digits = ssrc_text if ssrc_text.isdigit() and len(ssrc_text) <= 10 else "0"
    return Offer(
        host=host,
        port=port,
        ssrc=int(digits) & 0xFFFFFFFF,
        ssrc_text=ssrc_text if digits != "0" else "0000000000",
        tcp=tcp,
        we_connect=tcp and setup != "active",
        session=session or "Play",
    )


def answer_sdp(channel_id: str, host: str, port: int, offer: Offer) -> bytes:
    lines = [
        "v=0",
        f"o={channel_id} 0 0 IN IP4 {host}",
        f"s={offer.session}",
        f"c=IN IP4 {host}",
        "t=0 0",
        f"m=video {port} {'TCP/RTP/AVP' if offer.tcp else 'RTP/AVP'} 96",
        "a=sendonly",
        "a=rtpmap:96 PS/90000",
    ]
    if offer.tcp:
        lines += [f"a=setup:{'active' if offer.we_connect else 'passive'}", "a=connection:new"]
    lines += [f"y={offer.ssrc_text}", "f="]
    return ("\r\n".join(lines) + "\r\n").encode()


class _Udp(asyncio.DatagramProtocol):
    def error_received(self, exc: Exception) -> None:
        log.debug("sim media UDP error: %s", exc)


class Stream:
    """One INVITE's media; `prepare()` before answering, `start()` on the ACK, `stop()` on BYE."""

    def __init__(self, sim: GbSimulator, channel: SimChannel, offer: Offer) -> None:
        self.sim, self.channel, self.offer = sim, channel, offer
        self.answer: SipMessage | None = None
        self.on_end: Callable[[], object] | None = None
        self.frames_sent = 0
        self.shown: int | None = None  # the marker number of the loop being sent
        self._udp: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None
        self._accepted: asyncio.Future[asyncio.StreamWriter] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None

    async def prepare(self) -> int:
        """Opens our end; returns the port our answer names (9, the discard port, when we connect)."""
        loop = asyncio.get_running_loop()
        offer = self.offer
        if not offer.tcp:
            transport, _ = await loop.create_datagram_endpoint(_Udp, remote_addr=(offer.host, offer.port))
            self._udp = transport
            return int(transport.get_extra_info("sockname")[1])
        if offer.we_connect:
            return 9
        self._accepted = loop.create_future()

        def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            if self._accepted is not None and not self._accepted.done():
                self._accepted.set_result(writer)
            else:
                writer.close()  # a=connection:new: one connection per stream

        self._server = await asyncio.start_server(accept, self.sim.media_host, 0)
        return int(self._server.sockets[0].getsockname()[1])

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"gb-sim-stream-{self.channel.channel_id}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self._close()

    def _close(self) -> None:
        if self._udp is not None:
            self._udp.close()
        if self._writer is not None:
            self._writer.close()
        if self._server is not None:
            self._server.close()
        if self._accepted is not None and not self._accepted.done():
            self._accepted.cancel()

    async def _run(self) -> None:
        try:
            await self._send_loop()
        except (ConnectionError, OSError, TimeoutError) as exc:
            log.info("sim %s: stream ended: %s", self.channel.channel_id, str(exc) or "timeout")
        finally:
            self._close()
            if self.on_end is not None:
                self.on_end()

    async def _connect(self) -> None:
        offer = self.offer
        if not offer.tcp:
            return
        if offer.we_connect:
            connect = asyncio.open_connection(offer.host, offer.port)
            _, self._writer = await asyncio.wait_for(connect, _CONNECT_WAIT)
        else:
            assert self._accepted is not None
            self._writer = await asyncio.wait_for(self._accepted, _CONNECT_WAIT)

    async def _loop_now(self, current: Loop | None) -> Loop:
        """The loop of where the channel points; the one being sent until that one is ready."""
        wanted = self.channel.marker
        ready = self.sim.loops.ready(wanted)
        if ready is not None:
            return ready
        future = self.sim.loops.get(wanted)
        if current is not None:
            return current
        return await future

    async def _send_loop(self) -> None:
        await self._connect()
        clock = asyncio.get_running_loop()
        sender = PsSender(self.offer.ssrc, tcp=self.offer.tcp)
        current: Loop | None = None
        index = pts = 0
        start = clock.time()
        ticks = 0
        while True:
            chosen = await self._loop_now(current)
            if chosen is not current:
                current, index = chosen, 0  # a new loop starts at its IDR
                self.shown = chosen.number
            step = 90000 // current.fps
            packets = sender.packets(current.unit(index, pts))
            if self._writer is not None:
                self._writer.write(b"".join(packets))
                await self._writer.drain()
            elif self._udp is not None:
                for packet in packets:
                    self._udp.sendto(packet)
            self.frames_sent += 1
            index += 1
            pts += step
            ticks += 1
            due = start + ticks / current.fps
            lag = clock.time() - due
            if lag > _MAX_LAG:
                start, ticks = clock.time(), 0
            elif lag < 0:
                await asyncio.sleep(-lag)
