"""One upper platform's link: REGISTER with Digest, refresh before expiry, keepalive, and re-register
when the upper forgets us (a keepalive answered 4xx: it restarted) or stops answering (3 keepalives
missed), backing off on errors. The link also carries our requests to the upper (catalog pages,
notifications, alarms) and keeps the state the console shows.

States: `idle` (not started), `registering`, `registered`, `failed` (waiting to retry: `last_error`
says why), `disabled`."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import secrets
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import update

from xueliang.gb28181.cascade import catalog
from xueliang.gb28181.cascade.models import GbUpper
from xueliang.gb28181.sip import digest
from xueliang.gb28181.sip.message import SipMessage, header_param
from xueliang.gb28181.sip.transport import Source, new_tag

if TYPE_CHECKING:
    from xueliang.gb28181.cascade.cascade import Cascade

log = logging.getLogger(__name__)
KEEPALIVE_MISSES = 3


class LinkError(Exception):
    """The upper refused or did not answer; the link backs off and tries again."""


class UpperForgot(LinkError):
    """A keepalive answered 4xx: the upper restarted and lost our registration; register again now."""


@dataclass(frozen=True)
class UpperConfig:
    """A snapshot of a `GbUpper` row (the link never holds a database object)."""

    id: int
    name: str
    sip_id: str
    domain: str
    host: str
    port: int
    transport: str
    password: str
    local_id: str
    register_expires: int
    keepalive_period: int
    charset: str
    catalog_page: int
    enabled: bool

    @classmethod
    def of(cls, row: GbUpper, node_id: str) -> UpperConfig:
        return cls(
            row.id,
            row.name,
            row.sip_id,
            row.domain,
            row.host,
            row.port,
            row.transport.upper(),
            row.password,
            row.local_id or node_id,
            row.register_expires,
            row.keepalive_period,
            row.charset,
            row.catalog_page,
            row.enabled,
        )

    @property
    def actor_name(self) -> str:
        return f"upper platform {self.sip_id}"


class UpperLink:
    # Back-off after a failure: BACKOFF_BASE doubling up to BACKOFF_MAX seconds, with ±20% jitter.
    BACKOFF_BASE = 2.0
    BACKOFF_MAX = 60.0

    def __init__(self, cascade: Cascade, config: UpperConfig) -> None:
        self.cascade = cascade
        self.config = config
        self.state = "idle"
        self.addresses: set[str] = {config.host}
        self.dest = Source(config.transport, config.host, config.port)
        self.call_id = f"{secrets.token_hex(10)}@{cascade.settings.advertise_host}"
        self.from_tag = new_tag()
        self._cseq = itertools.count(1)
        self._sn = itertools.count(1)
        self.failures = 0
        self.expires = config.register_expires
        self.registered = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.stopping = False  # the loops also stop on this: Python 3.11's wait_for can swallow a cancel

    # -- life ----------------------------------------------------------------------------------------
    def start(self) -> None:
        if not self.config.enabled:
            self.state = "disabled"
            self.cascade.spawn(self._save(state="disabled"))
            return
        self._task = asyncio.get_running_loop().create_task(self._run(), name=f"gb-upper-{self.config.id}")

    async def stop(self) -> None:
        """Stops the link; a registered link unregisters (Expires: 0), best effort."""
        self.stopping = True
        tasks = [t for t in (self._task, *self._tasks) if t is not None]
        await cancel_all(tasks)
        if self.registered.is_set():
            self.registered.clear()
            with contextlib.suppress(LinkError, OSError, TimeoutError):
                await self._register(0, wait_s=1.0)

    def spawn(self, coro: Awaitable[None]) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def knows(self, user: str, host: str) -> bool:
        """Is a request from this SIP user at this address the upper's?"""
        return user == self.config.sip_id and host in self.addresses

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(OSError):
            infos = await loop.getaddrinfo(self.config.host, self.config.port)
            self.addresses |= {str(info[4][0]) for info in infos}
        while not self.stopping:
            try:
                await self._set_state("registering")
                if self.config.transport == "TCP":
                    self.dest = await self.cascade.endpoint.connect(self.config.host, self.config.port)
                self.expires = await self._register(self.config.register_expires)
                self.failures = 0
                self.registered.set()
                now = self.cascade.now()
                await self._set_state("registered", registered_at=now, last_error="")
                self.cascade.link_registered(self)
                await self._keep()
            except UpperForgot as exc:
                self.registered.clear()
                log.info("GB upper %s: %s; registering again", self.config.sip_id, exc)
                await self._save(last_error=str(exc)[:200], last_error_at=self.cascade.now())
            except (LinkError, OSError, TimeoutError) as exc:
                self.registered.clear()
                self.failures += 1
                message = str(exc) or type(exc).__name__
                log.info("GB upper %s: %s", self.config.sip_id, message)
                await self._set_state("failed", last_error=message[:200], last_error_at=self.cascade.now())
                delay = min(self.BACKOFF_MAX, self.BACKOFF_BASE * 2 ** (self.failures - 1))
                await asyncio.sleep(delay * random.uniform(0.8, 1.2))

    async def _keep(self) -> None:
        """Keepalives until the registration needs refreshing or the upper is lost (then returns or
        raises, and `_run` registers again)."""
        loop = asyncio.get_running_loop()
        refresh_at = loop.time() + max(1.0, min(self.expires - 10.0, self.expires * 0.8))
        misses = 0
        while not self.stopping:
            period = float(self.config.keepalive_period)
            await asyncio.sleep(min(period, max(0.0, refresh_at - loop.time())))
            if loop.time() >= refresh_at:
                self.expires = await self._register(self.config.register_expires)
                refresh_at = loop.time() + max(1.0, min(self.expires - 10.0, self.expires * 0.8))
                continue
            try:
                answer = await self.message(
                    catalog.keepalive(self.config.local_id, next(self._sn), self.config.charset),
                    wait_s=min(period, 8.0),
                )
            except (TimeoutError, OSError):
                misses += 1
                if misses >= KEEPALIVE_MISSES:
                    raise LinkError(f"{misses} keepalives not answered") from None
                continue
            if 400 <= answer.status < 500:  # the upper does not know us any more (it restarted)
                raise UpperForgot(f"keepalive answered {answer.status} {answer.reason}")
            if answer.status >= 300:
                raise LinkError(f"keepalive answered {answer.status} {answer.reason}")
            misses = 0
            await self._save(last_keepalive=self.cascade.now())

    # -- REGISTER ------------------------------------------------------------------------------------
    def uri(self) -> str:
        return f"sip:{self.config.sip_id}@{self.config.domain}"

    def _aor(self) -> str:
        return f"<sip:{self.config.local_id}@{self.config.local_id[:10]}>"

    def contact(self) -> str:
        settings = self.cascade.settings
        return f"<sip:{self.config.local_id}@{settings.advertise_host}:{self.cascade.endpoint.port}>"

    def _register_request(self, expires: int, authorization: str = "") -> SipMessage:
        req = SipMessage(method="REGISTER", uri=self.uri())
        req.add("From", f"{self._aor()};tag={self.from_tag}")
        req.add("To", self._aor())
        req.add("Call-ID", self.call_id)
        req.add("CSeq", f"{next(self._cseq)} REGISTER")
        req.add("Contact", self.contact())
        req.add("Max-Forwards", "70")
        req.add("User-Agent", "Xueliang")
        req.add("Expires", str(expires))
        if authorization:
            req.add("Authorization", authorization)
        return req

    async def _register(self, expires: int, wait_s: float = 8.0) -> int:
        """REGISTER (answering one Digest challenge); the expiry the upper granted."""
        resp = await self._send(self._register_request(expires), wait_s)
        if resp.status in (401, 407):
            header = resp.get("WWW-Authenticate") or resp.get("Proxy-Authenticate")
            params = digest.parse_params(header)
            if not params.get("nonce"):
                raise LinkError(f"REGISTER {resp.status} without a Digest challenge")
            algorithm = params.get("algorithm", "MD5").upper()
            if algorithm != "MD5":
                raise LinkError(f"Digest algorithm {algorithm} is not supported")
            qop = "auth" if "auth" in params.get("qop", "").split(",") else ""
            authorization = digest.authorization(
                self.config.local_id,
                params.get("realm", self.config.domain),
                params["nonce"],
                self.uri(),
                "REGISTER",
                self.config.password,
                qop=qop,
                cnonce=secrets.token_hex(8) if qop else "",
            )
            if params.get("opaque"):
                authorization += f', opaque="{params["opaque"]}"'
            resp = await self._send(self._register_request(expires, authorization), wait_s)
        if resp.status in (401, 403, 407):
            raise LinkError(f"REGISTER refused: {resp.status} {resp.reason} (password?)")
        if resp.status >= 300:
            raise LinkError(f"REGISTER answered {resp.status} {resp.reason}")
        granted = resp.get("Expires") or header_param(resp.get("Contact"), "expires")
        return int(granted) if granted.isdigit() and 0 < int(granted) < 10**7 else max(expires, 1)

    async def _send(self, req: SipMessage, wait_s: float) -> SipMessage:
        try:
            return await self.cascade.endpoint.request(req, self.dest, wait_s=wait_s)
        except TimeoutError:
            raise LinkError(f"{req.method} not answered") from None
        except ConnectionError as exc:
            raise LinkError(str(exc)) from exc

    # -- requests to the upper -----------------------------------------------------------------------
    def next_sn(self) -> int:
        return next(self._sn)

    async def message(self, body: bytes, wait_s: float = 8.0) -> SipMessage:
        """An out-of-dialog MESSAGE with a MANSCDP body (a new Call-ID each, as GB/T 28181 does)."""
        to = f"<sip:{self.config.sip_id}@{self.config.domain}>"
        req = SipMessage(method="MESSAGE", uri=self.uri())
        req.add("From", f"{self._aor()};tag={new_tag()}")
        req.add("To", to)
        req.add("Call-ID", f"{secrets.token_hex(8)}@{self.cascade.settings.advertise_host}")
        req.add("CSeq", f"{next(self._cseq)} MESSAGE")
        req.add("Max-Forwards", "70")
        req.add("User-Agent", "Xueliang")
        req.add("Content-Type", "Application/MANSCDP+xml")
        req.body = body
        return await self.cascade.endpoint.request(req, self.dest, wait_s=wait_s)

    def in_dialog(self, method: str, target: str, local: str, remote: str, call_id: str) -> SipMessage:
        """A request inside a dialog the upper opened (NOTIFY of a subscription, BYE of a stream):
        `local` is our header (the upper's To, with our tag), `remote` the upper's From."""
        req = SipMessage(method=method, uri=target)
        req.add("From", local)
        req.add("To", remote)
        req.add("Call-ID", call_id)
        req.add("CSeq", f"{next(self._cseq)} {method}")
        req.add("Max-Forwards", "70")
        req.add("User-Agent", "Xueliang")
        return req

    # -- state ---------------------------------------------------------------------------------------
    async def _set_state(self, state: str, **fields: Any) -> None:
        self.state = state
        await self._save(state=state, **fields)

    async def _save(self, **fields: Any) -> None:
        """The link's state into its row, for the console (a missing row: the upper was deleted)."""
        try:
            async with self.cascade.ctx.db.session() as session:
                await session.execute(update(GbUpper).where(GbUpper.id == self.config.id).values(**fields))
                await session.commit()
        except Exception:  # the console's view must never stop the link
            log.exception("GB upper %s: state not saved", self.config.sip_id)

    def note_error(self, message: str) -> None:
        self.spawn(self._save(last_error=message[:200], last_error_at=self.cascade.now()))

    def note_catalog(self, at: datetime) -> None:
        self.spawn(self._save(catalog_at=at))


async def cancel_all(tasks: list[asyncio.Task[None]], rounds: int = 20) -> None:
    """Cancels the tasks and waits for them, cancelling again while any is left: in Python 3.11
    `asyncio.wait_for` may swallow a cancellation that meets its inner future's completion, and a
    loop that lost it would keep a plain `await task` waiting for good. Gives up after `rounds`."""
    pending = {t for t in tasks if not t.done()}
    for _ in range(rounds):
        if not pending:
            return
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.25)
    log.warning("GB upper link: %d tasks did not stop", len(pending))
