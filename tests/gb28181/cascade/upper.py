"""A provincial (upper) platform for the cascade tests, on the project's own SIP endpoint: it challenges
our REGISTER with Digest and checks the answer, records every request it gets, answers them as a test
tells it (`answers[CmdType or method]`: a list of status codes used up in turn, then 200), and sends queries,
SUBSCRIBE, INVITE and BYE to the node."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from xueliang.gb28181 import manscdp
from xueliang.gb28181.manscdp import Doc
from xueliang.gb28181.sip import digest
from xueliang.gb28181.sip.message import SipMessage, response_to, uri_user
from xueliang.gb28181.sip.transport import SipEndpoint, Source, new_tag

UPPER_ID = "51000000002000000001"
UPPER_DOMAIN = UPPER_ID[:10]
PASSWORD = "province-pass-1"


@dataclass
class Seen:
    msg: SipMessage
    src: Source
    doc: Doc | None = None


@dataclass
class PyUpper:
    password: str = PASSWORD
    endpoint: SipEndpoint = field(init=False)
    seen: list[Seen] = field(default_factory=list)
    answers: dict[str, list[int]] = field(default_factory=dict)
    node: Source | None = None
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    nonce: str = field(default_factory=lambda: secrets.token_hex(8))

    def __post_init__(self) -> None:
        self.endpoint = SipEndpoint(self.handle, "127.0.0.1", 0, ("UDP",))

    @property
    def port(self) -> int:
        return self.endpoint.port

    async def handle(self, msg: SipMessage, src: Source) -> SipMessage:
        doc = None
        if msg.body and "manscdp" in msg.get("Content-Type").lower():
            doc = manscdp.parse(msg.body)
        self.seen.append(Seen(msg, src, doc))
        self.changed.set()
        if msg.method == "REGISTER":
            auth = digest.parse_params(msg.get("Authorization"))
            if not auth:
                resp = response_to(msg, 401, to_tag=new_tag())
                resp.add("WWW-Authenticate", digest.challenge(UPPER_DOMAIN, self.nonce, qop=True))
                return resp
            user = uri_user(msg.get("From").split("<")[-1].split(">")[0])
            key = digest.ha1(user, UPPER_DOMAIN, self.password)
            if auth.get("nonce") != self.nonce or not digest.verify(auth, "REGISTER", key):
                return response_to(msg, 403, "Wrong password", new_tag())
            self.node = src
            resp = response_to(msg, 200, to_tag=new_tag())
            resp.add("Expires", msg.get("Expires"))
            return resp
        queued = self.answers.get(doc.cmd if doc is not None else msg.method) or []
        status = queued.pop(0) if queued else 200
        return response_to(msg, status, to_tag=new_tag())

    async def wait_for(self, test: Callable[[Seen], bool], what: str, wait_s: float = 5.0) -> Seen:
        """The first request seen (from now on or before) that `test(seen)` accepts."""
        deadline = asyncio.get_running_loop().time() + wait_s
        checked = 0
        while True:
            for item in self.seen[checked:]:
                if test(item):
                    return item
            checked = len(self.seen)
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                got = [(s.msg.method, s.doc.cmd if s.doc else "") for s in self.seen]
                raise AssertionError(f"the upper never got {what}; it got {got}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), left)

    def of(self, cmd: str) -> list[Seen]:
        return [s for s in self.seen if s.doc is not None and s.doc.cmd == cmd]

    async def request(self, method: str, target: str, body: bytes = b"", **headers: str) -> SipMessage:
        assert self.node is not None, "not registered yet"
        req = SipMessage(method=method, uri=f"sip:{target}@{self.node.host}:{self.node.port}")
        req.add("From", headers.pop("From", f"<sip:{UPPER_ID}@{UPPER_DOMAIN}>;tag={new_tag()}"))
        req.add("To", headers.pop("To", f"<sip:{target}@{self.node.host}:{self.node.port}>"))
        req.add("Call-ID", headers.pop("Call_ID", f"{secrets.token_hex(8)}@upper"))
        req.add("CSeq", headers.pop("CSeq", f"1 {method}"))
        req.add("Contact", f"<sip:{UPPER_ID}@127.0.0.1:{self.port}>")
        req.add("Max-Forwards", "70")
        for name, value in headers.items():
            req.add(name.replace("_", "-"), value)
        req.body = body
        return await self.endpoint.request(req, self.node, wait_s=5.0)

    def query(self, cmd: str, target: str, sn: int, root: str = "Query", **extra: str) -> bytes:
        return manscdp.build(root, cmd, sn, target, "GB2312", **extra)


@contextlib.asynccontextmanager
async def running_upper(password: str = PASSWORD) -> AsyncIterator[PyUpper]:
    upper = PyUpper(password)
    await upper.endpoint.start()
    try:
        yield upper
    finally:
        await upper.endpoint.stop()
