"""Live video from GB/T 28181 devices: INVITE with SDP (`y=` SSRC, `f=`), RTP/PS over UDP to a port of
ours (or over TCP, RFC 4571, the device connecting to us: `a=setup:passive`), ACK, BYE; the PS
demuxer (media/ps) turns it into access units.

`GbLiveSource` is a media-library `FrameSource` for a camera whose stream URL is
`gb28181://<device id>/<channel id>`: each `open()` is one INVITE (the engine opens one session per
camera however many viewers, and opens a new one when the stream dies: the re-INVITE). A BYE from the
device, or no media for `read_timeout`, ends the session with a `MediaConnectionError`."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING, Self

from xueliang.gb28181 import service
from xueliang.gb28181.sip.message import SipMessage, header_param, response_to, uri_of
from xueliang.gb28181.sip.transport import Source, new_tag
from xueliang.media.errors import MediaConnectionError
from xueliang.media.frames import AccessUnit, CodecParams
from xueliang.media.ps import PsRtpReceiver
from xueliang.media.rtp.timeline import Timeline

if TYPE_CHECKING:
    from xueliang.gb28181.platform import GbPlatform

log = logging.getLogger(__name__)
SCHEME = "gb28181://"
QUEUE = 64


def parse_url(url: str) -> tuple[str, str]:
    """`gb28181://<device>/<channel>` -> (device, channel); ValueError when it is not one."""
    if not url.startswith(SCHEME):
        raise ValueError(f"not a GB/T 28181 stream URL: {url!r}")
    device_id, _, channel_id = url[len(SCHEME) :].partition("/")
    if len(device_id) != 20 or len(channel_id) != 20 or not (device_id + channel_id).isdigit():
        raise ValueError(f"not a GB/T 28181 stream URL: {url!r}")
    return device_id, channel_id


@dataclass
class Dialog:
    """One INVITE dialog, as the caller (us) keeps it."""

    call_id: str
    from_header: str  # ours, with our tag
    to_header: str  # theirs, with their tag
    target: str  # where in-dialog requests go (the 200's Contact)
    dest: Source
    cseq: int
    ssrc: str  # what we offered in y=
    answer: str = ""  # the device's SDP
    ended: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def device_ssrc(self) -> str:
        for line in self.answer.splitlines():
            if line.startswith("y="):
                return line[2:].strip()
        return ""


class LiveInvites:
    """INVITE, ACK and BYE for the platform's live streams; BYE from devices ends theirs."""

    def __init__(self, platform: GbPlatform) -> None:
        self.platform = platform
        self.dialogs: dict[str, Dialog] = {}
        self._stream = itertools.count(1)
        self._cseq = itertools.count(1)

    def new_ssrc(self) -> str:
        """GB/T 28181 Annex G: 0 (live) + digits 4-8 of the domain + a 4-digit stream number."""
        return f"0{self.platform.settings.domain[3:8]}{next(self._stream) % 10000:04d}"

    def offer(self, channel_id: str, host: str, port: int, ssrc: str, tcp: bool = False) -> bytes:
        sip_id = self.platform.settings.sip_id
        lines = [
            "v=0",
            f"o={sip_id} 0 0 IN IP4 {host}",
            "s=Play",
            f"c=IN IP4 {host}",
            "t=0 0",
            f"m=video {port} {'TCP/RTP/AVP' if tcp else 'RTP/AVP'} 96 98 97",
            "a=recvonly",
            "a=rtpmap:96 PS/90000",
            "a=rtpmap:98 H264/90000",
            "a=rtpmap:97 MPEG4/90000",
        ]
        if tcp:  # we listen, the device connects (RFC 4145); RFC 4571 framing
            lines += ["a=setup:passive", "a=connection:new"]
        lines += [f"y={ssrc}", "f=v/////a/1/8/1"]
        return ("\r\n".join(lines) + "\r\n").encode()

    async def invite(
        self, device_id: str, channel_id: str, host: str, port: int, tcp: bool = False
    ) -> Dialog:
        """INVITEs the channel to send PS over RTP/UDP to host:port; ACKs the 200. Raises
        MediaConnectionError if the device is not online or refuses."""
        settings = self.platform.settings
        async with self.platform.ctx.db.read_session() as session:
            device = await service.device_by_sip_id(session, device_id)
            if device is None or not device.online or not device.contact_host:
                raise MediaConnectionError(f"GB device {device_id} is not online")
            dest = Source(device.transport, device.contact_host, device.contact_port)
        ssrc = self.new_ssrc()
        remote = f"sip:{channel_id}@{dest.host}:{dest.port}"
        req = SipMessage(method="INVITE", uri=remote)
        from_header = f"<sip:{settings.sip_id}@{settings.domain}>;tag={new_tag()}"
        call_id = f"{secrets.token_hex(8)}@{settings.advertise_host}"
        cseq = next(self._cseq)
        req.add("From", from_header)
        req.add("To", f"<{remote}>")
        req.add("Call-ID", call_id)
        req.add("CSeq", f"{cseq} INVITE")
        req.add("Contact", f"<sip:{settings.sip_id}@{settings.advertise_host}:{self.platform.port}>")
        req.add("Max-Forwards", "70")
        req.add("Subject", f"{channel_id}:{ssrc},{settings.sip_id}:0")
        req.add("Content-Type", "Application/SDP")
        req.body = self.offer(channel_id, host, port, ssrc, tcp)
        try:
            resp = await self.platform.endpoint.request(req, dest, wait_s=settings.query_timeout)
        except (TimeoutError, ConnectionError, OSError) as exc:
            raise MediaConnectionError(f"INVITE {channel_id}: {exc or 'no answer'}") from exc
        if resp.status >= 300:
            self._ack(req, resp, dest, same_branch=True)
            raise MediaConnectionError(f"INVITE {channel_id}: {resp.status} {resp.reason}")
        contact = uri_of(resp.get("Contact")) or remote
        dialog = Dialog(
            call_id,
            from_header,
            resp.get("To"),
            contact,
            dest,
            cseq,
            ssrc,
            resp.body.decode("utf-8", "replace"),
        )
        self.dialogs[call_id] = dialog
        self._send_ack(dialog)
        return dialog

    def _ack(self, req: SipMessage, resp: SipMessage, dest: Source, same_branch: bool) -> None:
        """The ACK of a non-2xx final response belongs to the INVITE's transaction (same branch)."""
        ack = SipMessage(method="ACK", uri=req.uri)
        ack.add("Via", req.top_via if same_branch else self.platform.endpoint.via(dest.transport))
        ack.add("From", req.get("From"))
        ack.add("To", resp.get("To"))
        ack.add("Call-ID", req.call_id)
        ack.add("CSeq", f"{req.cseq[0]} ACK")
        ack.add("Max-Forwards", "70")
        self.platform.endpoint.send(ack.encode(), dest)

    def _send_ack(self, dialog: Dialog) -> None:
        ack = self._in_dialog("ACK", dialog, dialog.cseq)
        self.platform.endpoint.send(ack.encode(), dialog.dest)

    def _in_dialog(self, method: str, dialog: Dialog, cseq: int) -> SipMessage:
        msg = SipMessage(method=method, uri=dialog.target)
        msg.add("Via", self.platform.endpoint.via(dialog.dest.transport))
        msg.add("From", dialog.from_header)
        msg.add("To", dialog.to_header)
        msg.add("Call-ID", dialog.call_id)
        msg.add("CSeq", f"{cseq} {method}")
        msg.add("Max-Forwards", "70")
        return msg

    async def bye(self, dialog: Dialog) -> None:
        """Ends the stream (best effort: a device gone already answers nothing)."""
        if self.dialogs.pop(dialog.call_id, None) is None:
            return
        dialog.ended.set()
        bye = self._in_dialog("BYE", dialog, dialog.cseq + 1)
        with contextlib.suppress(TimeoutError, ConnectionError, OSError):
            await self.platform.endpoint.request(
                bye, dialog.dest, wait_s=self.platform.settings.query_timeout
            )

    def bye_received(self, msg: SipMessage) -> SipMessage:
        dialog = self.dialogs.pop(msg.call_id, None)
        if dialog is None:
            return response_to(msg, 481)
        dialog.ended.set()
        return response_to(msg, 200)

    def stray_response(self, msg: SipMessage, src: Source) -> None:
        """A 200 to one of our INVITEs again: the device did not get our ACK, so send it again."""
        dialog = self.dialogs.get(msg.call_id)
        if dialog is not None and msg.cseq == (dialog.cseq, "INVITE") and header_param(msg.get("To"), "tag"):
            self._send_ack(dialog)


