"""In-process publish/subscribe for pushes to WebSockets.

Events are rendered once per audience by the publisher (e.g. "staff" and "owner" views of one alarm),
so fan-out to many consoles costs a predicate and a queue put each, not a JSON encoding each.
A subscriber that falls behind is not allowed to grow memory or stall others: its queue is bounded,
and on overflow it is told to resynchronize (fetch the current state) instead."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)

RESYNC = '{"type":"resync"}'


@dataclass(frozen=True)
class Event:
    topic: str  # e.g. "alarm", "task"
    meta: dict[str, Any]  # what subscribers filter on (region path, household, user ids)
    texts: dict[str, str]  # audience -> the message, already JSON


Audience = Callable[[Event], str | None]  # which rendering a subscriber gets, or None: not for them


class Bridge(Protocol):
    async def send(self, event: Event) -> None: ...


@dataclass(eq=False)
class Subscription:
    audience: Audience
    queue: asyncio.Queue[str] = field(default_factory=lambda: asyncio.Queue(maxsize=2000))
    overflowed: bool = False

    def offer(self, event: Event) -> None:
        choice = self.audience(event)
        if choice is None:
            return
        text = event.texts.get(choice)
        if text is None:
            return
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(text)
        except asyncio.QueueFull:
            self.overflowed = True
            self._drain_for_resync()

    def _drain_for_resync(self) -> None:
        while not self.queue.empty():
            self.queue.get_nowait()
        self.queue.put_nowait(RESYNC)

    async def next(self) -> str:
        text = await self.queue.get()
        if text == RESYNC:
            self.overflowed = False
        return text


class Hub:
    def __init__(self) -> None:
        self.subscriptions: set[Subscription] = set()
        self.bridge: Bridge | None = None
        self.published = 0

    def subscribe(self, audience: Audience) -> Subscription:
        sub = Subscription(audience)
        self.subscriptions.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        self.subscriptions.discard(sub)

    def deliver(self, event: Event) -> None:
        """To this process's subscribers only (what the bridge calls for events from elsewhere)."""
        self.published += 1
        for sub in list(self.subscriptions):
            try:
                sub.offer(event)
            except Exception:
                log.exception("subscriber filter failed")

    async def publish(self, event: Event) -> None:
        """Call only after the change is committed: a push must never announce a rolled-back state."""
        self.deliver(event)
        if self.bridge is not None:
            try:
                await self.bridge.send(event)
            except Exception:
                log.exception("cross-process push failed; local consoles were served")


Publish = Callable[[Event], Awaitable[None]]
