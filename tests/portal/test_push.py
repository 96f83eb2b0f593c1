"""Push to TVs and phones (portal/push.py, hospital/push.py): the event stream nudges only the callers a
notice or message is for, ends on logout and expiry and past the per-user bound; the banner poll
answers 304 while nothing it shows changed for the caller, and a change in the caller's area or their
own reads gives a new tag. Hospital messages are announced only once their transaction commits."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
from sqlalchemy import select

from tests.portal.test_notices import region_id
from tests.support.alarms import Login
from xueliang.accounts.deps import SESSION_COOKIE, Caller, resolve_token
from xueliang.core.clock import ManualClock
from xueliang.core.context import AppContext
from xueliang.hospital import push as hospital_push
from xueliang.notify.hub import Event, Hub
from xueliang.portal import push
from xueliang.regions.models import Household

NOTICES = "/api/v1/portal/notices"
WAIT = 10.0  # a bound for things that happen at once; never reached when the code is right


async def caller_of(ctx: AppContext, c: httpx.AsyncClient) -> Caller:
    token = c.cookies[SESSION_COOKIE]
    resolved = await resolve_token(ctx, token)
    assert resolved is not None
    return Caller(resolved.user, resolved.principal, resolved.auth, token, "127.0.0.1")


async def frame(stream: AsyncIterator[str]) -> str:
    async with asyncio.timeout(WAIT):
        return await anext(stream)


async def next_event(stream: AsyncIterator[str]) -> str:
    """The next named event (heartbeats skipped)."""
    while True:
        text = await frame(stream)
        if text.startswith("event: ") or "\nevent: " in text:
            return text[text.index("event: ") + 7 :].split("\n", 1)[0]


async def test_stream_nudges_by_scope_and_ends_on_logout_expiry_and_bound(
    plogin: Login, portal_app: Any, clock: ManualClock
) -> None:
    ctx: AppContext = portal_app.state.ctx
    qingxi, shimen = await region_id(portal_app, "513223101"), await region_id(portal_app, "513223102")
    op, admin = await plogin("op-qingxi"), await plogin("admin")
    tv = await plogin("res-v03")  # a village of 清溪镇 (qingxi)
    me = await caller_of(ctx, tv)
    stream = push.stream(ctx, me, heartbeat_s=0.2)
    assert await next_event(stream) == "hello"

    # A notice to another township is not for this TV; one to its own township is, at once.
    other = await admin.post(NOTICES, json={"region_id": shimen, "title": "石门通知", "body": "x"})
    assert other.status_code == 201, other.text
    assert await frame(stream) == ": ping\n\n"  # the next thing it hears is a heartbeat, not a nudge
    made = await op.post(NOTICES, json={"region_id": qingxi, "title": "清溪通知", "body": "y"})
    assert made.status_code == 201, made.text
    assert await next_event(stream) == "notices"
    read = await tv.post(f"/api/v1/portal/notices/{made.json()['id']}/read")
    assert read.status_code == 204
    assert await next_event(stream) == "mine"  # the TV's own read, e.g. done on the phone

    # The household's hospital message (the hospital domain's topic).
    assert me.principal.household_id is not None
    await ctx.services.require(Hub).publish(
        Event(hospital_push.TOPIC, {"household_id": me.principal.household_id + 1}, {"m": "messages"})
    )
    await ctx.services.require(Hub).publish(
        Event(hospital_push.TOPIC, {"household_id": me.principal.household_id}, {"m": "messages"})
    )
    assert await next_event(stream) == "messages"

    # At most MAX_PER_USER streams per user: the oldest is told bye.
    extra = [push.stream(ctx, me, heartbeat_s=0.2) for _ in range(push.MAX_PER_USER)]
    for s in extra:
        assert await next_event(s) == "hello"
    assert await next_event(stream) == "bye"
    assert ctx.services.require(push.PortalStreams).open_count(me.user.id) == push.MAX_PER_USER
    await stream.aclose()

    # A logout of this session in this process ends its streams at once.
    assert (await tv.post("/api/v1/auth/logout")).status_code == 204
    for s in extra:
        assert await next_event(s) == "bye"
        await s.aclose()
    assert ctx.services.require(push.PortalStreams).open_count(me.user.id) == 0

    for nid in (other.json()["id"], made.json()["id"]):
        assert (await admin.post(f"/api/v1/portal/notices/{nid}/withdraw")).status_code == 200

    # A session that expires ends its stream when its time is up (the last step: every session ends).
    phone = await plogin("res-v03")
    mine = await caller_of(ctx, phone)
    late = push.stream(ctx, mine, heartbeat_s=0.2)
    assert await next_event(late) == "hello"
    clock.advance((mine.auth.expires_at - clock.now()).total_seconds() + 1)
    assert await next_event(late) == "bye"
    await late.aclose()


async def test_banner_etag_304_until_something_for_the_caller_changes(plogin: Login, portal_app: Any) -> None:
    qingxi, shimen = await region_id(portal_app, "513223101"), await region_id(portal_app, "513223102")
    admin = await plogin("admin")
    tv = await plogin("res-v04")  # 清溪镇

    first = await tv.get("/api/v1/portal/banner")
    assert first.status_code == 200 and first.headers["cache-control"] == "private, no-cache"
    tag = first.headers["etag"]
    again = await tv.get("/api/v1/portal/banner", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.headers["etag"] == tag and not again.content

    elsewhere = await admin.post(NOTICES, json={"region_id": shimen, "title": "石门", "body": "x"})
    assert elsewhere.status_code == 201
    assert (await tv.get("/api/v1/portal/banner", headers={"If-None-Match": tag})).status_code == 304

    made = await admin.post(
        "/api/v1/portal/notices", json={"region_id": qingxi, "urgent": True, "title": "清溪急", "body": "y"}
    )
    assert made.status_code == 201
    fresh = await tv.get("/api/v1/portal/banner", headers={"If-None-Match": tag})
    assert fresh.status_code == 200 and fresh.headers["etag"] != tag
    nid = made.json()["id"]
    assert nid in [n["id"] for n in fresh.json()["urgent"]]

    tag = fresh.headers["etag"]
    assert (await tv.post(f"/api/v1/portal/notices/{nid}/read")).status_code == 204
    after = await tv.get("/api/v1/portal/banner", headers={"If-None-Match": tag})
    assert after.status_code == 200 and nid not in [n["id"] for n in after.json()["urgent"]]
    # Another user's tag never matches this one's.
    other = await plogin("res-v05")
    assert (await other.get("/api/v1/portal/banner", headers={"If-None-Match": tag})).status_code == 200
    for n in (elsewhere.json()["id"], nid):
        assert (await admin.post(f"/api/v1/portal/notices/{n}/withdraw")).status_code == 200


async def test_hospital_messages_announced_after_commit_only(portal_app: Any) -> None:
    ctx: AppContext = portal_app.state.ctx
    hub = ctx.services.require(Hub)
    homes: list[int] = []

    def note(e: Event) -> str | None:
        if e.topic != hospital_push.TOPIC:
            return None
        homes.append(int(e.meta["household_id"]))
        return "m"

    heard = hub.subscribe(note)
    try:
        async with ctx.db.session() as session:
            home = (await session.scalars(select(Household.id).limit(1))).one()
            hospital_push.told(session, home)
            await session.rollback()
            hospital_push.told(session, home + 1)
            await session.commit()
        async with asyncio.timeout(WAIT):
            assert await heard.next() == "messages"
        assert homes == [home + 1]  # the rolled-back one was never announced
    finally:
        hub.unsubscribe(heard)
