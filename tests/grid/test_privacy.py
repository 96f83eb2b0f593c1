"""Every role x every grid route: who reaches the care registry, routes, incidents, photos and tours.

Expectations come from the demo county's own data (who is the grid worker of which village, which
township a village lies in, who reported an incident), written out here by hand, not from the policy
module, so a policy bug cannot hide behind itself. Out of reach answers exactly like a missing object
(404, same body). Every read of a care person, alone or in a list, is audited. A last test checks that
no route of the grid router escaped this matrix."""

from __future__ import annotations

import io
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from PIL import Image
from sqlalchemy import select
from tests.grid.conftest import local
from tests.support.alarms import Login, ctx_of

from xueliang.accounts.models import User
from xueliang.audit.models import AuditEvent
from xueliang.grid.models import CarePerson, Incident, IncidentState, PatrolRoute, PatrolTour
from xueliang.grid.views import router
from xueliang.regions.models import Region

API = "/api/v1/grid"
V1, V2, QINGXI, SHIMEN = "513223101201", "513223101202", "513223101", "513223102"
USERS = [
    "admin",
    "auditor",
    "op-qingxi",
    "op-shimen",
    "duty-v01",
    "duty-v02",
    "gw-01",
    "gw-02",
    "vol-v01-1",
    "res-v01",
]
# Objects are in village 1 (上坪村, Qingxi township), its grid worker gw-01, who reported the incident.
READ_V1 = {"admin", "op-qingxi", "duty-v01", "gw-01"}
MANAGE_V1 = {"admin", "op-qingxi", "duty-v01"}
MANAGE_QINGXI = {"admin", "op-qingxi"}  # the Qingxi station's tour: the township, not a village's officer
PATROL = {"admin", "gw-01", "gw-02"}
STAFF = {"admin", "op-qingxi", "op-shimen", "duty-v01", "duty-v02"}
REPORTERS = STAFF | {"gw-01", "gw-02"}
# where each user's reach in the registry lies: a region code prefix, or the worker whose people they are
CARE_REACH: dict[str, tuple[str, str | None]] = {
    "admin": ("513223", None),
    "op-qingxi": (QINGXI, None),
    "op-shimen": (SHIMEN, None),
    "duty-v01": (V1, None),
    "duty-v02": (V2, None),
    "gw-01": ("513223", "gw-01"),
    "gw-02": ("513223", "gw-02"),
}


@dataclass
class Facts:
    person: int
    person_body: dict[str, Any]
    route: int
    route_body: dict[str, Any]
    checkpoint: dict[str, Any]
    incident: int
    photo: int
    tour: int
    tour_body: dict[str, Any]
    tour_run: int
    camera: int
    village: int
    township: int
    # from the seed: (village code, worker username) of each care person and route; incidents' people
    people: dict[int, tuple[str, str]]
    routes: dict[int, tuple[str, str]]
    incidents: dict[int, tuple[str, str, str]]  # code, reporter, assignee
    tours: dict[int, str]


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), "green").save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture
async def facts(gapp: FastAPI, glogin: Login) -> Facts:
    async with ctx_of(gapp).db.read_session() as s:
        codes = {r.id: r.code for r in (await s.scalars(select(Region))).all()}
        names = {u.id: u.username for u in (await s.scalars(select(User))).all()}
        people = {
            p.id: (codes[p.region_id], names[p.worker_id or 0])
            for p in (await s.scalars(select(CarePerson).where(CarePerson.active.is_(True)))).all()
        }
        routes = {
            r.id: (codes[r.region_id], names[r.worker_id or 0])
            for r in (await s.scalars(select(PatrolRoute).where(PatrolRoute.active.is_(True)))).all()
        }
        incidents = {
            i.id: (codes[i.region_id], names.get(i.reporter_id or 0, ""), names.get(i.assignee_id or 0, ""))
            for i in (await s.scalars(select(Incident))).all()
        }
        tours = {t.id: codes[t.region_id] for t in (await s.scalars(select(PatrolTour))).all()}
        reported = (
            await s.scalars(
                select(Incident.id)
                .join(Region, Region.id == Incident.region_id)
                .where(Region.code == V1, Incident.state == IncidentState.reported)
            )
        ).first()
        village = (await s.scalars(select(Region.id).where(Region.code == V1))).one()
        township = (await s.scalars(select(Region.id).where(Region.code == QINGXI))).one()
    admin = await glogin("admin")
    person = min(pid for pid, (code, _) in people.items() if code == V1)
    p = (await admin.get(f"{API}/care/{person}")).json()
    route = min(rid for rid, (code, _) in routes.items() if code == V1)
    r = (await admin.get(f"{API}/routes/{route}")).json()
    assert reported is not None
    photo = await admin.post(
        f"{API}/incidents/{reported}/photos", files={"file": ("p.png", png(), "image/png")}
    )
    tour = next(tid for tid, code in tours.items() if code == QINGXI)
    t = (await admin.get(f"{API}/tours/{tour}")).json()
    run = (await admin.post(f"{API}/tours/{tour}/runs", json={})).json()
    return Facts(
        person=person,
        person_body={k: p[k] for k in ("kind", "name", "birth_year", "region_id", "address", "worker_id")},
        route=route,
        route_body={
            "region_id": r["region_id"],
            "name": r["name"],
            "line": r["line"],
            "days": r["days"],
            "worker_id": r["worker_id"],
            "checkpoints": [{k: c[k] for k in ("id", "name", "lat", "lon")} for c in r["checkpoints"]],
        },
        checkpoint=r["checkpoints"][0],
        incident=reported,
        photo=photo.json()["id"],
        tour=tour,
        tour_body={"region_id": t["region_id"], "name": t["name"], "steps": t["steps"], "times": t["times"]},
        tour_run=run["id"],
        camera=t["steps"][0]["camera_id"],
        village=village,
        township=township,
        people=people,
        routes=routes,
        incidents=incidents,
        tours=tours,
    )


