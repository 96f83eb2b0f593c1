"""Recording routes against a real app: timeline, playback (HLS VOD, plan, seek), tokens, locks,
retention, exports, health, and the policy: residents get 404 from every one of them."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from tests.support.app import LoggedIn, make_settings
from tests.support.recordings import Rig, decode

from xueliang.app import create_app
from xueliang.audit.models import AuditEvent
from xueliang.core.db import Database
from xueliang.media import tokens
from xueliang.recordings import export as exporting
from xueliang.recordings.config import RecordingSettings

Login = Callable[[str], Awaitable[httpx.AsyncClient]]


def iso(ts: float | datetime) -> str:
    moment = ts if isinstance(ts, datetime) else datetime.fromtimestamp(ts, UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture
async def rec_app(rec_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    settings = make_settings(
        rec_url,
        tmp_path / "data",
        recording=RecordingSettings(retention_every=3600, min_free_bytes=0, min_free_percent=0),
    )
    application = create_app(settings, migrate_on_start=False)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def login(rec_app: FastAPI) -> AsyncIterator[Login]:
    clients: list[httpx.AsyncClient] = []

    async def do(username: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=rec_app, client=("127.0.0.1", 50002))
        c = httpx.AsyncClient(transport=transport, base_url="http://testserver")
        clients.append(c)
        return await LoggedIn(c).login(username)

    yield do
    for c in clients:
        await c.aclose()


@pytest.fixture
async def recorded(
    rig_factory: Callable[..., Rig], tmp_path: Path, village_cameras: list[int], rec_app: FastAPI
) -> Rig:
    """10 s of two cameras recorded into the app's recordings folder, 2 s segments."""
    rig = rig_factory(start=time.time() - 60, root=tmp_path / "data" / "recordings")
    await rig.start(village_cameras[0], village_cameras[-1])  # one non-public, one public camera
    await rig.record(10.0)
    await rig.recorder.stop()
    return rig


async def audit_rows(url: str, action: str) -> list[AuditEvent]:
    db = Database(url)
    try:
        async with db.session() as session:
            return list(await session.scalars(select(AuditEvent).where(AuditEvent.action == action)))
    finally:
        await db.dispose()


def span(rig: Rig) -> tuple[str, str]:
    end = rig.wall.now
    return iso(end - 30), iso(end + 1)


async def test_timeline_lists_spans_gaps_and_keyframes(
    recorded: Rig, login: Login, village_cameras: list[int]
) -> None:
    op = await login("op-qingxi")
    cam = village_cameras[0]
    lo, hi = span(recorded)
    line = (await op.get(f"/api/v1/cameras/{cam}/timeline", params={"from": lo, "to": hi})).json()
    assert len(line["spans"]) == 1 and line["segments"] >= 4
    start = datetime.fromisoformat(line["spans"][0]["start"]).timestamp()
    end = datetime.fromisoformat(line["spans"][0]["end"]).timestamp()
    assert abs((end - start) - 10.0) < 0.05
    assert len(line["keyframes"]) == 10 and line["codec"].startswith("avc1.")
    assert [g["reason"] for g in line["gaps"]] == ["recorder stopped"]
    listed = (await op.get("/api/v1/recordings", params={"camera_id": cam, "from": lo, "to": hi})).json()
    assert [s["id"] for s in listed] == [r.id for r in await recorded.segments(cam)]
    other = await login("op-shimen")  # another township: the camera does not exist for them
    assert (
        await other.get(f"/api/v1/cameras/{cam}/timeline", params={"from": lo, "to": hi})
    ).status_code == 404


async def _playback(op: httpx.AsyncClient, cam: int, lo: str, hi: str) -> dict[str, str]:
    r = await op.post("/api/v1/recordings/playback", json={"camera_id": cam, "from": lo, "to": hi})
    assert r.status_code == 200, r.text
    opened: dict[str, str] = r.json()
    return opened


