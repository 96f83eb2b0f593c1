"""The two-person rule: playback and export of a masked camera, and export from a sensitive one, need
a request approved by a second authorised user; self-approval is refused, a grant is bound to its
requester, camera, action and range, and expires. Every step is on the audit trail."""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
from fastapi import FastAPI

from tests.support.alarms import Login
from xueliang.core.clock import ManualClock

MASK = {"masks": [{"label": "窗户", "points": [[0.1, 0.1], [0.3, 0.1], [0.3, 0.3]]}]}


def span(clock: ManualClock, hours: float = 1) -> dict[str, str]:
    end = clock.now() - timedelta(minutes=5)
    return {"from": (end - timedelta(hours=hours)).isoformat(), "to": end.isoformat()}


async def qingxi_cameras(op: httpx.AsyncClient) -> list[int]:
    return [c["id"] for c in (await op.get("/api/v1/cameras")).json()]


async def ask(client: httpx.AsyncClient, camera_id: int, action: str, rng: dict[str, str]) -> httpx.Response:
    body = {"camera_id": camera_id, "action": action, **rng, "reason": "盗窃案取证 / theft case 2030-17"}
    return await client.post("/api/v1/recordings/approvals", json=body)


async def test_lifting_a_mask_on_playback_needs_a_second_person(
    papp: FastAPI, plogin: Login, clock: ManualClock
) -> None:
    admin, op, duty = await plogin("admin"), await plogin("op-qingxi"), await plogin("duty-v01")
    camera = (await qingxi_cameras(op))[0]
    assert (await admin.put(f"/api/v1/cameras/{camera}/masks", json=MASK)).status_code == 200
    rng = span(clock)
    playback = {"camera_id": camera, **rng}

    masked = await op.post("/api/v1/recordings/playback", json=playback)  # no lift: masked playback
    assert masked.status_code == 200 and masked.json()["masked"] is True, masked.text
    assert masked.json()["plan"].startswith(f"/api/v1/playback/masked/{camera}/plan.json?")

    asked = await ask(op, camera, "playback", rng)
    assert asked.status_code == 201, asked.text
    approval = asked.json()
    assert approval["state"] == "pending" and approval["mine"] is True
    pending = await op.post("/api/v1/recordings/playback", json={**playback, "approval": approval["id"]})
    assert pending.status_code == 403 and pending.json()["code"] == "approval_invalid"

    own = await op.post(
        f"/api/v1/recordings/approvals/{approval['id']}/decision", json={"approve": True, "reason": "ok"}
    )
    assert own.status_code == 403 and own.json()["code"] == "four_eyes"
    # A duty officer may ask but not decide (he does not even see others' requests).
    assert (
        await duty.post(
            f"/api/v1/recordings/approvals/{approval['id']}/decision", json={"approve": True, "reason": "x"}
        )
    ).status_code == 404

    decided = await admin.post(
        f"/api/v1/recordings/approvals/{approval['id']}/decision",
        json={"approve": True, "reason": "案情需要"},
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["state"] == "approved" and decided.json()["decided_by"] == "admin"
    again = await admin.post(
        f"/api/v1/recordings/approvals/{approval['id']}/decision", json={"approve": False, "reason": "no"}
    )
    assert again.status_code == 409

    granted = await op.post("/api/v1/recordings/playback", json={**playback, "approval": approval["id"]})
    assert granted.status_code == 200, granted.text
    assert granted.json()["hls"].startswith(f"/api/v1/playback/{camera}/index.m3u8?")
    assert granted.json()["masked"] is False
    # Bound to requester, camera and range.
    wider = {**playback, "from": (datetime.fromisoformat(rng["from"]) - timedelta(hours=1)).isoformat()}
    outside = await op.post("/api/v1/recordings/playback", json={**wider, "approval": approval["id"]})
    assert outside.status_code == 403 and outside.json()["code"] == "approval_invalid"
    borrowed = await admin.post("/api/v1/recordings/playback", json={**playback, "approval": approval["id"]})
    assert borrowed.status_code == 404
    other = (await qingxi_cameras(op))[1]
    assert (await admin.put(f"/api/v1/cameras/{other}/masks", json=MASK)).status_code == 200
    wrong = await op.post(
        "/api/v1/recordings/playback", json={"camera_id": other, **rng, "approval": approval["id"]}
    )
    assert wrong.status_code == 403 and wrong.json()["code"] == "approval_invalid"

    # Grants expire, and so does what a token opened with one serves (even within the token's life).
    clock.advance(4 * 3600 - 10)
    late = await op.post("/api/v1/recordings/playback", json={**playback, "approval": approval["id"]})
    assert late.status_code == 200 and (await op.get(late.json()["plan"])).status_code == 200
    clock.advance(11)
    gone = await op.get(late.json()["plan"])
    assert gone.status_code == 404 and "expired" in gone.json()["message"], gone.text
    expired = await op.post("/api/v1/recordings/playback", json={**playback, "approval": approval["id"]})
    assert expired.status_code == 403 and "expired" in expired.json()["message"]
    listed = {a["id"]: a for a in (await op.get("/api/v1/recordings/approvals")).json()}
    assert listed[approval["id"]]["state"] == "expired"

    trail = (await admin.get("/api/v1/audit", params={"limit": 50})).json()
    actions = [(e["action"], e["actor"]) for e in trail if e["action"].startswith("privacy.")]
    assert ("privacy.request", "op-qingxi") in actions
    assert ("privacy.approve", "admin") in actions
    assert ("privacy.use", "op-qingxi") in actions


async def test_export_from_a_sensitive_camera_needs_approval(
    papp: FastAPI, plogin: Login, clock: ManualClock
) -> None:
    admin, op = await plogin("admin"), await plogin("op-qingxi")
    camera = (await qingxi_cameras(op))[2]
    r = await admin.put(
        f"/api/v1/cameras/{camera}/privacy", json={"sensitive": True, "purpose": "学校门口安全"}
    )
    assert r.status_code == 200 and r.json()["sensitive"] is True
    rng = span(clock)
    export = {"camera_id": camera, **rng, "reason": "案件取证"}
    refused = await op.post("/api/v1/recordings/exports", json=export)
    assert refused.status_code == 403 and refused.json()["code"] == "approval_required", refused.text

    asked = (await ask(op, camera, "export", rng)).json()
    denied = await admin.post(
        f"/api/v1/recordings/approvals/{asked['id']}/decision", json={"approve": False, "reason": "理由不足"}
    )
    assert denied.json()["state"] == "denied"
    assert (
        await op.post("/api/v1/recordings/exports", json={**export, "approval": asked["id"]})
    ).status_code == 403

    asked = (await ask(op, camera, "export", rng)).json()
    assert (
        await admin.post(
            f"/api/v1/recordings/approvals/{asked['id']}/decision", json={"approve": True, "reason": "同意"}
        )
    ).status_code == 200
    # A playback grant is not an export grant.
    play = await op.post(
        "/api/v1/recordings/playback", json={"camera_id": camera, **rng, "approval": asked["id"]}
    )
    assert play.status_code == 200  # no masks on this camera: playback needs no grant at all
    done = await op.post("/api/v1/recordings/exports", json={**export, "approval": asked["id"]})
    # Past the four-eyes check: what stops it now is that the demo county has no recordings.
    assert done.status_code == 422 and "no recording" in done.json()["message"], done.text
