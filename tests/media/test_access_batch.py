"""Periodic live re-checks: one policy visit per user for the streams due together."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from xueliang.media.access_batch import AccessBatch
from xueliang.media.live.ws import _next_beat


class Policy:
    """Allows each user the cameras in `rights`; records every visit."""

    def __init__(self, rights: dict[int, set[int]], delay: float = 0.0) -> None:
        self.rights = rights
        self.delay = delay
        self.visits: list[tuple[int, frozenset[int]]] = []
        self.fail: Exception | None = None
        self.visiting = asyncio.Event()

    async def check_many(self, user_id: int, camera_ids: frozenset[int]) -> frozenset[int]:
        self.visits.append((user_id, camera_ids))
        self.visiting.set()
        await asyncio.sleep(self.delay)
        if self.fail is not None:
            raise self.fail
        return frozenset(camera_ids & self.rights.get(user_id, set()))


async def test_asks_of_one_user_share_one_visit() -> None:
    policy = Policy({1: {10, 11, 12}, 2: {20}})
    batch = AccessBatch(policy.check_many, gather=0.02)
    asks = [(1, 10), (1, 11), (1, 13), (2, 20), (2, 10), (1, 12)]
    answers = await asyncio.gather(*(batch.may_view(u, c) for u, c in asks))
    assert answers == [True, True, False, True, False, True]
    assert sorted(policy.visits) == [(1, frozenset({10, 11, 12, 13})), (2, frozenset({10, 20}))]


async def test_an_ask_during_a_visit_starts_the_next_batch() -> None:
    policy = Policy({1: {10, 11}}, delay=0.05)
    batch = AccessBatch(policy.check_many, gather=0.01)
    first = asyncio.create_task(batch.may_view(1, 10))
    await asyncio.wait_for(policy.visiting.wait(), 5)  # the first batch is at the database
    second = await batch.may_view(1, 11)
    assert second and await first
    assert policy.visits == [(1, frozenset({10})), (1, frozenset({11}))]


async def test_a_stream_that_goes_away_does_not_cancel_the_others() -> None:
    policy = Policy({1: {10, 11}}, delay=0.02)
    batch = AccessBatch(policy.check_many, gather=0.02)
    leaving = asyncio.create_task(batch.may_view(1, 10))
    staying = asyncio.create_task(batch.may_view(1, 11))
    await asyncio.sleep(0.01)
    leaving.cancel()
    assert await staying is True
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert policy.visits == [(1, frozenset({10, 11}))]


async def test_a_failed_visit_reaches_every_asker() -> None:
    policy = Policy({1: {10}})
    policy.fail = RuntimeError("database gone")
    batch = AccessBatch(policy.check_many, gather=0.01)
    results = await asyncio.gather(batch.may_view(1, 10), batch.may_view(1, 11), return_exceptions=True)
    assert [type(r) for r in results] == [RuntimeError, RuntimeError]
    policy.fail = None
    assert await batch.may_view(1, 10) is True  # the next period asks again


def test_a_users_streams_recheck_on_one_beat_and_users_spread_over_the_period() -> None:
    every = 30.0
    opened = [1000.1, 1003.7, 1017.2, 1019.9, 1029.99]
    for user in (1, 2, 7, 12345):
        beats = {_next_beat(t, every, user) for t in opened}
        assert len(beats) <= 2  # streams opened over 30 s: at most two beats apart, one period apart
        assert all(0 < _next_beat(t, every, user) - t <= every + 1e-9 for t in opened)
        later = max(beats)
        assert _next_beat(later, every, user) == pytest.approx(later + every)  # on the beat: the next one
    phases = sorted(_next_beat(0.0, every, user) % every for user in range(1, 101))
    gaps = [b - a for a, b in itertools.pairwise(phases)] + [every - phases[-1] + phases[0]]
    assert max(gaps) < every / 20  # 100 users spread over the whole period, none bunched up
    assert all(0 < _next_beat(t, 0.2, 9) - t <= 0.2 + 1e-9 for t in (5.0, 5.05, 5.199999))
