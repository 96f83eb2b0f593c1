"""Group commit under a storm: many senders pressing at once, floods and retries mixed in one batch."""

from __future__ import annotations

import asyncio
import random

from fastapi import FastAPI
from sqlalchemy import func, select
from tests.support.alarms import ctx_of, new_uuid

from xueliang.alarms.intake import IntakeBatcher, ready
from xueliang.alarms.models import Alarm, AlarmKind, AlarmPress
from xueliang.alarms.service import IntakeResult, Press
from xueliang.audit.service import Actor
from xueliang.regions.models import Region, RegionLevel


async def test_storm_is_stored_once_coalesced_and_answered(alarm_app: FastAPI) -> None:
    ctx = ctx_of(alarm_app)
    batcher = ctx.services.get(IntakeBatcher)
    assert batcher is not None
    async with ctx.db.session() as s:
        villages = (await s.scalars(select(Region.id).where(Region.level == RegionLevel.village))).all()
    run = new_uuid()[:8]
    presses = []
    for sender in range(40):  # each sender floods three presses
        presses += [
            Press(
                uuid=new_uuid(),
                kind=AlarmKind.emergency,
                source="mqtt",
                region_id=villages[sender % 10],
                sender_key=f"storm-{run}-{sender}",
            )
            for _ in range(3)
        ]
    presses += [
        Press(uuid=new_uuid(), kind=AlarmKind.fire, source="pc", region_id=villages[0]) for _ in range(10)
    ]
    retries = random.Random(5).sample(presses, 20)
    order = presses + retries
    random.Random(6).shuffle(order)
    actor = Actor(None, "storm")
    batches_before = batcher.batches
    results: list[IntakeResult] = await asyncio.gather(*(batcher.submit(ready(p), actor) for p in order))
    assert batcher.batches - batches_before < len(order) / 4, "presses were not grouped"

    by_uuid: dict[str, set[int]] = {}
    for press, result in zip(order, results, strict=True):
        by_uuid.setdefault(press.uuid, set()).add(result.alarm.id)
    assert all(len(ids) == 1 for ids in by_uuid.values()), "a retry was answered with another alarm"
    assert sum(r.duplicate for r in results) == len(retries)
    assert sum(r.created for r in results) == 40 + 10

    async with ctx.db.session() as s:
        stored = (
            await s.execute(
                select(AlarmPress.uuid, AlarmPress.alarm_id).where(AlarmPress.uuid.in_(list(by_uuid)))
            )
        ).all()
        assert sorted(u for u, _ in stored) == sorted(by_uuid) and all(by_uuid[u] == {a} for u, a in stored)
        counts = (
            await s.execute(
                select(Alarm.sender_key, func.count(), func.sum(Alarm.press_count))
                .where(Alarm.sender_key.like(f"storm-{run}-%"))
                .group_by(Alarm.sender_key)
            )
        ).all()
        assert len(counts) == 40 and all(n == 1 and total == 3 for _, n, total in counts)
