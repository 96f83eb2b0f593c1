"""Periodic re-checks of live rights, one database visit per user rather than one per stream.

Every open live stream asks the access policy again every 30 s (revoked rights must end it within that
time). A county operator's 16-tile wall is 16 streams of one user: asked one by one, that is 16
sessions, 16 principals and 16 queries every period. The live gateway puts all streams of one user on
one beat (users' beats spread over the period, so they do not all ask at once), and `AccessBatch` lets
the asks of one user that arrive within `gather` seconds share one call of `check_many(user_id,
camera_ids)`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

CheckMany = Callable[[int, frozenset[int]], Awaitable[frozenset[int]]]
"""(user_id, camera_ids) -> the ids among them that the user may still watch live."""


class AccessBatch:
    """Coalesces `may_view(user, camera)` asks per user over a short window."""

    def __init__(self, check_many: CheckMany, gather: float = 0.05) -> None:
        self._check_many = check_many
        self._gather = gather
        self._open: dict[int, tuple[set[int], asyncio.Task[frozenset[int]]]] = {}
        self._running: set[asyncio.Task[frozenset[int]]] = set()

    async def may_view(self, user_id: int, camera_id: int) -> bool:
        entry = self._open.get(user_id)
        if entry is None:
            cameras: set[int] = set()
            task = asyncio.create_task(self._run(user_id, cameras))
            self._running.add(task)
            task.add_done_callback(self._finished)
            entry = self._open[user_id] = (cameras, task)
        entry[0].add(camera_id)
        # shield: a stream that closes while it waits must not cancel the answer for the others
        allowed = await asyncio.shield(entry[1])
        return camera_id in allowed

    async def _run(self, user_id: int, cameras: set[int]) -> frozenset[int]:
        try:
            await asyncio.sleep(self._gather)
        finally:
            del self._open[user_id]  # from here on, a new ask starts the next batch
        return await self._check_many(user_id, frozenset(cameras))

    def _finished(self, task: asyncio.Task[frozenset[int]]) -> None:
        self._running.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved here too: every asker may have gone before it was ready