class _Rtp(asyncio.DatagramProtocol):
    def __init__(self, session: GbLiveSession) -> None:
        self.session = session

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.session.receiver.push_rtp(data)


class GbLiveSource:
    """A camera's GB/T 28181 stream as a media-library frame source (see the module's docstring)."""

    def __init__(self, invites: LiveInvites, url: str, read_timeout: float = 5.0) -> None:
        self.device_id, self.channel_id = parse_url(url)
        self.url = url
        self.invites = invites
        self.read_timeout = read_timeout
        self.timeline = Timeline()  # kept across sessions: timestamps only move forward over re-INVITEs

    def open(self) -> GbLiveSession:
        return GbLiveSession(self)


class GbLiveSession:
    """One INVITE: an RTP/UDP port of ours, the PS demuxer behind it, and an async iterator of units."""

    def __init__(self, source: GbLiveSource) -> None:
        self.source = source
        self.timeline = source.timeline
        self.timeline.new_session()
        self.receiver = PsRtpReceiver(self._emit, timeline=self.timeline, wait_keyframe_after_loss=True)
        self._units: asyncio.Queue[AccessUnit] = asyncio.Queue(QUEUE)
        self._rtp: asyncio.DatagramTransport | None = None
        self._server: asyncio.Server | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.dialog: Dialog | None = None
        self._started = self._closed = False

    @property
    def params(self) -> CodecParams | None:
        return self.receiver.demuxer.params

    def _emit(self, unit: AccessUnit) -> None:
        if self._units.full():
            self._units.get_nowait()  # the consumer fell behind: the oldest unit goes
        self._units.put_nowait(unit)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __aiter__(self) -> Self:
        return self

    async def start(self) -> None:
        if self._started or self._closed:
            return
        self._started = True
        invites = self.source.invites
        settings = invites.platform.settings
        tcp = settings.stream_transport == "TCP"
        if tcp:
            self._server = await asyncio.start_server(self._tcp_stream, settings.media_host, 0)
            port = int(self._server.sockets[0].getsockname()[1])
        else:
            loop = asyncio.get_running_loop()
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _Rtp(self), local_addr=(settings.media_host, 0)
            )
            self._rtp = transport
            port = int(transport.get_extra_info("sockname")[1])
        try:
            self.dialog = await invites.invite(
                self.source.device_id, self.source.channel_id, settings.advertise_host, port, tcp
            )
        except BaseException:
            self._close_media()
            raise

    async def _tcp_stream(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """The device's media connection (the first one only: a second is closed)."""
        if self._writer is not None:
            writer.close()
            return
        self._writer = writer
        try:
            while data := await reader.read(65536):
                self.receiver.push_tcp(data)
        except ConnectionError:
            pass
        finally:
            writer.close()

    def _close_media(self) -> None:
        if self._rtp is not None:
            self._rtp.close()
        if self._server is not None:
            self._server.close()
        if self._writer is not None:
            self._writer.close()

    async def __anext__(self) -> AccessUnit:
        await self.start()
        if self._closed:
            raise StopAsyncIteration
        assert self.dialog is not None
        if self._units.empty() and self.dialog.ended.is_set():
            raise MediaConnectionError(f"{self.source.url}: the device ended the stream (BYE)")
        get = asyncio.ensure_future(self._units.get())
        ended = asyncio.ensure_future(self.dialog.ended.wait())
        try:
            done, _ = await asyncio.wait(
                {get, ended}, timeout=self.source.read_timeout, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            ended.cancel()
            if not get.done():
                get.cancel()
        if get in done:
            return get.result()
        if self.dialog.ended.is_set():
            raise MediaConnectionError(f"{self.source.url}: the device ended the stream (BYE)")
        raise MediaConnectionError(f"{self.source.url}: no media for {self.source.read_timeout} s")

    async def aclose(self) -> None:
        await self.close()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.dialog is not None:
            await self.source.invites.bye(self.dialog)
        self._close_media()