def reach(user: str, things: dict[int, tuple[str, str]]) -> set[int]:
    if user not in CARE_REACH:
        return set()
    prefix, worker = CARE_REACH[user]
    return {
        i for i, (code, w) in things.items() if code.startswith(prefix) and (worker is None or w == worker)
    }


MISSING = {"code": "not_found"}


def denied(r: httpx.Response) -> None:
    assert r.status_code == 404, r.text
    assert r.json()["code"] == "not_found"


async def test_lists(glogin: Login, facts: Facts, gapp: FastAPI) -> None:
    for user in USERS:  # one app for all users: a loop, not parameters
        await lists_of(user, await glogin(user), facts, gapp)


async def lists_of(user: str, c: httpx.AsyncClient, facts: Facts, gapp: FastAPI) -> None:
    care = await c.get(f"{API}/care")
    if user in CARE_REACH:
        assert care.status_code == 200
        assert {p["id"] for p in care.json()} == reach(user, facts.people)
        assert reach(user, facts.people), "every reader reaches someone in the demo county"
        assert await last_audit(gapp, user) == ("grid.care.list", sorted(reach(user, facts.people)))
    else:
        assert care.status_code == 403 and care.json()["code"] == "forbidden"

    routes = await c.get(f"{API}/routes")
    if user in CARE_REACH:  # the same reach: the village's routes, or a worker's own
        assert {r["id"] for r in routes.json()} == reach(user, facts.routes)
    else:
        assert routes.status_code == 403

    incidents = await c.get(f"{API}/incidents")
    if user in REPORTERS:
        prefix = CARE_REACH[user][0] if user in STAFF else None
        expected = {
            i
            for i, (code, reporter, assignee) in facts.incidents.items()
            if (prefix is not None and code.startswith(prefix)) or user in (reporter, assignee)
        }
        assert {i["id"] for i in incidents.json()} == expected
    else:
        assert incidents.status_code == 403

    tours = await c.get(f"{API}/tours")
    if user in STAFF:
        prefix = CARE_REACH[user][0]
        assert {t["id"] for t in tours.json()} == {
            t for t, code in facts.tours.items() if code.startswith(prefix)
        }
    else:
        assert tours.status_code == 403

    for path in ("/board", "/stats", "/stats.csv"):
        r = await c.get(f"{API}{path}")
        assert r.status_code == (200 if user in STAFF else 403), (user, path)
    today = await c.get(f"{API}/today")
    assert today.status_code == (200 if user in PATROL else 403)
    sync = await c.post(f"{API}/sync", json={"items": []})
    assert sync.status_code == (200 if user in REPORTERS else 403)
    ok = await c.get(f"{API}/ok")
    assert ok.status_code == 200 and ok.json()["enabled"] is (user == "res-v01")


