"""Every privacy route × role × in/out of scope. Expectations come from the seed data (which camera
lies where, who is bound where), not from the policy: out of scope answers exactly like missing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from tests.support.alarms import Login
from xueliang.core.clock import ManualClock

ROLES = ("admin", "op-qingxi", "op-shimen", "duty-v01", "res-v01", "auditor")
MISSING = 999_999


async def call(client: httpx.AsyncClient, method: str, path: str, body: Any = None) -> httpx.Response:
    return await client.request(method, path, json=body)


async def test_privacy_routes_policy_matrix(papp: FastAPI, plogin: Login, clock: ManualClock) -> None:
    c = {name: await plogin(name) for name in ROLES}
    # The seed: res-v01 sees the public cameras of village 1 (上坪村, township 清溪); op-qingxi the township.
    public = (await c["res-v01"].get("/api/v1/cameras")).json()[0]["id"]
    assert public in [x["id"] for x in (await c["op-qingxi"].get("/api/v1/cameras")).json()]
    assert public not in [x["id"] for x in (await c["op-shimen"].get("/api/v1/cameras")).json()]
    end = clock.now() - timedelta(minutes=5)
    rng = {"from": (end - timedelta(hours=1)).isoformat(), "to": end.isoformat()}
    masks = {"masks": [{"label": "", "points": [[0.6, 0.6], [0.9, 0.6], [0.9, 0.9]]}]}

    # Status per role, in the order of ROLES: admin, op-qingxi, op-shimen, duty-v01, res-v01, auditor.
    camera_routes: list[tuple[str, str, Any, tuple[int, ...]]] = [
        ("GET", "masks", None, (200, 200, 404, 403, 403, 404)),
        ("PUT", "masks", masks, (200, 200, 404, 403, 403, 404)),
        ("GET", "privacy", None, (200, 200, 404, 200, 200, 404)),
        ("PUT", "privacy", {"contact": "清溪派出所 0838-1234567"}, (200, 404, 404, 404, 404, 404)),
    ]
    for method, what, body, codes in camera_routes:
        for role, status in zip(ROLES, codes, strict=True):
            r = await call(c[role], method, f"/api/v1/cameras/{public}/{what}", body)
            assert r.status_code == status, (method, what, role, r.text)
            if status == 404:
                missing = await call(c[role], method, f"/api/v1/cameras/{MISSING}/{what}", body)
                assert (missing.status_code, missing.json()) == (404, r.json()), (method, what, role)

    # Playback of the (now masked) camera: masked for whoever sees its recordings, missing for the rest;
    # the masked routes take only the token that answer carries.
    played = (200, 200, 404, 200, 404, 404)
    for role, status in zip(ROLES, played, strict=True):
        r = await c[role].post("/api/v1/recordings/playback", json={"camera_id": public, **rng})
        assert r.status_code == status and (status != 200 or r.json()["masked"] is True), (role, r.text)
        if status == 200:
            plan = await c[role].get(r.json()["plan"])
            assert plan.status_code == 200 and plan.json()["masked"] is True, (role, plan.text)
    forged = await c["op-qingxi"].get(
        f"/api/v1/playback/masked/{public}/plan.json", params={**rng, "token": "x.y"}
    )
    assert forged.status_code == 404

    ask = {"camera_id": public, "action": "playback", **rng, "reason": "matrix"}
    asked = {
        "admin": 201,
        "op-qingxi": 201,
        "op-shimen": 404,
        "duty-v01": 201,
        "res-v01": 404,
        "auditor": 404,
    }
    for role, status in asked.items():
        r = await c[role].post("/api/v1/recordings/approvals", json=ask)
        assert r.status_code == status, (role, r.text)
    # Reading and deciding a duty officer's request: approvers in scope; the requester may read, not decide.
    reads = {
        "admin": 200,
        "op-qingxi": 200,
        "op-shimen": 404,
        "duty-v01": 200,
        "res-v01": 404,
        "auditor": 404,
    }
    decides = {
        "admin": 200,
        "op-qingxi": 200,
        "op-shimen": 404,
        "duty-v01": 403,
        "res-v01": 404,
        "auditor": 404,
    }
    for role in ROLES:
        request = (await c["duty-v01"].post("/api/v1/recordings/approvals", json=ask)).json()["id"]
        r = await c[role].get(f"/api/v1/recordings/approvals/{request}")
        assert r.status_code == reads[role], (role, r.text)
        d = await c[role].post(
            f"/api/v1/recordings/approvals/{request}/decision", json={"approve": True, "reason": "matrix"}
        )
        assert d.status_code == decides[role], (role, d.text)
        if reads[role] == 404:
            missing = await c[role].get(f"/api/v1/recordings/approvals/{MISSING}")
            assert (missing.status_code, missing.json()) == (404, r.json())
        listing = await c[role].get("/api/v1/recordings/approvals")
        if role in ("res-v01", "auditor"):  # they never see recordings: 404 as every recording route
            assert listing.status_code == 404, (role, listing.text)
            continue
        listed = {a["id"] for a in listing.json()}
        assert (request in listed) == (reads[role] == 200), role
