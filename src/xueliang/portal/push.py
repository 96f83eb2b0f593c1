"""Push for the TV and phone: `GET /api/v1/portal/events` (server-sent events) and the banner's ETag.

Why SSE and not a WebSocket: every set-top box engine we support (Chromium 53+, old WebKit) has
`EventSource`, it reconnects by itself, and the stream only ever goes one way. What is pushed is a
nudge, never content: `notices` (a notice aimed at the caller's region was published or withdrawn),
`mine` (the caller's own reads or price alerts changed on another screen) and `messages` (a hospital
message for the caller's household). The client then fetches the banner or messages it already
knows how to read, so the access rules stay in one place (the list routes).

Events travel on the hub (notify/hub.py), so the PostgreSQL bridge carries them to the other web
processes. The hospital domain publishes `household.messages` there itself (the domains do not import
each other; the topic name is the contract).

Bounds: a stream re-checks its session every `RECHECK_S` (with the 5 s session cache, a logout or a
revoke made elsewhere ends it within 30 s, as for live video) and at once on `UserAccessChanged` in
this process; a user keeps at most `MAX_PER_USER` streams (the oldest is told `bye` and the TV falls
back to polling); a comment line every `HEARTBEAT_S` finds dead peers.

The ETag: the banner poll answers 304 without touching the database while nothing that the banner
shows can have changed for the caller. `BannerVersions` counts changes per notice region path, per
user and for price alerts as a whole (bumped by the same hub events, so other processes' changes
count too); the tag also holds this process's start id and a `TAG_PERIOD_S` time bucket, so a change
nobody announced (a CLI import, a lost bridge message) is seen within that period."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import datetime

from xueliang.accounts.deps import Caller, resolve_token
from xueliang.accounts.events import UserAccessChanged
from xueliang.core.context import AppContext
from xueliang.notify.hub import Event, Hub, Subscription
from xueliang.portal.policy import region_ancestors

TOPIC_NOTICE = "portal.notice"  # meta: region_path
TOPIC_USER = "portal.user"  # meta: user_id
TOPIC_ALERTS = "portal.alerts"  # meta: {} (price alerts made for some users)
TOPIC_MESSAGES = "household.messages"  # meta: household_id (published by the hospital domain)

RECHECK_S = 25.0  # + the session cache's 5 s: a revoked session is seen within 30 s
HEARTBEAT_S = 15.0
MAX_PER_USER = 4
TAG_PERIOD_S = 300.0
RETRY_MS = 5000  # how long EventSource waits before reconnecting


def notice_event(region_path: str) -> Event:
    return Event(TOPIC_NOTICE, {"region_path": region_path}, {"n": "notices"})


def user_event(user_id: int) -> Event:
    return Event(TOPIC_USER, {"user_id": user_id}, {"u": "mine"})


def alerts_event() -> Event:
    return Event(TOPIC_ALERTS, {}, {})


class BannerVersions:
    """Change counters behind the banner's ETag, fed by the hub (local and bridged events alike)."""

    def __init__(self, hub: Hub) -> None:
        self.epoch = uuid.uuid4().hex[:8]
        self.areas: defaultdict[str, int] = defaultdict(int)
        self.users: defaultdict[int, int] = defaultdict(int)
        self.alerts = 0
        self._sub: Subscription | None = hub.subscribe(self._count)

    def _count(self, event: Event) -> str | None:
        """A hub audience that never takes a message: it only counts (see notify/hub.py)."""
        if event.topic == TOPIC_NOTICE:
            self.areas[str(event.meta.get("region_path", ""))] += 1
        elif event.topic == TOPIC_USER:
            self.users[int(event.meta.get("user_id", 0))] += 1
        elif event.topic == TOPIC_ALERTS:
            self.alerts += 1
        return None

    def etag(self, caller: Caller, now: float | None = None) -> str:
        p = caller.principal
        areas = sum(self.areas.get(path, 0) for path in region_ancestors(p.region_path))
        bucket = int((time.time() if now is None else now) // TAG_PERIOD_S)
        who = f"{p.user_id}:{p.role.value}:{p.region_path}:{caller.user.locale}"
        digest = hashlib.blake2s(who.encode(), digest_size=6).hexdigest()
        return f'W/"{self.epoch}-{bucket}-{areas}.{self.users.get(p.user_id, 0)}.{self.alerts}-{digest}"'


class PortalStreams:
    """The open event streams of this process by user: the per-user bound, and a wake-up when this
    process logs a user out or changes them (registered by portal/runtime.py)."""

    def __init__(self, max_per_user: int = MAX_PER_USER, recheck_s: float = RECHECK_S) -> None:
        self.max_per_user = max_per_user
        self.recheck_s = recheck_s
        self._by_user: defaultdict[int, list[_Stream]] = defaultdict(list)

    def open_count(self, user_id: int) -> int:
        return len(self._by_user.get(user_id, ()))

    @contextlib.contextmanager
    def open(self, user_id: int) -> Iterator[_Stream]:
        stream = _Stream()
        mine = self._by_user[user_id]
        mine.append(stream)
        while len(mine) > self.max_per_user:
            oldest = mine.pop(0)
            oldest.evicted = True
            oldest.wake.set()
        try:
            yield stream
        finally:
            if stream in mine:
                mine.remove(stream)
            if not mine:
                self._by_user.pop(user_id, None)

    async def user_changed(self, event: UserAccessChanged) -> None:
        for stream in self._by_user.get(event.user_id, ()):
            stream.wake.set()  # each stream re-checks its own session: a logout ends only its own


class _Stream:
    def __init__(self) -> None:
        self.wake = asyncio.Event()
        self.evicted = False


def audience(caller: Caller) -> Callable[[Event], str | None]:
    """Which nudges one stream gets: notices aimed at the caller's region or above it, their own
    changes, their household's messages. Events carry {key: kind}; the key chosen here makes the
    hub queue the kind's name."""
    p = caller.principal

    def choose(event: Event) -> str | None:
        if event.topic == TOPIC_NOTICE:
            path = str(event.meta.get("region_path", ""))
            return "n" if path and p.region_path.startswith(path) else None
        if event.topic == TOPIC_USER:
            return "u" if event.meta.get("user_id") == p.user_id else None
        if event.topic == TOPIC_MESSAGES:
            home = event.meta.get("household_id")
            return "m" if home is not None and home == p.household_id else None
        return None

    return choose


def _frame(kind: str, data: dict[str, object] | None = None) -> str:
    return f"event: {kind}\ndata: {json.dumps(data or {}, ensure_ascii=False)}\n\n"


async def stream(ctx: AppContext, caller: Caller, *, heartbeat_s: float = HEARTBEAT_S) -> AsyncIterator[str]:
    """The body of one event stream: `hello`, then nudges, heartbeats, and a last `bye` when the
    session ends or the stream is evicted (the client then stops reconnecting)."""
    hub = ctx.services.require(Hub)
    streams = ctx.services.require(PortalStreams)
    sub = hub.subscribe(audience(caller))
    expires_at: datetime = caller.auth.expires_at
    try:
        with streams.open(caller.user.id) as me:
            yield f"retry: {RETRY_MS}\n" + _frame("hello", {"user": caller.user.id})
            next_check = time.monotonic() + streams.recheck_s
            while True:
                left = (expires_at - ctx.clock.now()).total_seconds()
                if left <= 0:
                    yield _frame("bye", {"reason": "session expired"})
                    return
                if me.evicted:
                    yield _frame("bye", {"reason": "too many streams"})
                    return
                wait = min(heartbeat_s, max(0.0, next_check - time.monotonic()), left)
                text = await _next(sub, me.wake, wait)
                if me.wake.is_set() or time.monotonic() >= next_check:
                    me.wake.clear()  # before the look: a change during it wakes the next round
                    if me.evicted:
                        continue
                    resolved = await resolve_token(ctx, caller.token)
                    if resolved is None:
                        yield _frame("bye", {"reason": "session ended"})
                        return
                    expires_at = resolved.auth.expires_at
                    next_check = time.monotonic() + streams.recheck_s
                if text is None:
                    yield ": ping\n\n"
                elif text == "resync":
                    yield _frame("notices")
                    yield _frame("messages")
                else:
                    yield _frame(text)
    finally:
        hub.unsubscribe(sub)


async def _next(sub: Subscription, wake: asyncio.Event, wait_s: float) -> str | None:
    """The next nudge's kind, or None when `wait_s` passed or `wake` was set first."""
    if wait_s <= 0:
        return None
    get = asyncio.ensure_future(sub.next())
    woken = asyncio.ensure_future(wake.wait())
    try:
        done, _ = await asyncio.wait({get, woken}, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (get, woken):
            if not task.done():
                task.cancel()
        await asyncio.gather(get, woken, return_exceptions=True)
    if get in done and not get.cancelled() and get.exception() is None:
        text = get.result()
        return "resync" if text.startswith("{") else text  # "{...}": the hub's resync after an overflow
    return None
