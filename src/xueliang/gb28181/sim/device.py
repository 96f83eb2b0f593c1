"""One simulated GB/T 28181 device (an IPC, or an NVR with several channels) as the platform sees it:
REGISTER with Digest, refreshed at half its expiry; a Keepalive MESSAGE every `keepalive` seconds;
answers to Catalog (paged: `per_message` items a MESSAGE, SumNum = all), DeviceInfo and DeviceStatus;
PTZ DeviceControl (moves and presets); INVITE/ACK/BYE with PS over RTP; device alarms on demand.

The devices of a simulator share one SIP endpoint (one UDP port) and are told apart by the user
part of the Request-URI: a real installation gives each its own address, which the platform does not
need (it keeps each device's contact)."""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import secrets
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from xueliang.core.clock import SystemClock
from xueliang.gb28181 import manscdp
from xueliang.gb28181.sim.loops import marker_number
from xueliang.gb28181.sim.stream import Stream, answer_sdp, parse_offer
from xueliang.gb28181.sip import digest
from xueliang.gb28181.sip.message import SipMessage, response_to
from xueliang.gb28181.sip.transport import Source, new_tag

if TYPE_CHECKING:
    from xueliang.gb28181.sim.simulator import GbSimulator

log = logging.getLogger(__name__)

MANSCDP = "Application/MANSCDP+xml"


@dataclass(eq=False)
class SimChannel:
    """One camera of a device: its channel ID, its global number (1-based, the marker's camera part),
    where it points (preset 0: none) and the presets set on it."""

    number: int
    channel_id: str
    name: str
    preset: int = 0
    presets: set[int] = field(default_factory=set)
    moves: int = 0  # PTZ commands taken, moves and presets alike

    @property
    def marker(self) -> int:
        return marker_number(self.number, self.preset)


