"""A small GB/T 28181 device for tests, on asyncio UDP: registers with Digest, sends keepalives,
alarms and MESSAGEs, and answers the platform's queries (catalog split over several MESSAGEs)."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import socket

from xueliang.gb28181 import manscdp
from xueliang.gb28181.sip import digest
from xueliang.gb28181.sip.message import SipMessage, parse, response_to
from xueliang.media.frames import AccessUnit
from xueliang.media.ps import PsSender


class FakeDevice(asyncio.DatagramProtocol):
    def __init__(self, device_id: str, platform_id: str, domain: str, port: int) -> None:
        self.device_id, self.platform_id, self.domain, self.port = device_id, platform_id, domain, port
        self.transport: asyncio.DatagramTransport | None = None
        self.responses: dict[str, asyncio.Future[SipMessage]] = {}
        self.requests: asyncio.Queue[SipMessage] = asyncio.Queue()
        self.cseq = itertools.count(1)
        self.sn = itertools.count(100)
        self.call_id = secrets.token_hex(6)
        self.catalog: list[tuple[str, str]] = []  # (channel id, name) answered to a Catalog query
        self.per_message = 2
        self.answer_queries = True
        self.queries: list[str] = []
        self.received: list[SipMessage] = []  # every request the platform sent us
        self.frames: list[AccessUnit] = []  # what a live INVITE gets, as PS over RTP
        self.invites: list[SipMessage] = []
        self.stream: tuple[str, int, int, bool] | None = None
        self.media_task: asyncio.Future[None] | None = None
        self.acks = self.byes = 0
        self.tasks: set[asyncio.Future[None]] = set()

    def _answer_invite(self, invite: SipMessage, resp: SipMessage) -> tuple[str, int, int, bool]:
        """200 with our SDP (sendonly, our own y=); returns where to send the media and the SSRC."""
        offer = invite.body.decode()
        host = next(line[9:] for line in offer.splitlines() if line.startswith("c=IN IP4 "))
        port = int(next(line.split()[1] for line in offer.splitlines() if line.startswith("m=video ")))
        ssrc = int(next(line[2:] for line in offer.splitlines() if line.startswith("y=")))
        tcp = "TCP/RTP/AVP" in offer and "a=setup:passive" in offer
        resp.add("Contact", f"<sip:{self.device_id}@{self.local}>")
        resp.add("Content-Type", "Application/SDP")
        resp.body = (
            f"v=0\r\no={self.device_id} 0 0 IN IP4 127.0.0.1\r\ns=Play\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
            f"m=video 15060 RTP/AVP 96\r\na=sendonly\r\na=rtpmap:96 PS/90000\r\ny={ssrc}\r\n"
        ).encode()
        self.invites.append(invite)
        return host, port, ssrc, tcp

    async def _stream(self, host: str, port: int, ssrc: int, tcp: bool) -> None:
        """PS over RTP of the clip in `self.frames`, looped, at about 50 frames a second: over UDP, or
        over TCP (RFC 4571) to the platform's port when it offered `a=setup:passive`."""
        sender = PsSender(ssrc, tcp=tcp)
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        writer: asyncio.StreamWriter | None = None
        if tcp:
            _, writer = await asyncio.open_connection(host, port)
        try:
            for i in itertools.count():
                au = self.frames[i % len(self.frames)]
                unit = AccessUnit(list(au.nalus), i * 3600, au.keyframe, au.params)
                for packet in sender.packets(unit):
                    if writer is not None:
                        writer.write(packet)
                    else:
                        sock.sendto(packet, (host, port))
                if writer is not None:
                    await writer.drain()
                await asyncio.sleep(0.02)
        finally:
            sock.close()
            if writer is not None:
                writer.close()

    async def open(self) -> FakeDevice:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))
        return self

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    @property
    def local(self) -> str:
        assert self.transport is not None
        host, port = self.transport.get_extra_info("sockname")[:2]
        return f"{host}:{port}"

    def close(self) -> None:
        if self.media_task is not None:
            self.media_task.cancel()
        if self.transport is not None:
            self.transport.close()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        msg = parse(data)
        if msg.is_request:
            assert self.transport is not None
            self.requests.put_nowait(msg)
            self.received.append(msg)
            if msg.method == "ACK":
                self.acks += 1
                if self.stream is not None and self.media_task is None:
                    self.media_task = asyncio.ensure_future(self._stream(*self.stream))
                return
            resp = response_to(msg, 200, to_tag="dev")
            if msg.method == "INVITE":
                self.stream = self._answer_invite(msg, resp)
            if msg.method == "BYE":
                self.byes += 1
                if self.media_task is not None:
                    self.media_task.cancel()
                    self.media_task = None
            self.transport.sendto(resp.encode(), addr)
            if msg.method == "MESSAGE" and msg.body:
                query = manscdp.parse(msg.body)
                self.queries.append(query.cmd)
                if not self.answer_queries:
                    return
                task = asyncio.ensure_future(self._answer(query))
                self.tasks.add(task)
                task.add_done_callback(self.tasks.discard)
            return
        future = self.responses.get(msg.branch)
        if future is not None and not future.done() and msg.status >= 200:
            future.set_result(msg)

    async def send(self, msg: SipMessage) -> SipMessage:
        branch = "z9hG4bK" + secrets.token_hex(6)
        msg.headers.insert(0, ("Via", f"SIP/2.0/UDP {self.local};rport;branch={branch}"))
        future: asyncio.Future[SipMessage] = asyncio.get_running_loop().create_future()
        self.responses[branch] = future
        assert self.transport is not None
        self.transport.sendto(msg.encode(), ("127.0.0.1", self.port))
        return await asyncio.wait_for(future, 5)

    def _request(self, method: str, call_id: str | None = None) -> SipMessage:
        msg = SipMessage(method=method, uri=f"sip:{self.platform_id}@{self.domain}")
        msg.add("From", f"<sip:{self.device_id}@{self.domain}>;tag={secrets.token_hex(4)}")
        msg.add(
            "To",
            f"<sip:{self.device_id}@{self.domain}>"
            if method == "REGISTER"
            else f"<sip:{self.platform_id}@{self.domain}>",
        )
        msg.add("Call-ID", call_id or secrets.token_hex(6))
        msg.add("CSeq", f"{next(self.cseq)} {method}")
        msg.add("Max-Forwards", "70")
        return msg

    async def register(self, password: str, expires: int = 3600) -> SipMessage:
        first = self._request("REGISTER", self.call_id)
        first.add("Contact", f"<sip:{self.device_id}@{self.local}>")
        first.add("Expires", str(expires))
        challenge = await self.send(first)
        if challenge.status != 401:
            return challenge
        params = digest.parse_params(challenge.get("WWW-Authenticate"))
        second = self._request("REGISTER", self.call_id)
        second.add("Contact", f"<sip:{self.device_id}@{self.local}>")
        second.add("Expires", str(expires))
        uri = f"sip:{self.platform_id}@{self.domain}"
        second.add(
            "Authorization",
            digest.authorization(self.device_id, params["realm"], params["nonce"], uri, "REGISTER", password),
        )
        return await self.send(second)

    async def message(self, body: bytes) -> SipMessage:
        msg = self._request("MESSAGE")
        msg.add("Content-Type", "Application/MANSCDP+xml")
        msg.body = body
        return await self.send(msg)

    async def keepalive(self) -> SipMessage:
        return await self.message(
            manscdp.build("Notify", "Keepalive", next(self.sn), self.device_id, Status="OK")
        )

    async def alarm(self, channel_id: str, method: str = "5", description: str = "区域入侵") -> SipMessage:
        body = (
            '<?xml version="1.0" encoding="GB2312"?>\r\n<Notify><CmdType>Alarm</CmdType>'
            f"<SN>{next(self.sn)}</SN><DeviceID>{channel_id}</DeviceID><AlarmPriority>1</AlarmPriority>"
            f"<AlarmMethod>{method}</AlarmMethod><AlarmTime>2026-12-07T10:00:00</AlarmTime>"
            f"<AlarmDescription>{description}</AlarmDescription>"
            "<Info><AlarmType>6</AlarmType></Info></Notify>"
        )
        return await self.message(body.encode("gb18030"))

    async def _answer(self, query: manscdp.Doc) -> None:
        if query.cmd == "Catalog":
            total = len(self.catalog)
            for start in range(0, max(total, 1), self.per_message):
                part = self.catalog[start : start + self.per_message]
                items = "".join(
                    f"<Item><DeviceID>{cid}</DeviceID><Name>{name}</Name><Manufacturer>Test</Manufacturer>"
                    f"<Status>ON</Status><Parental>0</Parental><ParentID>{self.device_id}</ParentID>"
                    "<Info><PTZType>1</PTZType></Info></Item>"
                    for cid, name in part
                )
                body = (
                    '<?xml version="1.0" encoding="GB2312"?>\r\n<Response><CmdType>Catalog</CmdType>'
                    f"<SN>{query.sn}</SN><DeviceID>{self.device_id}</DeviceID><SumNum>{total}</SumNum>"
                    f'<DeviceList Num="{len(part)}">{items}</DeviceList></Response>'
                )
                await self.message(body.encode("gb18030"))
        elif query.cmd == "DeviceInfo":
            info = manscdp.build(
                "Response",
                "DeviceInfo",
                query.sn,
                self.device_id,
                DeviceName="测试录像机",
                Result="OK",
                Manufacturer="Hikvision",
                Model="DS-7608",
                Firmware="V4.1",
            )
            await self.message(info)
