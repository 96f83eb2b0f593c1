"""The hospital API end to end, and its access matrix: a resident books through a hold and sees only
their household's bookings and messages (another household's answer exactly like missing ones); a
grid worker's booking waits for the household's OK; staff act only on their own hospital, and
reading personal data is audited; the reminder the day before comes from a durable timer."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from tests.support.alarms import Login, principal, runner

from xueliang.audit.models import AuditEvent
from xueliang.core.clock import ManualClock
from xueliang.core.db import Database

from .conftest import CAPACITY, TODAY, World, make_id

API = "/api/v1/hospital"


def form(seq: int, **extra: object) -> dict[str, object]:
    return {"patient_name": "张秀兰", "id_number": make_id(seq, "19480515"), "phone": "13912345678", **extra}


async def audits(db: Database, action: str) -> int:
    async with db.read_session() as s:
        q = select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
        return int((await s.execute(q)).scalar_one())


async def test_resident_books_through_a_hold_and_is_reminded(
    happ: FastAPI, hlogin: Login, hdb: Database, world: World, clock: ManualClock
) -> None:
    res = await hlogin("res-v01")
    hospitals = (await res.get(f"{API}/hospitals")).json()
    assert [h["name"] for h in hospitals] == ["县人民医院", "县中医医院"]
    assert hospitals[0]["rules"]["booking_window_days"] == 7
    depts = (await res.get(f"{API}/hospitals/{world.hospitals['RMYY']}/departments")).json()
    nk = next(d for d in depts if d["code"] == "NK")
    assert len((await res.get(f"{API}/departments/{nk['id']}/doctors")).json()) == 3
    day = (TODAY + timedelta(days=5)).isoformat()
    sessions = (
        await res.get(f"{API}/departments/{nk['id']}/sessions", params={"from": day, "to": day})
    ).json()
    assert len(sessions) == 6 and all(s["free"] == CAPACITY and s["bookable"] for s in sessions)
    sid = world.sid("RMYY", "NK", 0, 5)
    hold = await res.post(f"{API}/holds", json={"session_id": sid, "number": 2})
    assert hold.status_code == 201, hold.text
    detail = (await res.get(f"{API}/sessions/{sid}")).json()
    assert [p["free"] for p in detail["places"]] == [True, False, True]
    assert detail["free"] == CAPACITY - 1

    r = await res.post(f"{API}/bookings", json=form(1, hold=hold.json()["token"]))
    assert r.status_code == 201, r.text
    b = r.json()
    assert (b["serial"], b["number"], b["state"], b["department_name"]) == ("A02", 2, "booked", "内科")
    assert b["id_masked"] == make_id(1, "19480515")[:3] + "*" * 11 + make_id(1, "19480515")[-4:]
    assert b["phone_masked"] == "139****5678"
    assert b["arrival_at"].startswith(f"{day}T00:10:00")  # 08:10 in the county, UTC in the API
    assert [x["id"] for x in (await res.get(f"{API}/bookings")).json()].count(b["id"]) == 1
    kinds = [m["kind"] for m in (await res.get(f"{API}/messages", params={"unread": True})).json()]
    assert kinds[0] == "booked"

    # The reminder: the day before at 09:00 local, from the durable timer runner.
    clock.advance((timedelta(days=4) - timedelta(hours=1)).total_seconds())  # day 4, 09:00 local
    assert await runner(happ).run_due() >= 1
    res = await hlogin("res-v01")  # the first login has expired meanwhile
    messages = (await res.get(f"{API}/messages")).json()
    assert messages[0]["kind"] == "reminder" and messages[0]["booking_id"] == b["id"]
    assert "A02" in messages[0]["body"]
    assert (await res.post(f"{API}/messages/{messages[0]['id']}/read")).status_code == 204

    # The cut-off is 17:00 today (the day before): cancelling still works now.
    r = await res.post(f"{API}/bookings/{b['id']}/cancel")
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    assert (await res.get(f"{API}/sessions/{sid}")).json()["free"] == CAPACITY


async def test_another_household_sees_nothing(hlogin: Login, hdb: Database, world: World) -> None:
    owner = await hlogin("res-v01")
    other = await hlogin("res-v02")
    b = (await owner.post(f"{API}/bookings", json=form(2, session_id=world.sid("RMYY", "GK", 0, 5)))).json()
    missing = await other.get(f"{API}/bookings/2147483647")
    for method, url in [
        ("GET", f"/bookings/{b['id']}"),
        ("POST", f"/bookings/{b['id']}/cancel"),
        ("POST", f"/bookings/{b['id']}/confirm"),
        ("POST", f"/bookings/{b['id']}/decline"),
    ]:
        r = await other.request(method, API + url)
        assert (r.status_code, r.json()) == (404, missing.json()), url
    assert b["id"] not in [x["id"] for x in (await other.get(f"{API}/bookings")).json()]
    theirs = (await owner.get(f"{API}/messages")).json()[0]
    assert (await other.post(f"{API}/messages/{theirs['id']}/read")).status_code == 404
    assert theirs["id"] not in [m["id"] for m in (await other.get(f"{API}/messages")).json()]
    # Booking for another household by naming it: as missing.
    p1 = await principal(hdb, "res-v01")
    r = await other.post(
        f"{API}/bookings",
        json=form(3, session_id=world.sid("RMYY", "GK", 1, 5), household_id=p1.household_id),
    )
    assert (r.status_code, r.json()["code"]) == (404, "not_found")


async def test_roles_that_may_not_book(hlogin: Login, world: World) -> None:
    sid = world.sid("RMYY", "GK", 2, 5)
    for user in ("admin", "auditor", "vol-v01-1", "op-qingxi", "hs-rmyy"):
        c = await hlogin(user)
        assert (await c.post(f"{API}/holds", json={"session_id": sid})).status_code == 403, user
        assert (await c.post(f"{API}/bookings", json=form(4, session_id=sid))).status_code == 403, user
        assert (await c.get(f"{API}/bookings")).json() == []
        assert (await c.get(f"{API}/hospitals")).status_code == 200
    res = await hlogin("res-v01")
    for url in ("/staff/hospitals", "/staff/sessions", "/staff/day"):
        assert (await res.get(API + url)).status_code == 403, url
    good = make_id(5, "19480515")
    wrong = good[:-1] + ("1" if good[-1] == "0" else "0")
    bad = await res.post(f"{API}/bookings", json=form(5, session_id=sid) | {"id_number": wrong})
    assert (bad.status_code, bad.json()["code"]) == (422, "id_check_digit")
    assert (await res.post(f"{API}/id-check", json={"id_number": "5132231948"})).json()["code"] == "id_format"


async def test_grid_worker_books_and_the_household_says_ok(
    hlogin: Login, hdb: Database, world: World
) -> None:
    household = (await principal(hdb, "res-v01")).household_id
    gw, far_gw, res = await hlogin("gw-01"), await hlogin("gw-02"), await hlogin("res-v01")
    sid = world.sid("ZYY", "ZJ", 0, 5)
    r = await far_gw.post(f"{API}/bookings", json=form(6, session_id=sid, household_id=household))
    assert r.status_code == 404  # not a household of their village
    r = await gw.post(f"{API}/bookings", json=form(6, session_id=sid, household_id=household))
    assert r.status_code == 201, r.text
    b = r.json()
    assert (b["state"], b["booked_by_grid_worker"]) == ("pending", True)
    assert (await res.get(f"{API}/messages")).json()[0]["kind"] == "pending_confirm"
    assert (await gw.post(f"{API}/bookings/{b['id']}/confirm")).status_code == 404  # only the household
    assert (await far_gw.get(f"{API}/bookings/{b['id']}")).status_code == 404
    reads = await audits(hdb, "hospital.booking.read")
    assert (await gw.get(f"{API}/bookings/{b['id']}")).json()["id_masked"].count("*") == 11
    assert await audits(hdb, "hospital.booking.read") == reads + 1  # a grid worker's read of others' data
    assert (await res.get(f"{API}/bookings")).status_code == 200  # the household reads its own: not audited
    assert await audits(hdb, "hospital.booking.read") == reads + 1
    r = await res.post(f"{API}/bookings/{b['id']}/confirm")
    assert (r.status_code, r.json()["state"]) == (200, "booked")
    assert (await gw.get(f"{API}/bookings/{b['id']}")).json()["state"] == "booked"


async def test_staff_only_their_hospital(hlogin: Login, hdb: Database, world: World) -> None:
    res = await hlogin("res-v01")
    sid = world.sid("RMYY", "NK", 1, 6)
    b = (await res.post(f"{API}/bookings", json=form(7, session_id=sid))).json()
    rm, zy, admin = await hlogin("hs-rmyy"), await hlogin("hs-zyy"), await hlogin("admin")
    assert [h["code"] for h in (await rm.get(f"{API}/staff/hospitals")).json()] == ["RMYY"]
    assert len((await admin.get(f"{API}/staff/hospitals")).json()) == 2
    missing = (await zy.get(f"{API}/staff/bookings/2147483647/personal")).json()
    rmyy = world.hospitals["RMYY"]
    day = (TODAY + timedelta(days=6)).isoformat()
    for method, url in [
        ("GET", f"/staff/bookings/{b['id']}/personal"),
        ("POST", f"/staff/bookings/{b['id']}/attended"),
        ("POST", f"/staff/bookings/{b['id']}/no-show"),
        ("POST", f"/staff/sessions/{sid}/stop"),
        ("GET", f"/staff/day?hospital_id={rmyy}&day={day}"),
        ("GET", f"/staff/sessions?hospital_id={rmyy}&day={day}"),
    ]:
        r = await zy.request(method, API + url, json={} if method == "POST" else None)
        assert r.status_code == 404, (url, r.text)
        if "bookings" in url:
            assert r.json() == missing
    before = await audits(hdb, "hospital.booking.personal")
    r = await rm.get(f"{API}/staff/bookings/{b['id']}/personal")
    assert r.json()["id_number"] == make_id(7, "19480515")
    assert await audits(hdb, "hospital.booking.personal") == before + 1
    listed = before_list = await audits(hdb, "hospital.day_list")
    rows = (await rm.get(f"{API}/staff/day", params={"day": day})).json()
    assert [x["id"] for x in rows] == [b["id"]] and rows[0]["id_masked"].count("*") == 11
    assert await audits(hdb, "hospital.day_list") == listed + 1 == before_list + 1
    # Attendance is marked on the day, not before.
    r = await rm.post(f"{API}/staff/bookings/{b['id']}/attended")
    assert (r.status_code, r.json()["code"]) == (422, "not_yet")


async def test_stopped_session_moves_bookings_and_tells_the_household(hlogin: Login, world: World) -> None:
    res, rm = await hlogin("res-v01"), await hlogin("hs-rmyy")
    sid = world.sid("RMYY", "GK", 2, 7)
    b = (await res.post(f"{API}/bookings", json=form(8, session_id=sid))).json()
    r = await rm.post(f"{API}/staff/sessions/{sid}/stop", json={"reason": "外出会诊", "move": True})
    assert r.status_code == 200, r.text
    assert (r.json()["moved"], r.json()["cancelled"], r.json()["session"]["stopped"]) == (1, 0, True)
    old = (await res.get(f"{API}/bookings/{b['id']}")).json()
    assert old["state"] == "moved" and old["moved_to_id"]
    new = (await res.get(f"{API}/bookings/{old['moved_to_id']}")).json()
    assert (new["state"], new["day"], new["period"], new["department_id"]) == (
        "booked",
        old["day"],
        "morning",
        old["department_id"],
    )
    assert new["doctor_id"] != old["doctor_id"]
    assert (await res.get(f"{API}/messages")).json()[0]["kind"] == "moved"
    assert (await res.post(f"{API}/holds", json={"session_id": sid})).json()["code"] == "session_stopped"
    # Staff set up a new session: numbered places, bookable at once.
    doctors = (await rm.get(f"{API}/departments/{old['department_id']}/doctors")).json()
    day = (TODAY + timedelta(days=7)).isoformat()
    body = {"doctor_id": doctors[2]["id"], "day": day, "period": "afternoon", "capacity": 5}
    assert (await rm.post(f"{API}/staff/sessions", json=body)).status_code == 409  # it exists
    body["day"] = (TODAY + timedelta(days=6)).isoformat()
    body["doctor_id"] = doctors[0]["id"]
    zy = await hlogin("hs-zyy")
    assert (await zy.post(f"{API}/staff/sessions", json=body)).status_code == 404
    r = await rm.post(f"{API}/staff/sessions", json=body | {"day": (TODAY + timedelta(days=12)).isoformat()})
    assert r.status_code == 201, r.text
    assert (r.json()["capacity"], r.json()["free"], r.json()["bookable"]) == (
        5,
        5,
        False,
    )  # beyond the window
    # A timetable at once: 2 doctors x 2 days x 2 periods; again, all of it exists already.
    plan = {
        "doctor_ids": [doctors[1]["id"], doctors[2]["id"]],
        "from": (TODAY + timedelta(days=10)).isoformat(),
        "to": (TODAY + timedelta(days=11)).isoformat(),
        "capacity": 4,
    }
    assert (await rm.post(f"{API}/staff/schedule", json=plan)).json() == {"created": 8, "skipped": 0}
    assert (await rm.post(f"{API}/staff/schedule", json=plan)).json() == {"created": 0, "skipped": 8}
    assert (await zy.post(f"{API}/staff/schedule", json=plan)).status_code == 404


async def test_unconfirmed_booking_lapses_and_frees_its_place(
    happ: FastAPI, hlogin: Login, hdb: Database, world: World, clock: ManualClock
) -> None:
    household = (await principal(hdb, "res-v01")).household_id
    gw = await hlogin("gw-01")
    sid = world.sid("ZYY", "ZJ", 1, 6)
    missing = await gw.post(f"{API}/bookings", json=form(9, session_id=2147483647, household_id=household))
    assert (missing.status_code, missing.json()["code"]) == (404, "not_found")
    b = (await gw.post(f"{API}/bookings", json=form(9, session_id=sid, household_id=household))).json()
    assert b["state"] == "pending"
    clock.advance(timedelta(hours=23, minutes=59).total_seconds())
    await runner(happ).run_due()
    gw = await hlogin("gw-01")  # logins do not last a day
    assert (await gw.get(f"{API}/bookings/{b['id']}")).json()["state"] == "pending"
    clock.advance(60)
    await runner(happ).run_due()
    gw = await hlogin("gw-01")
    assert (await gw.get(f"{API}/bookings/{b['id']}")).json()["state"] == "cancelled"
    assert (await gw.get(f"{API}/sessions/{sid}")).json()["free"] == CAPACITY
    res = await hlogin("res-v01")
    assert (await res.get(f"{API}/messages")).json()[0]["kind"] == "cancelled"


async def test_every_route_needs_a_login_and_staff_routes_need_staff(happ: FastAPI, hlogin: Login) -> None:
    paths = happ.openapi()["paths"]
    routes = [
        (method.upper(), re.sub(r"\{(token|\w+_id)\}", lambda m: "x" if m[1] == "token" else "1", path))
        for path, ops in paths.items()
        if path.startswith(API)
        for method in ops
    ]
    assert len(routes) >= 25
    transport = httpx.ASGITransport(app=happ, client=("127.0.0.1", 50003))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as anon:
        for method, path in routes:
            r = await anon.request(method, path, json={})
            assert (r.status_code, r.json()["code"]) == (401, "not_logged_in"), (method, path)
    for user in ("auditor", "gw-01", "res-v01"):
        c = await hlogin(user)
        for method, path in routes:
            if "/staff/" in path:
                r = await c.request(
                    method,
                    path,
                    json={
                        "doctor_id": 1,
                        "day": "2030-03-05",
                        "period": "morning",
                        "capacity": 1,
                        "user_id": 1,
                        "hospital_id": 1,
                        "doctor_ids": [1],
                        "from": "2030-03-05",
                        "to": "2030-03-05",
                    },
                )
                assert r.status_code == 403, (user, method, path, r.text)
