"""PostgreSQL LISTEN/NOTIFY bridge: events published in one process reach the hubs of the others
(web, worker and media roles against one database), with no home-made cluster protocol.

Each process sends what it publishes with its own origin id and ignores its own echo. NOTIFY
payloads are limited to 8000 bytes; a larger event is not bridged and is logged (consoles in other
processes still see the change on their next resync or list)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any

from xueliang.notify.hub import Event, Hub

log = logging.getLogger(__name__)

CHANNEL = "xueliang_events"
MAX_PAYLOAD = 7900


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1)


class PgBridge:
    def __init__(self, hub: Hub, dsn: str, channel: str = CHANNEL) -> None:
        self.hub = hub
        self.dsn = dsn
        self.channel = channel
        self.origin = uuid.uuid4().hex[:12]
        self._conn: Any = None
        self._outbox: asyncio.Queue[str] = asyncio.Queue(maxsize=10_000)
        self._sender: asyncio.Task[None] | None = None

    async def start(self) -> None:
        import asyncpg  # type: ignore[import-untyped]

        self._conn = await asyncpg.connect(self.dsn)
        await self._conn.add_listener(self.channel, self._received)
        self._sender = asyncio.create_task(self._send_loop(), name="xueliang-pg-bridge")
        self.hub.bridge = self

    async def stop(self) -> None:
        if self.hub.bridge is self:
            self.hub.bridge = None
        if self._sender is not None:
            self._sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sender
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def _send_loop(self) -> None:
        """One NOTIFY at a time, in publish order, off the request path (the sender's answer and the
        local consoles never wait for other processes)."""
        while True:
            body = await self._outbox.get()
            try:
                await self._conn.execute("SELECT pg_notify($1, $2)", self.channel, body)
            except Exception:
                log.exception("could not forward an event to other processes")

    async def send(self, event: Event) -> None:
        body = json.dumps(
            {"o": self.origin, "t": event.topic, "m": event.meta, "x": event.texts},
            ensure_ascii=False,
            separators=(",", ":"),
        )
        if len(body.encode()) > MAX_PAYLOAD:
            log.warning("event on %s too large to bridge (%d bytes)", event.topic, len(body))
            return
        try:
            self._outbox.put_nowait(body)
        except asyncio.QueueFull:
            log.warning("cross-process event queue full; other processes' consoles will resync")

    def _received(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        try:
            data = json.loads(payload)
            if data.get("o") == self.origin:
                return
            self.hub.deliver(Event(str(data["t"]), dict(data["m"]), dict(data["x"])))
        except (ValueError, KeyError, TypeError):
            log.warning("ignored a malformed event on %s", self.channel)