async def test_hls_vod_serves_the_recorded_bytes(
    recorded: Rig, login: Login, village_cameras: list[int], rec_url: str
) -> None:
    op = await login("op-qingxi")
    cam = village_cameras[0]
    lo, hi = span(recorded)
    opened = await _playback(op, cam, lo, hi)
    assert [e.detail["from"] for e in await audit_rows(rec_url, "recording.view")]
    playlist = (await op.get(opened["hls"])).text
    assert (
        playlist.startswith("#EXTM3U")
        and "#EXT-X-PLAYLIST-TYPE:VOD" in playlist
        and "#EXT-X-ENDLIST" in playlist
    )
    base = opened["hls"].split("index.m3u8")[0]
    rows = {r.id: r for r in await recorded.segments(cam)}
    frames = 0
    for block in playlist.split("#EXT-X-MAP:")[1:]:
        init_uri = re.search(r'URI="([^"]+)"', block)
        assert init_uri is not None
        data = (await op.get(base + init_uri.group(1))).content
        chunk_uris = [line for line in block.splitlines() if line.startswith("chunk/")]
        for uri in chunk_uris:
            r = await op.get(base + uri)
            assert r.status_code == 200
            data += r.content
        segment_id = int(init_uri.group(1).split("/")[1].split(".")[0])
        video = decode(data)
        assert video.frames == rows[segment_id].frames  # whole files, range covers them
        frames += video.frames
    assert frames == 250
    # A sub-range lists only the GOPs that overlap it.
    first = min(rows.values(), key=lambda r: r.starts_at)
    narrow = await _playback(
        op, cam, iso(first.starts_at + timedelta(seconds=0.5)), iso(first.starts_at + timedelta(seconds=1.5))
    )
    narrow_list = (await op.get(narrow["hls"])).text
    assert narrow_list.count("#EXTINF") == 1


async def test_seek_returns_the_gop_holding_the_time(
    recorded: Rig, login: Login, village_cameras: list[int]
) -> None:
    op = await login("op-qingxi")
    cam = village_cameras[0]
    lo, hi = span(recorded)
    opened = await _playback(op, cam, lo, hi)
    token = opened["token"]
    rows = await recorded.segments(cam)
    start, end = rows[0].starts_at.timestamp(), rows[-1].ends_at.timestamp()
    # How fast a seek answers is measured by bench/recording.py (seek_to_first_gop_bytes_ms_p50/p95), not
    # asserted here: a timed assertion fails on a loaded machine (it did in CI) and proves nothing more.
    for k in range(20):
        t = start + (end - start) * (k + 0.5) / 20
        r = await op.get(f"/api/v1/playback/{cam}/at.mp4", params={"t": iso(t), "token": token})
        assert r.status_code == 200
        video = decode(r.content)  # the first frame is decodable on its own: a keyframe
        gop_start = float(r.headers["X-Start"])
        assert gop_start <= t < gop_start + 1.0 + 0.05
        assert video.keyframes >= 1
    plan = (await op.get(opened["plan"])).json()
    assert sum(len(s["chunks"]) for s in plan["segments"]) >= 5
    assert sum(len(s["keyframes"]) for s in plan["segments"]) == 10
    gap_time = iso(end + 0.5)
    assert (
        await op.get(f"/api/v1/playback/{cam}/at.mp4", params={"t": gap_time, "token": token})
    ).status_code == 404


