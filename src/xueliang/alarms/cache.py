"""A short-lived in-process cache for what routing reads on every press but rarely changes (which
station a village belongs to, the station's cameras, its escalation delays). Keyed by database, so
apps on different databases in one process never share entries. A change made in this process
clears the entry at once; one made by another process is seen within TTL_S."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.core.db import database_key

T = TypeVar("T")
TTL_S = 10.0
_entries: dict[tuple[str, str, int], tuple[float, Any]] = {}


async def cached(session: AsyncSession, kind: str, key: int, load: Callable[[], Awaitable[T]]) -> T:
    full = (database_key(session), kind, key)
    hit = _entries.get(full)
    now = time.monotonic()
    if hit is not None and now - hit[0] < TTL_S:
        value: T = hit[1]
        return value
    value = await load()
    _entries[full] = (now, value)
    return value


def forget(session: AsyncSession, kind: str, key: int) -> None:
    _entries.pop((database_key(session), kind, key), None)
