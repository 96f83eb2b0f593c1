"""Live video to an upper platform: the camera's existing channel (one pull, however many uppers and
viewers) read back out of its fMP4 fragments, muxed into PS (system header and PSM at every keyframe)
and sent as RTP to the address and SSRC the upper's INVITE gave: over UDP, or over TCP with RFC 4571
framing where we connect to the upper (`a=setup:active` on our side).

A stream ends when the upper says BYE, when the channel closes, when the upper's RTCP (once seen)
stops for `rtcp_timeout`, when a TCP connection drops, or when UDP sends keep failing (ICMP
unreachable: nobody listens any more)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable

from xueliang.media.channel import Channel, Fragment, InitSegment, ViewerClosed
from xueliang.media.fmp4 import read_sample
from xueliang.media.frames import AccessUnit, CodecParams
from xueliang.media.ps import PsSender

log = logging.getLogger(__name__)
MAX_SEND_ERRORS = 20
ACTIVE_PORT = 9  # RFC 4145: an active TCP endpoint names the discard port in its m= line


class _Socket(asyncio.DatagramProtocol):
    def __init__(self, stream: UpperStream) -> None:
        self.stream = stream

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        if len(data) >= 8 and data[0] >> 6 == 2 and 200 <= data[1] <= 204:
            self.stream.last_rtcp = time.monotonic()  # an RTCP packet (SR, RR, SDES, BYE, APP)
            if data[1] == 203:
                self.stream.finish("RTCP BYE")

    def error_received(self, exc: Exception) -> None:
        self.stream.send_errors += 1


class UpperStream:
    """One INVITE's media. `prepare()` binds our side (its port goes in the SDP answer), `start()`
    begins sending (at the ACK), `finish(reason)` ends it; `on_end` runs once, with the reason."""

    def __init__(
        self,
        channel: Channel,
        ssrc: int,
        host: str,
        port: int,
        *,
        tcp: bool,
        media_host: str,
        rtcp_timeout: float = 30.0,
        on_end: Callable[[UpperStream], Awaitable[None]] | None = None,
    ) -> None:
        self.channel = channel
        self.ssrc = ssrc
        self.dest = (host, port)
        self.tcp = tcp
        self.media_host = media_host
        self.rtcp_timeout = rtcp_timeout
        self.on_end = on_end
        self.sender = PsSender(ssrc, tcp=tcp)
        self.port = ACTIVE_PORT if tcp else 0
        self.bytes_sent = 0
        self.packets_sent = 0
        self.frames_sent = 0
        self.send_errors = 0
        self.last_rtcp: float | None = None
        self.started_at = time.monotonic()
        self.reason = ""
        self._rtp: asyncio.DatagramTransport | None = None
        self._rtcp: asyncio.DatagramTransport | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._done = asyncio.Event()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started_at

    @property
    def started(self) -> bool:
        return self._task is not None

    @property
    def ended(self) -> bool:
        return self._done.is_set()

    async def prepare(self) -> int:
        """Binds the UDP port pair (RTP, and RTCP on the next port when free); the port for the answer."""
        if self.tcp:
            return self.port
        loop = asyncio.get_running_loop()
        self._rtp, _ = await loop.create_datagram_endpoint(
            lambda: _Socket(self), local_addr=(self.media_host, 0)
        )
        self.port = int(self._rtp.get_extra_info("sockname")[1])
        with contextlib.suppress(OSError):
            self._rtcp, _ = await loop.create_datagram_endpoint(
                lambda: _Socket(self), local_addr=(self.media_host, self.port + 1)
            )
        return self.port

    def start(self) -> None:
        if self._task is None and not self._done.is_set():
            self.started_at = time.monotonic()
            self._task = asyncio.get_running_loop().create_task(self._run(), name="gb-upper-stream")

    def finish(self, reason: str) -> None:
        """Ends the stream (from any callback); `on_end` runs from the stream's own task."""
        if not self.reason:
            self.reason = reason
        if self._task is None:
            self._close()
            self._done.set()
        else:
            self._task.cancel()

    async def wait(self) -> None:
        await self._done.wait()

    async def _run(self) -> None:
        try:
            if self.tcp:
                _, self._writer = await asyncio.wait_for(asyncio.open_connection(*self.dest), 5.0)
            await self._pump_until_watch_ends()
        except asyncio.CancelledError:
            pass
        except (OSError, TimeoutError) as exc:
            self.reason = self.reason or f"connection: {exc or type(exc).__name__}"
        except Exception as exc:  # pragma: no cover - a bug must not kill the node's loop silently
            log.exception("upper stream failed")
            self.reason = self.reason or f"error: {type(exc).__name__}"
        finally:
            self._close()
            if self.on_end is not None:
                with contextlib.suppress(Exception):
                    await self.on_end(self)
            self._done.set()

    async def _pump_until_watch_ends(self) -> None:
        pump = asyncio.ensure_future(self._pump())
        watch = asyncio.ensure_future(self._watch())
        try:
            await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            pump.cancel()
            watch.cancel()
            await asyncio.gather(pump, watch, return_exceptions=True)
        if pump.done() and not pump.cancelled() and pump.exception() is not None:
            raise pump.exception()  # type: ignore[misc]

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            if self.last_rtcp is not None and now - self.last_rtcp > self.rtcp_timeout:
                self.reason = self.reason or "RTCP timeout"
                return
            if self.send_errors >= MAX_SEND_ERRORS:
                self.reason = self.reason or "destination unreachable"
                return

    async def _pump(self) -> None:
        viewer = self.channel.open_viewer(max_queue=250)
        params: CodecParams | None = self.channel.init.params if self.channel.init else None
        try:
            while True:
                try:
                    item = await viewer.next()
                except ViewerClosed as exc:
                    self.reason = self.reason or f"channel: {exc.reason}"
                    return
                if isinstance(item, InitSegment):
                    params = item.params
                elif isinstance(item, Fragment) and params is not None:
                    await self._send(item, params)
        finally:
            viewer.close()

    async def _send(self, frag: Fragment, params: CodecParams) -> None:
        try:
            nalus, cts = read_sample(frag.data)
        except ValueError:
            return
        au = AccessUnit(
            nalus,
            frag.decode_time + (cts or 0),
            frag.keyframe,
            params,
            dts=frag.decode_time if cts else None,
        )
        packets = self.sender.packets(au)
        self.frames_sent += 1
        self.packets_sent += len(packets)
        self.bytes_sent += sum(len(p) for p in packets)
        if self._writer is not None:
            self._writer.write(b"".join(packets))
            await self._writer.drain()
        elif self._rtp is not None:
            for packet in packets:
                self._rtp.sendto(packet, self.dest)

    def _close(self) -> None:
        for transport in (self._rtp, self._rtcp):
            if transport is not None:
                transport.close()
        if self._writer is not None:
            self._writer.close()
