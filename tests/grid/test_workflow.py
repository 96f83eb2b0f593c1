"""The incident workflow 上报→分派→处理→核查 with its log, and a video patrol tour: start, pause,
mark a camera abnormal (an incident opens, with the camera's picture), finish; the board shows the
slot."""

from __future__ import annotations

import io
import uuid
from types import SimpleNamespace

from fastapi import FastAPI
from PIL import Image
from sqlalchemy import select
from tests.grid.conftest import local
from tests.support.alarms import Login, ctx_of

from xueliang.accounts.models import User
from xueliang.media.plane import MediaPlane
from xueliang.media.still import Still

API = "/api/v1/grid"


async def user_id(app: FastAPI, username: str) -> int:
    async with ctx_of(app).db.read_session() as s:
        found: int = (await s.scalars(select(User.id).where(User.username == username))).one()
        return found


async def test_incident_workflow(gapp: FastAPI, glogin: Login) -> None:
    gw, duty, other = await glogin("gw-01"), await glogin("duty-v01"), await glogin("gw-02")
    body = {
        "uuid": str(uuid.uuid4()),
        "category": "help_needed",
        "text": "老人摔倒",
        "at": local().isoformat(),
    }
    inc = (await gw.post(f"{API}/incidents", json=body)).json()
    assert inc["state"] == "reported" and inc["region_id"]
    url = f"{API}/incidents/{inc['id']}/transition"

    r = await duty.post(url, json={"to": "in_hand"})
    assert r.status_code == 409 and r.json()["code"] == "bad_transition"
    r = await duty.post(url, json={"to": "assigned", "assignee_id": await user_id(gapp, "res-v01")})
    assert r.status_code == 400 and r.json()["code"] == "bad_assignee"
    r = await duty.post(
        url, json={"to": "assigned", "assignee_id": await user_id(gapp, "gw-01"), "note": "请上门"}
    )
    assert r.status_code == 200 and r.json()["state"] == "assigned"
    assert (await gw.post(url, json={"to": "in_hand"})).status_code == 200  # the assignee takes it
    assert (await gw.post(url, json={"to": "resolved", "note": "已送医"})).status_code == 200
    r = await gw.post(url, json={"to": "checked"})
    assert r.status_code == 403  # the one who resolved it does not check it
    done = await duty.post(url, json={"to": "checked"})
    assert done.status_code == 200 and done.json()["closed_at"] is not None
    log = done.json()["events"]
    assert [e["to_state"] for e in log] == ["reported", "assigned", "in_hand", "resolved", "checked"]
    assert log[1]["note"] == "请上门"
    assert (await other.get(f"{API}/incidents/{inc['id']}")).status_code == 404
    mine = (await gw.get(f"{API}/incidents", params={"open": True})).json()
    assert inc["id"] not in {i["id"] for i in mine}  # checked: closed


def png(colour: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), colour).save(buf, format="PNG")
    return buf.getvalue()


async def test_photo_resend_is_idempotent(gapp: FastAPI, glogin: Login) -> None:
    """A phone that lost the answer sends the same photo again: the first photo answers (200,
    duplicate), no second row, no second file; another photo is a new one (201)."""
    gw = await glogin("gw-01")
    body = {"uuid": str(uuid.uuid4()), "category": "other", "text": "照片重发", "at": local().isoformat()}
    inc = (await gw.post(f"{API}/incidents", json=body)).json()
    url = f"{API}/incidents/{inc['id']}/photos"
    first = await gw.post(url, files={"file": ("a.png", png("red"), "image/png")})
    again = await gw.post(url, files={"file": ("photo-resent.png", png("red"), "image/png")})
    other = await gw.post(url, files={"file": ("b.png", png("blue"), "image/png")})
    assert first.status_code == 201 and first.json()["duplicate"] is False
    assert again.status_code == 200 and again.json() == first.json() | {"duplicate": True}
    assert other.status_code == 201 and other.json()["id"] != first.json()["id"]
    shown = (await gw.get(f"{API}/incidents/{inc['id']}")).json()
    assert sorted(shown["photos"]) == sorted([first.json()["id"], other.json()["id"]])
    stored = ctx_of(gapp).settings.data_dir / "grid" / "photos" / str(inc["id"])
    assert len([f for f in stored.iterdir() if f.is_file()]) == 2


class FakeStills:
    """The media plane's stills, as a node with media on answers them: one small JPEG per camera."""

    async def get(self, camera_id: int) -> Still:
        buf = io.BytesIO()
        Image.new("RGB", (32, 18), (camera_id % 255, 90, 90)).save(buf, format="JPEG")
        return Still(buf.getvalue(), 32, 18, None)


async def test_video_patrol_tour(gapp: FastAPI, glogin: Login) -> None:
    ctx_of(gapp).services.add(SimpleNamespace(stills=FakeStills()), MediaPlane)
    op = await glogin("op-shimen")
    tour = (await op.get(f"{API}/tours")).json()[0]
    run = await op.post(f"{API}/tours/{tour['id']}/runs", json={"slot": "09:00"})
    assert run.status_code == 201 and run.json()["state"] == "running"
    run_id, cams = run.json()["id"], [s["camera_id"] for s in tour["steps"]]
    assert (await op.post(f"{API}/tour-runs/{run_id}/paused")).json()["state"] == "paused"
    assert (await op.post(f"{API}/tour-runs/{run_id}/running")).json()["state"] == "running"
    ok = await op.post(f"{API}/tour-runs/{run_id}/marks", json={"camera_id": cams[0], "mark": "normal"})
    assert ok.status_code == 200 and ok.json()["incident_id"] is None
    bad = await op.post(
        f"{API}/tour-runs/{run_id}/marks", json={"camera_id": cams[1], "mark": "abnormal", "note": "围墙倒塌"}
    )
    incident = bad.json()["incident_id"]
    assert bad.status_code == 200 and incident is not None
    shown = (await op.get(f"{API}/incidents/{incident}")).json()
    assert shown["source"] == "tour" and shown["camera_id"] == cams[1] and "围墙倒塌" in shown["text"]
    assert len(shown["photos"]) == 1  # the camera's picture at the time of the mark
    snap = await op.get(f"{API}/incidents/{incident}/photos/{shown['photos'][0]}")
    assert snap.status_code == 200 and snap.headers["content-type"] == "image/jpeg"
    again = await op.post(f"{API}/tour-runs/{run_id}/marks", json={"camera_id": cams[1], "mark": "abnormal"})
    assert again.json()["incident_id"] == incident  # marked twice: one incident, one picture
    assert len((await op.get(f"{API}/incidents/{incident}")).json()["photos"]) == 1
    foreign = await op.post(
        f"{API}/tour-runs/{run_id}/marks", json={"camera_id": 2**31 - 1, "mark": "normal"}
    )
    assert foreign.status_code == 404
    finished = (await op.post(f"{API}/tour-runs/{run_id}/done")).json()
    assert finished["state"] == "done" and len(finished["marks"]) == 2
    slots = {t["slot"]: t["state"] for t in (await op.get(f"{API}/board")).json()["tours"]}
    assert slots["09:00"] == "done"