async def last_audit(app: FastAPI, user: str) -> tuple[str, list[int]]:
    async with ctx_of(app).db.read_session() as s:
        ev = (
            await s.scalars(
                select(AuditEvent).where(AuditEvent.actor == user).order_by(AuditEvent.seq.desc()).limit(1)
            )
        ).one()
    return ev.action, sorted(ev.detail.get("ids", []))


Call = Callable[[httpx.AsyncClient, Facts], Awaitable[httpx.Response]]


def new_uuid() -> str:
    return str(uuid.uuid4())


# (method, path template, call, who gets through, the status they get); the rest get 404.
OBJECT_ROUTES: list[tuple[str, str, Call, set[str], int]] = [
    ("GET", "/care/{person_id}", lambda c, f: c.get(f"{API}/care/{f.person}"), READ_V1, 200),
    (
        "PUT",
        "/care/{person_id}",
        lambda c, f: c.put(f"{API}/care/{f.person}", json=f.person_body),
        MANAGE_V1,
        200,
    ),
    ("GET", "/routes/{route_id}", lambda c, f: c.get(f"{API}/routes/{f.route}"), READ_V1, 200),
    (
        "PUT",
        "/routes/{route_id}",
        lambda c, f: c.put(f"{API}/routes/{f.route}", json=f.route_body),
        MANAGE_V1,
        200,
    ),
    ("GET", "/routes/{route_id}/qr.png", lambda c, f: c.get(f"{API}/routes/{f.route}/qr.png"), READ_V1, 200),
    ("GET", "/incidents/{incident_id}", lambda c, f: c.get(f"{API}/incidents/{f.incident}"), READ_V1, 200),
    (
        "POST",
        "/incidents/{incident_id}/transition",
        lambda c, f: c.post(f"{API}/incidents/{f.incident}/transition", json={"to": "checked"}),
        MANAGE_V1,
        409,  # reached, but a reported incident cannot be checked yet
    ),
    (
        "POST",
        "/incidents/{incident_id}/photos",
        lambda c, f: c.post(
            f"{API}/incidents/{f.incident}/photos", files={"file": ("x.jpg", b"no", "image/jpeg")}
        ),
        READ_V1,
        400,  # reached, but not an image
    ),
    (
        "GET",
        "/incidents/{incident_id}/photos/{photo_id}",
        lambda c, f: c.get(f"{API}/incidents/{f.incident}/photos/{f.photo}"),
        READ_V1,
        200,
    ),
    (
        "GET",
        "/coverage",
        lambda c, f: c.get(f"{API}/coverage", params={"region_id": f.village}),
        MANAGE_V1,
        200,
    ),
    ("GET", "/tours/{tour_id}", lambda c, f: c.get(f"{API}/tours/{f.tour}"), MANAGE_QINGXI, 200),
    (
        "PUT",
        "/tours/{tour_id}",
        lambda c, f: c.put(f"{API}/tours/{f.tour}", json=f.tour_body),
        MANAGE_QINGXI,
        200,
    ),
    (
        "POST",
        "/tours/{tour_id}/runs",
        lambda c, f: c.post(f"{API}/tours/{f.tour}/runs", json={}),
        MANAGE_QINGXI,
        201,
    ),
    ("GET", "/tour-runs/{run_id}", lambda c, f: c.get(f"{API}/tour-runs/{f.tour_run}"), MANAGE_QINGXI, 200),
    (
        "POST",
        "/tour-runs/{run_id}/marks",
        lambda c, f: c.post(
            f"{API}/tour-runs/{f.tour_run}/marks", json={"camera_id": f.camera, "mark": "normal"}
        ),
        MANAGE_QINGXI,
        200,
    ),
    (
        "POST",
        "/tour-runs/{run_id}/{state}",
        lambda c, f: c.post(f"{API}/tour-runs/{f.tour_run}/running"),
        MANAGE_QINGXI,
        409,  # reached, but already running
    ),
    (
        "POST",
        "/checkins",
        lambda c, f: c.post(
            f"{API}/checkins",
            json={
                "uuid": new_uuid(),
                "checkpoint_id": f.checkpoint["id"],
                "at": local().isoformat(),
                "lat": f.checkpoint["lat"],
                "lon": f.checkpoint["lon"],
            },
        ),
        {"gw-01"},
        201,
    ),
    (
        "POST",
        "/visits",
        lambda c, f: c.post(
            f"{API}/visits",
            json={"uuid": new_uuid(), "person_id": f.person, "at": local().isoformat(), "outcome": "seen"},
        ),
        {"gw-01"},
        201,
    ),
]