async def test_tokens_are_bound_checked_and_expire(
    recorded: Rig, login: Login, village_cameras: list[int], rec_app: FastAPI
) -> None:
    op = await login("op-qingxi")
    cam, other = village_cameras[0], village_cameras[-1]
    lo, hi = span(recorded)
    opened = await _playback(op, cam, lo, hi)
    good = opened["token"]
    url = f"/api/v1/playback/{cam}/index.m3u8"
    params = {"from": lo, "to": hi}
    assert (await op.get(url, params={**params, "token": good})).status_code == 200
    anonymous = httpx.AsyncClient(transport=httpx.ASGITransport(app=rec_app), base_url="http://testserver")
    async with anonymous:
        assert (
            await anonymous.get(url, params={**params, "token": good})
        ).status_code == 200  # the link works alone
        assert (await anonymous.get(url, params=params)).status_code == 404
        tampered = good[:-2] + ("AA" if not good.endswith("AA") else "BB")
        assert (await anonymous.get(url, params={**params, "token": tampered})).status_code == 404
        other_url = f"/api/v1/playback/{other}/index.m3u8"
        assert (await anonymous.get(other_url, params={**params, "token": good})).status_code == 404
        secret = rec_app.state.ctx.secret.encode()
        user_id = (await op.get("/api/v1/me")).json()["id"]
        old = tokens.issue(
            secret, user_id, cam, "view_recording", 60, datetime.now(UTC) - timedelta(minutes=5)
        )
        expired = await anonymous.get(url, params={**params, "token": old})
        assert expired.status_code == 401 and expired.json()["code"] == "token_expired"
        live = tokens.issue(secret, user_id, cam, "view_live", 60, datetime.now(UTC))
        assert (await anonymous.get(url, params={**params, "token": live})).status_code == 404


async def test_locks_and_retention_changes_are_audited(
    recorded: Rig, login: Login, village_cameras: list[int], rec_url: str
) -> None:
    op = await login("op-qingxi")
    duty = await login("duty-v01")
    admin = await login("admin")
    cam = village_cameras[0]
    lo, hi = span(recorded)
    body = {"camera_id": cam, "from": lo, "to": hi, "reason": "burglary case 2026-117"}
    assert (await duty.post("/api/v1/recordings/locks", json=body)).status_code == 404  # may view, not lock
    made = await op.post("/api/v1/recordings/locks", json=body)
    assert made.status_code == 201
    lock = made.json()
    assert [
        x["id"] for x in (await duty.get("/api/v1/recordings/locks", params={"camera_id": cam})).json()
    ] == [lock["id"]]
    (locked,) = await audit_rows(rec_url, "recording.lock")
    assert locked.actor == "op-qingxi" and locked.detail["reason"] == "burglary case 2026-117"
    assert (await op.delete(f"/api/v1/recordings/locks/{lock['id']}")).status_code == 200
    assert (await op.delete(f"/api/v1/recordings/locks/{lock['id']}")).status_code == 404
    (unlocked,) = await audit_rows(rec_url, "recording.unlock")
    assert unlocked.detail["lock"] == lock["id"]

    put = f"/api/v1/recordings/cameras/{cam}/retention"
    assert (await op.put(put, json={"days": 45})).status_code == 404  # operators do not set retention
    changed = await admin.put(put, json={"days": 45})
    assert changed.json() == {"camera_id": cam, "retention_days": 45, "record": True}
    (audited,) = [e for e in await audit_rows(rec_url, "recording.retention") if e.target_id == str(cam)]
    assert audited.detail["retention_days"] == {"from": 30, "to": 45}
    assert (await admin.put(put, json={"days": 30})).status_code == 200


async def test_export_is_signed_audited_and_downloadable(
    recorded: Rig, login: Login, village_cameras: list[int], rec_url: str, tmp_path: Path, rec_app: FastAPI
) -> None:
    op = await login("op-qingxi")
    duty = await login("duty-v01")
    cam = village_cameras[0]
    rows = await recorded.segments(cam)
    lo, hi = iso(rows[0].starts_at), iso(rows[-1].ends_at)
    body = {"camera_id": cam, "from": lo, "to": hi, "reason": "theft at the grain store"}
    assert (await duty.post("/api/v1/recordings/exports", json=body)).status_code == 404
    made = await op.post("/api/v1/recordings/exports", json=body)
    assert made.status_code == 202, made.text
    export_id = made.json()["id"]
    deadline = time.monotonic() + 30
    while (state := (await op.get(f"/api/v1/recordings/exports/{export_id}")).json())["state"] == "running":
        assert time.monotonic() < deadline, "export did not finish"
        await asyncio.sleep(0.05)
    assert state["state"] == "ready", state["error"]
    (audited,) = await audit_rows(rec_url, "recording.export")
    assert audited.detail["export"] == export_id and audited.detail["reason"] == "theft at the grain store"
    out = tmp_path / "download"
    out.mkdir()
    anonymous = httpx.AsyncClient(transport=httpx.ASGITransport(app=rec_app), base_url="http://testserver")
    async with anonymous:
        for f in state["files"]:
            r = await anonymous.get(f["url"])
            assert r.status_code == 200
            (out / f["name"]).write_bytes(r.content)
        assert (await anonymous.get(state["files"][0]["url"].split("?")[0])).status_code == 404
    assert len(await audit_rows(rec_url, "recording.export.download")) == len(state["files"])
    report = exporting.verify(out)
    assert report.ok, report.problems
    manifest = report.manifest or {}
    assert (
        manifest["operator"]["username"] == "op-qingxi" and manifest["reason"] == "theft at the grain store"
    )
    assert manifest["camera"]["id"] == cam
    (mp4,) = [f for f in state["files"] if f["name"].endswith(".mp4")]
    video = decode(out / mp4["name"])
    assert video.frames == sum(r.frames for r in rows) == 250
    assert abs(video.duration - (rows[-1].ends_at - rows[0].starts_at).total_seconds()) < 0.05


