"""Running jobs side by side until the first of them ends: a socket's sender, its reader and its
re-check guard, where any one ending (the peer left, the rights went, the stream ended) ends the rest.

One helper so each of them cancels and awaits the others on every path, cancellation included: a job
left running after its socket closed is a leaked task, listener and queue."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def first_done(*jobs: Awaitable[T]) -> set[asyncio.Future[T]]:
    """Run `jobs` until one ends; cancel and await the others; return the ones that ended (look at
    their `result()` or `exception()`; a cancelled one is not among them unless it ended first)."""
    tasks: list[asyncio.Future[T]] = [asyncio.ensure_future(job) for job in jobs]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return done
