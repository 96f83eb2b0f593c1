"""Other domains learn of alarms through domain events (the coming federation outbox listens here):
raised, then each committed change, escalations from the durable timers included."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from tests.support.alarms import Login, ctx_of, new_uuid, runner

from xueliang.alarms.events import AlarmChanged, AlarmRaised
from xueliang.core.clock import ManualClock

API = "/api/v1/alarms"


async def test_raised_changed_and_escalated_reach_listeners(
    alarm_app: FastAPI, alogin: Login, clock: ManualClock
) -> None:
    seen: list[AlarmChanged] = []
    four = asyncio.Event()

    async def listen(event: AlarmChanged) -> None:
        seen.append(event)
        if len(seen) == 4:
            four.set()

    unsubscribe = ctx_of(alarm_app).events.subscribe(AlarmChanged, listen)
    try:
        resident, other, op = await alogin("res-v08"), await alogin("res-v09"), await alogin("op-shimen")
        a = (await resident.post(API, json={"uuid": new_uuid()})).json()["alarm"]
        b = (await other.post(API, json={"uuid": new_uuid()})).json()["alarm"]
        assert (await op.post(f"{API}/{a['id']}/acknowledge")).status_code == 200
        clock.advance(61)
        assert await runner(alarm_app).run_due() == 1  # b was not acknowledged in time
        async with asyncio.timeout(5):
            await four.wait()
    finally:
        unsubscribe()
    mine = [(e.alarm_id, e.change, type(e)) for e in seen]
    assert set(mine[:2]) == {(a["id"], "raised", AlarmRaised), (b["id"], "raised", AlarmRaised)}
    assert mine[2:] == [(a["id"], "acknowledged", AlarmChanged), (b["id"], "escalated", AlarmChanged)]
    assert all(e.region_path.endswith("/") for e in seen)  # a subtree path, for scoped listeners