class SimDevice:
    """A device of the simulator; `run()` keeps it registered and alive until cancelled."""

    def __init__(self, sim: GbSimulator, device_id: str, channels: list[SimChannel]) -> None:
        self.sim = sim
        self.device_id = device_id
        self.channels = channels
        self.call_id = f"{secrets.token_hex(8)}@sim"
        self._cseq = itertools.count(1)
        self._sn = itertools.count(1)
        self.registered = asyncio.Event()
        self.silent = False  # "offline": no keepalives, no answers (as if unplugged)
        self.keepalives = 0
        self.registrations = 0
        self.streams: dict[str, Stream] = {}  # by INVITE Call-ID
        self._tasks: set[asyncio.Task[None]] = set()

    # -- requests we send ----------------------------------------------------------------------------
    def _request(self, method: str, to_user: str) -> SipMessage:
        sim = self.sim
        msg = SipMessage(method=method, uri=f"sip:{sim.platform_id}@{sim.platform_host}:{sim.platform_port}")
        msg.add("From", f"<sip:{self.device_id}@{sim.domain}>;tag={new_tag()}")
        msg.add("To", f"<sip:{to_user}@{sim.domain}>")
        msg.add("Max-Forwards", "70")
        msg.add("User-Agent", "Xueliang-sim")
        return msg

    async def _send(self, msg: SipMessage) -> SipMessage:
        return await self.sim.endpoint.request(msg, self.sim.platform, wait_s=self.sim.request_timeout)

    async def register(self, expires: int) -> bool:
        """REGISTER, answering the 401 with Digest; True when the platform said 200."""
        sim = self.sim
        uri = f"sip:{sim.platform_id}@{sim.domain}"
        authorization = ""
        for _ in range(2):
            msg = self._request("REGISTER", self.device_id)
            msg.add("Call-ID", self.call_id)
            msg.add("CSeq", f"{next(self._cseq)} REGISTER")
            msg.add("Contact", f"<sip:{self.device_id}@{sim.advertise}:{sim.endpoint.port}>")
            msg.add("Expires", str(expires))
            if authorization:
                msg.add("Authorization", authorization)
            answer = await self._send(msg)
            if answer.status == 401 and not authorization:
                params = digest.parse_params(answer.get("WWW-Authenticate"))
                qop = "auth" if "auth" in params.get("qop", "").split(",") else ""
                authorization = digest.authorization(
                    self.device_id,
                    params.get("realm", sim.domain),
                    params.get("nonce", ""),
                    uri,
                    "REGISTER",
                    sim.password,
                    qop=qop,
                    cnonce=secrets.token_hex(4) if qop else "",
                )
                continue
            if answer.status == 200:
                self.registrations += 1
                return True
            log.warning("sim %s: REGISTER answered %s %s", self.device_id, answer.status, answer.reason)
            return False
        return False

    async def message(self, body: bytes) -> SipMessage:
        msg = self._request("MESSAGE", self.sim.platform_id)
        msg.add("Call-ID", f"{secrets.token_hex(8)}@sim")
        msg.add("CSeq", f"{next(self._cseq)} MESSAGE")
        msg.add("Content-Type", MANSCDP)
        msg.body = body
        return await self._send(msg)

    async def keepalive(self) -> SipMessage:
        self.keepalives += 1
        return await self.message(
            manscdp.build("Notify", "Keepalive", next(self._sn), self.device_id, Status="OK")
        )

    async def alarm(
        self, channel: SimChannel, method: str = "5", description: str = "区域入侵"
    ) -> SipMessage:
        """A device alarm (Notify/Alarm) of `channel`; AlarmMethod 5 is a video alarm, 2 a device one.
        Its time is local, to the millisecond, so two alarms are two (the platform keys on it)."""
        now = SystemClock().now().astimezone()
        stamp = now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}"
        body = manscdp.build(
            "Notify",
            "Alarm",
            next(self._sn),
            channel.channel_id,
            AlarmPriority="1",
            AlarmMethod=method,
            AlarmTime=stamp,
            AlarmDescription=description,
        )
        return await self.message(body)

    # -- life ----------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Registers (retrying with backoff), then keeps alive and refreshes until cancelled. While
        `silent` it sends nothing; when it speaks again it registers afresh (a restarted device)."""
        sim = self.sim
        backoff = 1.0
        while True:
            if self.silent:
                self.registered.clear()
                await asyncio.sleep(0.1)
                continue
            try:
                ok = await self.register(sim.expires)
            except (TimeoutError, ConnectionError, OSError) as exc:
                log.info("sim %s: REGISTER failed: %s", self.device_id, str(exc) or "no answer")
                ok = False
            if not ok:
                await asyncio.sleep(backoff * random.uniform(0.8, 1.2))
                backoff = min(backoff * 2, 10.0)
                continue
            backoff = 1.0
            self.registered.set()
            await self._stay_alive()

    async def _stay_alive(self) -> None:
        """Keepalives until the registration is due for a refresh, or the device goes silent or the
        platform stops answering (then it registers again)."""
        loop = asyncio.get_running_loop()
        sim = self.sim
        refresh_at = loop.time() + sim.expires / 2
        misses = 0
        while not self.silent and loop.time() < refresh_at:
            await asyncio.sleep(min(sim.keepalive, max(0.0, refresh_at - loop.time())))
            if self.silent or loop.time() >= refresh_at:
                break
            try:
                answer = await self.keepalive()
            except (TimeoutError, ConnectionError, OSError):
                misses += 1
                if misses >= 3:
                    break
                continue
            misses = 0
            if answer.status >= 300:  # e.g. 403: the platform does not know us (restarted): register
                break
        self.registered.clear()

    def spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        for stream in list(self.streams.values()):
            await stream.stop()
        self.streams.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- requests from the platform ------------------------------------------------------------------
    def channel(self, target: str) -> SimChannel | None:
        return next((c for c in self.channels if c.channel_id == target), None)

    async def handle(self, msg: SipMessage, src: Source, target: str) -> SipMessage:
        """The answer to a request for this device (target: the Request-URI's user)."""
        if msg.method == "MESSAGE":
            return self._message(msg, target)
        if msg.method == "INVITE":
            return await self._invite(msg, target)
        if msg.method == "BYE":
            stream = self.streams.pop(msg.call_id, None)
            if stream is None:
                return response_to(msg, 481)
            await stream.stop()
            return response_to(msg, 200)
        return response_to(msg, 405)

    def ack(self, msg: SipMessage) -> None:
        stream = self.streams.get(msg.call_id)
        if stream is not None:
            stream.start()

    def _message(self, msg: SipMessage, target: str) -> SipMessage:
        try:
            doc = manscdp.parse(msg.body)
        except manscdp.ManscdpError:
            return response_to(msg, 400)
        if doc.root == "Control" and doc.cmd == "DeviceControl":
            channel = self.channel(doc.device_id) or self.channel(target)
            if channel is None:
                return response_to(msg, 404)
            command = doc.text("PTZCmd")
            if command and not self.sim.apply_ptz(channel, command):
                return response_to(msg, 400)
            return response_to(msg, 200)
        if doc.root == "Query" and doc.cmd in ("Catalog", "DeviceInfo", "DeviceStatus"):
            self.spawn(self._answer(doc))
            return response_to(msg, 200)
        return response_to(msg, 200)  # other queries and controls: taken, not acted on

    async def _answer(self, query: manscdp.Doc) -> None:
        try:
            for body in self._answers(query):
                await self.message(body)
        except (TimeoutError, ConnectionError, OSError) as exc:
            log.info(
                "sim %s: %s answer not delivered: %s", self.device_id, query.cmd, str(exc) or "no answer"
            )

    def _answers(self, query: manscdp.Doc) -> list[bytes]:
        head = '<?xml version="1.0" encoding="GB2312"?>\r\n'
        if query.cmd == "Catalog":
            total = len(self.channels)
            per = max(1, self.sim.per_message)
            out = []
            for start in range(0, max(total, 1), per):
                part = self.channels[start : start + per]
                items = "".join(
                    f"<Item><DeviceID>{c.channel_id}</DeviceID><Name>{c.name}</Name>"
                    "<Manufacturer>Xueliang</Manufacturer><Model>SIM-PTZ</Model><Owner>0</Owner>"
                    f"<CivilCode>{c.channel_id[:6]}</CivilCode><Address>sim</Address><Parental>0</Parental>"
                    f"<ParentID>{self.device_id}</ParentID><RegisterWay>1</RegisterWay><Secrecy>0</Secrecy>"
                    "<Status>ON</Status><Info><PTZType>1</PTZType></Info></Item>"
                    for c in part
                )
                body = (
                    f"{head}<Response><CmdType>Catalog</CmdType><SN>{query.sn}</SN>"
                    f"<DeviceID>{self.device_id}</DeviceID><SumNum>{total}</SumNum>"
                    f'<DeviceList Num="{len(part)}">{items}</DeviceList></Response>\r\n'
                )
                out.append(body.encode("gb18030"))
            return out
        if query.cmd == "DeviceInfo":
            return [
                manscdp.build(
                    "Response",
                    "DeviceInfo",
                    query.sn,
                    self.device_id,
                    DeviceName="模拟球机" if len(self.channels) == 1 else "模拟录像机",
                    Result="OK",
                    Manufacturer="Xueliang",
                    Model="SIM-PTZ" if len(self.channels) == 1 else "SIM-NVR",
                    Firmware="sim-1",
                    Channel=str(len(self.channels)),
                )
            ]
        return [
            manscdp.build(
                "Response",
                "DeviceStatus",
                query.sn,
                self.device_id,
                Result="OK",
                Online="ONLINE",
                Status="OK",
                Encode="ON",
                Record="OFF",
            )
        ]

    async def _invite(self, msg: SipMessage, target: str) -> SipMessage:
        channel = self.channel(target)
        if channel is None:
            return response_to(msg, 404)
        known = self.streams.get(msg.call_id)
        if known is not None and known.answer is not None:
            return known.answer  # a retransmission that reached us after the transaction was forgotten
        try:
            offer = parse_offer(msg.body.decode("utf-8", "replace"))
        except ValueError:
            return response_to(msg, 488)
        stream = Stream(self.sim, channel, offer)
        try:
            port = await stream.prepare()
        except OSError as exc:
            log.warning("sim %s: cannot send media to %s:%s: %s", target, offer.host, offer.port, exc)
            return response_to(msg, 488)
        resp = response_to(msg, 200, to_tag=new_tag())
        resp.add("Contact", f"<sip:{target}@{self.sim.advertise}:{self.sim.endpoint.port}>")
        resp.add("Content-Type", "Application/SDP")
        resp.body = answer_sdp(target, self.sim.advertise, port, offer)
        stream.answer = resp
        self.streams[msg.call_id] = stream
        stream.on_end = lambda: self.streams.pop(msg.call_id, None)
        if self.sim.start_without_ack:
            stream.start()
        return resp

    async def end_streams(self) -> None:
        for stream in list(self.streams.values()):
            await stream.stop()
        self.streams.clear()
