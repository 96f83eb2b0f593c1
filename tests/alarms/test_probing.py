"""Issue 14 in the alarms routes: nothing answers about another household's alarm, another area's
button or another township's users, and no id or date from outside answers 500."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from tests.support.alarms import Login, ctx_of, new_uuid, principal

from xueliang.alarms import flows
from xueliang.alarms.config import AlarmSettings
from xueliang.alarms.models import AlarmKind
from xueliang.regions.models import Household

API = "/api/v1/alarms"
HUGE = 2**63


async def _household(app: FastAPI, username: str) -> Household:
    p = await principal(ctx_of(app).db, username)
    async with ctx_of(app).db.session() as s:
        household = await s.get(Household, p.household_id)
        assert household is not None
        return household


async def test_a_foreign_uuid_is_a_new_press_of_ones_own(alarm_app: FastAPI, alogin: Login) -> None:
    owner, stranger = await alogin("res-v01"), await alogin("res-v08")
    key = new_uuid()
    first = await owner.post(API, json={"uuid": key, "source": "tv"})
    assert first.status_code == 201, first.text
    theirs = first.json()["alarm"]
    op = await alogin("op-qingxi")  # the owner's alarm is acknowledged: its state must not leak
    assert (await op.post(f"{API}/{theirs['id']}/acknowledge")).status_code == 200

    probe = await stranger.post(API, json={"uuid": key, "source": "tv"})
    assert probe.status_code == 201, probe.text  # as for a new press: a new alarm of the stranger's own
    mine = probe.json()
    assert mine["created"] and not mine["duplicate"]
    assert mine["alarm"]["id"] != theirs["id"] and mine["alarm"]["state"] == "new"
    hh = await _household(alarm_app, "res-v08")
    shimen = await alogin("op-shimen")
    seen = (await shimen.get(f"{API}/{mine['alarm']['id']}")).json()
    assert seen["household_id"] == hh.id

    retry = await stranger.post(API, json={"uuid": key, "source": "tv"})  # the stranger's own retry
    assert retry.status_code == 200 and retry.json()["duplicate"]
    assert retry.json()["alarm"]["id"] == mine["alarm"]["id"]
    again = await owner.post(API, json={"uuid": key, "source": "tv"})  # and the owner's still works
    assert again.status_code == 200 and again.json()["duplicate"]
    assert again.json()["alarm"]["id"] == theirs["id"] and again.json()["alarm"]["state"] == "acknowledged"

    # staff raising with the uuid of an alarm outside their scope get their own alarm too
    staff = await shimen.post(API, json={"uuid": key, "source": "pc", "note": "probe"})
    assert staff.status_code == 201 and staff.json()["alarm"]["id"] not in (theirs["id"], mine["alarm"]["id"])


async def test_devices_are_registered_by_their_own_area(alarm_app: FastAPI, alogin: Login) -> None:
    admin, qingxi, shimen = await alogin("admin"), await alogin("op-qingxi"), await alogin("op-shimen")
    q_hh, s_hh = await _household(alarm_app, "res-v02"), await _household(alarm_app, "res-v07")

    async def register(c: httpx.AsyncClient, device_id: str, household_id: int) -> httpx.Response:
        return await c.post(f"{API}/devices", json={"device_id": device_id, "household_id": household_id})

    assert (await register(admin, "btn-p-q1", q_hh.id)).status_code == 201  # a county admin: any id
    elsewhere = await register(shimen, "btn-p-q1", s_hh.id)  # registered in Qingxi
    never_seen = await register(shimen, "btn-p-new", s_hh.id)
    assert elsewhere.status_code == never_seen.status_code == 404
    assert elsewhere.json() == never_seen.json(), "another area's button must answer like an unknown one"
    own = await register(qingxi, "btn-p-q1", q_hh.id)
    assert own.status_code == 422 and "already registered" in own.json()["message"]

    # an unregistered button that pressed in Shimen (household code) has Shimen as its area
    dp = flows.DevicePress("btn-p-s1", new_uuid(), AlarmKind.emergency, s_hh.code, None, None)
    await flows.raise_from_device(ctx_of(alarm_app), dp)
    taken = await register(qingxi, "btn-p-s1", q_hh.id)
    assert taken.status_code == 404 and taken.json() == never_seen.json()
    assert (await register(shimen, "btn-p-s1", s_hh.id)).status_code == 201
    assert "btn-p-s1" not in {d["device_id"] for d in (await qingxi.get(f"{API}/devices")).json()}


async def test_dispatch_only_to_users_of_the_alarms_area(alarm_app: FastAPI, alogin: Login) -> None:
    res, op = await alogin("res-v03"), await alogin("op-qingxi")
    alarm = (await res.post(API, json={"uuid": new_uuid(), "source": "tv"})).json()["alarm"]
    assert (await op.post(f"{API}/{alarm['id']}/acknowledge")).status_code == 200
    db = ctx_of(alarm_app).db
    shimen_worker, qingxi_worker = await principal(db, "gw-07"), await principal(db, "gw-03")

    async def dispatch(user_id: int) -> httpx.Response:
        return await op.post(f"{API}/{alarm['id']}/dispatch", json={"to": "patrol", "user_id": user_id})

    unknown = await dispatch(10**9)
    assert unknown.status_code == 422, unknown.text  # not a foreign key error and a 500
    out_of_scope = await dispatch(shimen_worker.user_id)
    assert out_of_scope.status_code == 422
    assert out_of_scope.json() == unknown.json(), "a user of another township must answer like no user"
    ok = await dispatch(qingxi_worker.user_id)
    assert ok.status_code == 200, ok.text
    assert ok.json()["dispatched_user_id"] == qingxi_worker.user_id


def _huge_requests(alarm_id: int, village_id: int) -> list[tuple[str, str, dict[str, Any] | None]]:
    point = {"kind": "exit", "name": "x", "lat": 31.6, "lon": 103.9}
    return [
        ("GET", f"{API}/{HUGE}", None),
        ("GET", f"{API}/{2**31}", None),  # the first id a PostgreSQL INTEGER column cannot hold
        ("POST", f"{API}/{2**31}/acknowledge", None),
        ("POST", f"{API}/{HUGE}/acknowledge", None),
        ("POST", f"{API}/{HUGE}/resolve", None),
        ("POST", f"{API}/{HUGE}/notes", {"note": "x"}),
        ("POST", f"{API}/{HUGE}/dispatch", {"to": "x"}),
        ("POST", f"{API}/{HUGE}/mobilize", None),
        ("GET", f"{API}/{HUGE}/mobilization", None),
        ("POST", f"{API}/{HUGE}/stand-down", None),
        ("POST", f"{API}/tasks/{HUGE}/in-position", None),
        ("GET", f"{API}/plans/{HUGE}", None),
        ("PUT", f"{API}/plans/{HUGE}", {"points": []}),
        ("GET", f"{API}/stations/{HUGE}/config", None),
        ("PUT", f"{API}/stations/{HUGE}/config", {"escalate_after_s": [60]}),
        ("GET", f"{API}?region_id={HUGE}", None),
        ("GET", f"{API}?station_region_id={HUGE}", None),
        ("GET", f"{API}?offset={HUGE}", None),
        ("GET", f"{API}?since=9999-01-01T00:00:00Z", None),
        ("GET", f"{API}/stats?station_region_id={HUGE}", None),
        ("GET", f"{API}/export.csv?region_id={HUGE}", None),
        ("GET", f"{API}/export.csv?until=0001-01-01T00:00:00Z", None),
        ("POST", API, {"uuid": new_uuid(), "household_id": HUGE}),
        ("POST", API, {"uuid": new_uuid(), "region_id": HUGE}),
        ("POST", API, {"uuid": new_uuid(), "pressed_at": "9999-12-31T00:00:00Z"}),
        ("POST", f"{API}/{alarm_id}/dispatch", {"to": "x", "user_id": HUGE}),
        ("POST", f"{API}/devices", {"device_id": "btn-huge", "household_id": HUGE}),
        ("POST", f"{API}/devices", {"device_id": "btn-huge", "region_id": HUGE}),
        ("PUT", f"{API}/plans/{village_id}", {"points": [{**point, "assignees": [HUGE]}]}),
        ("PUT", f"{API}/plans/{village_id}", {"points": [{**point, "place_id": HUGE}]}),
        ("PUT", f"{API}/plans/{village_id}", {"points": [{**point, "id": HUGE}]}),
    ]


async def test_huge_ids_and_far_dates_are_422(alarm_app: FastAPI, alogin: Login) -> None:
    res, admin = await alogin("res-v05"), await alogin("admin")
    alarm = (await res.post(API, json={"uuid": new_uuid(), "source": "tv"})).json()["alarm"]
    assert (await admin.post(f"{API}/{alarm['id']}/acknowledge")).status_code == 200
    village_id = (await principal(ctx_of(alarm_app).db, "duty-v01")).region_id
    failures = []
    for method, url, body in _huge_requests(alarm["id"], village_id):
        r = await admin.request(method, url, json=body)
        if r.status_code != 422 or r.json().get("code") != "invalid":
            failures.append((method, url, body, r.status_code, r.text[:200]))
    assert not failures, failures


def test_mqtt_client_id_is_unique_per_node(tmp_path: Path) -> None:
    a, b = tmp_path / "node-a", tmp_path / "node-b"
    first, again, other = (AlarmSettings().mqtt(d).client_id for d in (a, a, b))
    assert first == again, "stable: a restart resumes the node's persistent MQTT session"
    assert first != other, "two nodes on one broker must not knock each other off"
    assert first.startswith("xueliang-") and len(first) <= 23  # MQTT 3.1.1 servers must accept <= 23
    assert AlarmSettings(mqtt_client_id="county-1").mqtt(a).client_id == "county-1"