def recording_routes(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every recording, playback and export route the app serves."""
    found = []
    for path, operations in app.openapi()["paths"].items():
        if path.startswith(("/api/v1/recordings", "/api/v1/playback")) or path.endswith("/timeline"):
            found.extend((method.upper(), path) for method in sorted(operations))
    return found


async def test_a_resident_gets_404_from_every_recording_route(
    recorded: Rig, login: Login, village_cameras: list[int], rec_app: FastAPI
) -> None:
    """res-v01 lives in village 1 and may watch this camera live: still 404 on every route, with the ids
    of things that exist (a lock, an export, a segment). Tokens are bearer links; a resident cannot get
    one, so the media routes are tried with a made-up one."""
    op = await login("op-qingxi")
    resident = await login("res-v01")
    cam = village_cameras[-1]
    assert (await resident.get(f"/api/v1/cameras/{cam}")).status_code == 200  # they may watch it live
    lo, hi = span(recorded)
    await _playback(op, cam, lo, hi)
    rows = await recorded.segments(cam)
    lock = (
        await op.post(
            "/api/v1/recordings/locks", json={"camera_id": cam, "from": lo, "to": hi, "reason": "x"}
        )
    ).json()
    made = (
        await op.post(
            "/api/v1/recordings/exports", json={"camera_id": cam, "from": lo, "to": hi, "reason": "x"}
        )
    ).json()
    values = {
        "camera_id": str(cam),
        "segment_id": str(rows[0].id),
        "first": str(rows[0].keyframes[0][1]),
        "last": str(rows[0].bytes),
        "lock_id": str(lock["id"]),
        "export_id": str(made["id"]),
        "name": "manifest.json",
        "approval_id": "1",
    }
    query = {"camera_id": str(cam), "from": lo, "to": hi, "t": lo, "token": "x"}
    body = {"camera_id": cam, "from": lo, "to": hi, "reason": "curious", "days": 1}
    body |= {"action": "playback", "approve": True}  # the four-eyes routes' fields
    routes = recording_routes(rec_app)
    assert len(routes) >= 17
    for method, template in routes:
        path = re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m.group(1)], template)
        r = await resident.request(
            method, path, params=query, json=body if method in ("POST", "PUT") else None
        )
        assert r.status_code == 404, (method, template, r.status_code, r.text)
    page = await resident.get("/playback")
    assert page.status_code == 404
    health = await op.get("/api/v1/recordings/health")
    assert health.status_code == 200 and health.json()["recorder_running"] is False


# -- issue 14: refreshes bound to an audited view, no existence leaks, no 500s, no writer turn --------


async def test_a_refresh_renews_only_an_audited_view_of_the_same_camera_and_range(
    login: Login, village_cameras: list[int], rec_url: str
) -> None:
    """`refresh: true` issues a token without a new audit row only for a view the caller opened (and
    was audited for) on the same camera and range; anything else is refused with the JSON error body."""
    op = await login("op-qingxi")
    admin = await login("admin")
    cam, other = village_cameras[0], village_cameras[-1]
    now = datetime.now(UTC)
    lo, hi = iso(now - timedelta(hours=1)), iso(now)
    url = "/api/v1/recordings/playback"
    refresh = {"camera_id": cam, "from": lo, "to": hi, "refresh": True}
    before = {e.id for e in await audit_rows(rec_url, "recording.view")}  # the trail keeps other tests' rows
    unopened = await op.post(url, json=refresh)  # no view was opened: no token without an audit row
    assert unopened.status_code == 404 and set(unopened.json()) == {"code", "message"}, unopened.text
    opened = await _playback(op, cam, lo, hi)
    (view,) = [e for e in await audit_rows(rec_url, "recording.view") if e.id not in before]
    assert (opened["view"], view.actor, view.target_id) == (view.id, "op-qingxi", str(cam))

    renewed = await op.post(url, json={**refresh, "view": view.id})
    assert renewed.status_code == 200, renewed.text
    assert renewed.json()["view"] == view.id and renewed.json()["token"] != opened["token"]
    assert (await op.get(renewed.json()["plan"])).status_code == 200

    login_row = (await audit_rows(rec_url, "auth.login"))[0]
    refused = [
        (op, refresh),  # no view named
        (op, {**refresh, "view": login_row.id}),  # an audit row, but not a view
        (op, {**refresh, "view": view.id, "from": iso(now - timedelta(hours=2))}),  # another range
        (op, {**refresh, "view": view.id, "to": iso(now - timedelta(minutes=1))}),
        (op, {**refresh, "view": view.id, "camera_id": other}),  # another camera op may see
        (admin, {**refresh, "view": view.id}),  # another user's view
        (op, {**refresh, "view": view.id + 10_000}),  # no such row
    ]
    for client, body in refused:
        r = await client.post(url, json=body)
        assert r.status_code == 404, (body, r.status_code, r.text)
        assert set(r.json()) == {"code", "message"} and r.json()["code"] == "not_found", r.text
    assert len(await audit_rows(rec_url, "recording.view")) == len(before) + 1


async def test_out_of_scope_locks_and_exports_answer_exactly_like_missing_ones(
    recorded: Rig, login: Login, village_cameras: list[int]
) -> None:
    op = await login("op-qingxi")
    shimen = await login("op-shimen")  # another township
    duty = await login("duty-v01")  # may view this camera's recordings, not lock or export them
    cam = village_cameras[0]
    lo, hi = span(recorded)
    body = {"camera_id": cam, "from": lo, "to": hi, "reason": "case 2026-200"}
    lock = (await op.post("/api/v1/recordings/locks", json=body)).json()
    made = (await op.post("/api/v1/recordings/exports", json=body)).json()
    missing_lock = await op.delete(f"/api/v1/recordings/locks/{lock['id'] + 10_000}")
    missing_export = await op.get(f"/api/v1/recordings/exports/{made['id'] + 10_000}")
    assert missing_lock.status_code == missing_export.status_code == 404
    for client in (shimen, duty):
        r = await client.delete(f"/api/v1/recordings/locks/{lock['id']}")
        assert (r.status_code, r.json()) == (missing_lock.status_code, missing_lock.json())
        r = await client.get(f"/api/v1/recordings/exports/{made['id']}")
        assert (r.status_code, r.json()) == (missing_export.status_code, missing_export.json())
    assert (await op.delete(f"/api/v1/recordings/locks/{lock['id']}")).status_code == 200  # still there


HUGE = 2**63


def fill(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m.group(1)], template)


FAR_DATES = ("0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999999Z")


def bad_inputs(app: FastAPI, values: dict[str, str]) -> list[tuple[str, str, dict[str, str], Any]]:
    """(method, path, query, body) for every recording route, each with one id at 2**63 or one date
    near year 1 or 9999 and everything else valid."""
    document = app.openapi()
    cases: list[tuple[str, str, dict[str, str], Any]] = []
    for method, template in recording_routes(app):
        operation = document["paths"][template][method.lower()]
        params = operation.get("parameters", [])
        path_ids = [p["name"] for p in params if p["in"] == "path" and p["schema"].get("type") == "integer"]
        query = {p["name"]: values[p["name"]] for p in params if p["in"] == "query"}
        body, fields = None, set()
        if "requestBody" in operation:
            body = {"camera_id": int(values["camera_id"]), "from": values["from"], "to": values["to"],
                    "reason": "x", "days": 1}  # fmt: skip
            ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            fields = set(document["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"])

        path = fill(template, values)
        for name in path_ids:
            cases.append((method, fill(template, {**values, name: str(HUGE)}), query, body))
        for name in query:
            if name.endswith("id"):
                cases.append((method, path, {**query, name: str(HUGE)}, body))
            if name in ("from", "to", "t"):
                cases.extend((method, path, {**query, name: far}, body) for far in FAR_DATES)
        if "camera_id" in fields:
            cases.append((method, path, query, {**body, "camera_id": HUGE}))
        for name in fields & {"from", "to"}:
            cases.extend((method, path, query, {**body, name: far}) for far in FAR_DATES)
    return cases


async def test_huge_ids_and_far_dates_are_422_on_every_recording_route(
    login: Login, village_cameras: list[int], rec_app: FastAPI
) -> None:
    """Issue 14: an id of 2**63 overflowed the driver (differently on SQLite and PostgreSQL) and far
    dates overflowed the range arithmetic; both must be 422 with the JSON error body, logged in or not
    (the export download and the playback media are reached without a login)."""
    op = await login("op-qingxi")
    now = datetime.now(UTC)
    values = {
        "camera_id": str(village_cameras[0]), "segment_id": "1", "first": "0", "last": "1", "lock_id": "1",
        "export_id": "1", "approval_id": "1", "name": "manifest.json",
        "from": iso(now - timedelta(hours=1)), "to": iso(now), "t": iso(now - timedelta(minutes=1)),
        "token": "x", "limit": "10",
    }  # fmt: skip
    cases = bad_inputs(rec_app, values)
    int4 = str(2**31)  # the first id a PostgreSQL INTEGER column cannot hold
    cases += [("GET", f"/api/v1/recordings/exports/{int4}", {}, None),
              ("DELETE", f"/api/v1/recordings/locks/{int4}", {}, None)]  # fmt: skip
    assert len(cases) >= 40
    anonymous = httpx.AsyncClient(transport=httpx.ASGITransport(app=rec_app), base_url="http://testserver")
    async with anonymous:
        for method, path, query, body in cases:
            clients = [op] + ([anonymous] if "/playback/" in path or "/files/" in path else [])
            for client in clients:
                r = await client.request(method, path, params=query, json=body)
                assert r.status_code == 422, (method, path, query, body, r.status_code, r.text)
                assert r.json()["code"] == "invalid" and r.json()["message"], r.text


async def test_token_routes_read_without_taking_the_writer_turn(
    login: Login, village_cameras: list[int], rec_app: FastAPI
) -> None:
    """Anonymous, token-authenticated lookups (export downloads, playback media) only read: they answer
    while another transaction holds the writer turn (on SQLite one writer at a time; they used to queue
    behind it, up to 30 s, then fail)."""
    op = await login("op-qingxi")
    cam = village_cameras[0]
    now = datetime.now(UTC)
    opened = await _playback(op, cam, iso(now - timedelta(hours=1)), iso(now))
    ctx = rec_app.state.ctx
    anonymous = httpx.AsyncClient(transport=httpx.ASGITransport(app=rec_app), base_url="http://testserver")
    async with anonymous, ctx.db.session() as writer:
        await writer.execute(select(AuditEvent.id).limit(1))  # begins a write transaction: holds the turn
        async with asyncio.timeout(10):  # the turn is held until this block ends: a wait fails here
            plan = await anonymous.get(opened["plan"])
            assert plan.status_code == 200, plan.text
            assert plan.json()["segments"] == []
            missing = await anonymous.get("/api/v1/recordings/exports/999999/files/manifest.json?token=x")
            assert missing.status_code == 404 and missing.json()["code"] == "not_found"