async def test_object_routes(glogin: Login, facts: Facts, gapp: FastAPI) -> None:
    for user in USERS:
        await object_routes_of(user, await glogin(user), facts, gapp)


async def object_routes_of(user: str, c: httpx.AsyncClient, facts: Facts, gapp: FastAPI) -> None:
    missing = (await c.get(f"{API}/care/{2**31 - 1}")).json()
    for method, path, call, allowed, status in OBJECT_ROUTES:
        r = await call(c, facts)
        if user in allowed:
            assert r.status_code == status, (user, method, path, r.text)
        elif user == "gw-01" and path == "/incidents/{incident_id}/transition":
            assert r.status_code == 403  # its reporter sees it but does not move it: nothing to hide
        else:
            assert r.status_code == 404, (user, method, path, r.text)
            assert r.json()["code"] == "not_found" and set(r.json()) == set(missing)
        if path == "/care/{person_id}" and method == "GET" and user in allowed:
            assert await last_audit(gapp, user) == ("grid.care.read", [facts.person])
        if path == "/coverage" and user in allowed:
            body = r.json()
            assert body["region_id"] == facts.village and 0 < body["either"]["area_pct"] <= 100
            assert body["routes"]["area_pct"] > 0  # the village's patrol route counts
            assert (await last_audit(gapp, user))[0] == "grid.coverage.view"


async def test_creates_and_deletes(glogin: Login, facts: Facts) -> None:
    """The collection routes that make things: staff of the place make them; others are refused, 403
    for a role that may not at all, 404 for a place out of their reach; and deleting routes."""
    bodies: dict[str, Callable[[], dict[str, Any]]] = {
        "/care": lambda: facts.person_body | {"name": "新登记"},
        "/routes": lambda: (
            facts.route_body
            | {"checkpoints": [{k: v for k, v in facts.route_body["checkpoints"][0].items() if k != "id"}]}
        ),
        "/tours": lambda: facts.tour_body | {"name": "夜间巡点"},
        "/incidents": lambda: {
            "uuid": new_uuid(),
            "category": "other",
            "at": local().isoformat(),
            "region_id": facts.village,
        },
    }
    reach = {"/care": MANAGE_V1, "/routes": MANAGE_V1, "/tours": MANAGE_QINGXI, "/incidents": READ_V1}
    may_at_all = {"/care": STAFF, "/routes": STAFF, "/tours": STAFF, "/incidents": REPORTERS}
    made_routes: dict[str, int] = {}
    for user in USERS:
        c = await glogin(user)
        for path, body in bodies.items():
            r = await c.post(f"{API}{path}", json=body())
            if user in reach[path]:
                assert r.status_code == 201, (user, path, r.text)
                if path == "/routes":
                    made_routes[user] = r.json()["id"]
            elif user in may_at_all[path]:
                denied(r)
            else:
                assert r.status_code == 403 and r.json()["code"] == "forbidden", (user, path, r.text)
        ok = await c.post(f"{API}/ok")
        if user == "res-v01":
            assert ok.status_code == 200 and ok.json()["answered"] is True
        else:
            denied(ok)
    victim = made_routes["admin"]
    for user in USERS:
        c = await glogin(user)
        if user in MANAGE_V1:
            assert (await c.delete(f"{API}/routes/{made_routes[user]}")).status_code == 204
        else:
            denied(await c.delete(f"{API}/routes/{victim}"))


def test_every_grid_route_is_in_the_matrix() -> None:
    covered = {(m, p) for m, p, *_ in OBJECT_ROUTES} | {
        ("GET", p) for p in ("/care", "/routes", "/incidents", "/tours", "/board", "/stats", "/stats.csv")
    }
    covered |= {("GET", "/today"), ("POST", "/sync"), ("GET", "/ok"), ("POST", "/ok")}
    covered |= {("POST", p) for p in ("/care", "/routes", "/tours", "/incidents")}
    covered |= {("DELETE", "/routes/{route_id}")}
    covered |= {
        ("GET", "/basemap"),
        ("GET", "/tiles/{z}/{x}/{y}.png"),
    }  # by role: tests/grid/test_tiles.py
    routes = {
        (method, route.path.removeprefix("/grid"))
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    assert routes - covered == set(), "a grid route no policy test covers"
