"""Scale-out by role (issue 20): 2 web + 2 media + 1 worker real `xueliang serve --role ...` processes
against one PostgreSQL database and the test simulator.

Live view through a web process reaches the media process that owns the camera (the marker in the
decoded picture proves which camera), also for a viewer who must see a masked camera masked (the owner
builds the variant: the masked area of the decoded picture is black); SIGKILL of a media process hands
its cameras to the other, and the recording shows an explicit gap, not a torn file; with the worker
down, an escalation that falls due fires when it is back, once. On SQLite a split role is refused in
one line with exit code 2."""

from __future__ import annotations

import asyncio
import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from tests.support.db import BACKEND, run_async
from tests.support.net import free_port, port_open
from tests.support.node import Simulator, seed_for_sim
from tests.support.waits import wait_for
from xueliang.cli import app as cli_app
from xueliang.media.plane.masking import masked_id
from xueliang.media.sim.marker import decode_marker
from xueliang.seed.demo import DEMO_PASSWORD

pg_only = pytest.mark.skipif(BACKEND != "postgresql", reason="several processes need PostgreSQL")


def test_sqlite_refuses_a_split_role(tmp_path: Path) -> None:
    """SQLite is one process: `serve --role media` says so in one line and exits 2, touching nothing."""
    env = {"XUELIANG_DATA_DIR": str(tmp_path / "data"), "XUELIANG_DATABASE_URL": "", "COLUMNS": "200"}
    result = CliRunner().invoke(cli_app, ["serve", "--role", "media"], env=env)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "needs PostgreSQL" in lines[0] and "--role all" in lines[0], result.output
    assert not (tmp_path / "data" / "xueliang.db").exists()
    bad = CliRunner().invoke(cli_app, ["serve", "--role", "cook"], env=env)
    assert bad.exit_code == 2 and "unknown role 'cook'" in bad.output


# -- the cluster -------------------------------------------------------------------------------------


async def _sql(url: str, statement: str, *args: Any) -> list[Any]:
    import asyncpg  # type: ignore[import-untyped]

    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return list(await conn.fetch(statement, *args))
    finally:
        await conn.close()


@dataclass
class Proc:
    role: str
    port: int
    log: Path
    env: dict[str, str]
    popen: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        cmd = [sys.executable, "-m", "xueliang", "serve", "--role", self.role, "--port", str(self.port)]
        with self.log.open("ab") as out:
            self.popen = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=self.env)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(timeout=10)

    def terminate(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()

    def ready(self) -> bool:
        if self.popen is not None and self.popen.poll() is not None:
            raise AssertionError(f"{self.role} on {self.port} exited:\n{self.log.read_text()[-3000:]}")
        return port_open(self.port)


@dataclass
class Cluster:
    url: str
    procs: dict[str, Proc] = field(default_factory=dict)

    def sql(self, statement: str, *args: Any) -> list[Any]:
        return run_async(_sql(self.url, statement, *args))

    def owners(self) -> dict[int, str]:
        """Camera -> owning process name, for leases held now."""
        rows = self.sql(
            "SELECT camera_id, owner FROM camera_leases WHERE owner IS NOT NULL AND expires_at > now()"
        )
        return {int(r["camera_id"]): str(r["owner"]) for r in rows}

    def media_names(self) -> dict[str, str]:
        """Process name -> which of our media procs (by port in its URL)."""
        rows = self.sql("SELECT name, url FROM node_processes WHERE role = 'media'")
        by_port = {p.port: key for key, p in self.procs.items() if p.role == "media"}
        return {str(r["name"]): by_port.get(int(str(r["url"]).rsplit(":", 1)[1]), "?") for r in rows}

    def client(self, key: str, username: str) -> httpx.Client:
        c = httpx.Client(base_url=self.procs[key].url, timeout=15)
        r = c.post("/api/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD})
        assert r.status_code == 200, r.text
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return c


@pytest.fixture(scope="module")
def cluster(
    make_db_url: Callable[[], str], tmp_path_factory: pytest.TempPathFactory, simulator: Simulator
) -> Iterator[Cluster]:
    if BACKEND != "postgresql":
        pytest.skip("several processes need PostgreSQL")
    url = make_db_url()
    seed_for_sim(url, simulator.port)
    if not simulator.running:
        simulator.start()
    run_async(
        _sql(
            url,
            "INSERT INTO alarm_station_configs (region_id, escalate_after_s) SELECT id, '[2]' FROM regions "
            "ON CONFLICT (region_id) DO UPDATE SET escalate_after_s = '[2]'",
        )
    )
    work = tmp_path_factory.mktemp("roles")
    env = {k: v for k, v in os.environ.items() if not k.startswith("XUELIANG_")}
    env.update(
        XUELIANG_DATABASE_URL=url,
        XUELIANG_DATA_DIR=str(work / "data"),
        XUELIANG_SECRET_KEY="roles-test-secret-" + "x" * 32,
        XUELIANG_TIMER_MAX_IDLE_S="1",
        XUELIANG_ALARM_MQTT_ENABLED="false",
        XUELIANG_MEDIA_RTSP_ENABLED="false",
        XUELIANG_RECORDING_SEGMENT_SECONDS="2",
        XUELIANG_RECORDING_MIN_FREE_BYTES="0",
        XUELIANG_RECORDING_MIN_FREE_PERCENT="0",
        XUELIANG_GRID_ENABLED="false",
        PYTHONUNBUFFERED="1",
    )
    cluster = Cluster(url)
    for key, role in (
        ("web1", "web"),
        ("web2", "web"),
        ("media1", "media"),
        ("media2", "media"),
        ("worker", "worker"),
    ):
        cluster.procs[key] = Proc(role, free_port(), work / f"{key}.log", env)
    try:
        for proc in cluster.procs.values():
            proc.start()
        try:  # a bound, not a goal: 5 interpreters importing the app share 2 busy cores in `make test`
            took = wait_for(
                lambda: all(p.ready() for p in cluster.procs.values()), 150, "5 processes listening"
            )
        except AssertionError:
            logs = "\n".join(f"== {k}\n{p.log.read_text()[-1500:]}" for k, p in cluster.procs.items())
            raise AssertionError(f"the processes did not all start:\n{logs}") from None
        print(f"5 processes listening after {took:.1f} s")
        yield cluster
    finally:
        for proc in cluster.procs.values():
            proc.terminate()
        for proc in cluster.procs.values():
            proc.stop()


def _first_picture(ws_url: str) -> Any:
    """The first decoded picture (RGB, H×W×3) of the live WebSocket stream."""
    import av
    import websockets

    async def receive() -> bytes:
        async with websockets.connect(ws_url, max_size=None, compression=None) as ws:
            header = json.loads(await asyncio.wait_for(ws.recv(), 15))
            while header["type"] == "status":  # a masked variant just started: "starting" first
                header = json.loads(await asyncio.wait_for(ws.recv(), 15))
            assert header["type"] == "init", header
            data = bytearray()
            for _ in range(2):  # init segment, then the first fragment (starts at a keyframe)
                message = await asyncio.wait_for(ws.recv(), 15)
                while not isinstance(message, bytes):
                    message = await asyncio.wait_for(ws.recv(), 15)
                data += message
            return bytes(data)

    mp4 = asyncio.run(receive())
    with av.open(io.BytesIO(mp4), "r", format="mp4") as container:
        for frame in container.decode(video=0):
            return frame.to_ndarray(format="rgb24")
    raise AssertionError("no picture in the first fragment")


# The lower right quarter of the picture (the simulator's textured band runs through it; its marker is
# top left), and the part of it read back: well inside, clear of the encoder's edge.
MASK = [[0.5, 0.5], [1.0, 0.5], [1.0, 1.0], [0.5, 1.0]]


def _masked_area(picture: Any) -> Any:
    h, w = picture.shape[:2]
    return picture[int(h * 0.6) : int(h * 0.95), int(w * 0.6) : int(w * 0.95)]


@pg_only
def test_cameras_shared_out_and_live_view_reaches_the_owner(cluster: Cluster) -> None:
    took = wait_for(lambda: len(cluster.owners()) == 4, 30, "4 cameras leased")
    took2 = wait_for(
        lambda: len(set(cluster.owners().values())) == 2, 20, "both media processes holding cameras"
    )
    print(f"leased after {took:.1f} s, shared after {took2:.1f} s more")
    assert sorted(cluster.media_names().values()) == ["media1", "media2"]
    counts = sorted(list(cluster.owners().values()).count(n) for n in set(cluster.owners().values()))
    assert counts == [2, 2], counts  # fair shares

    admin = cluster.client("web1", "admin")
    leaving = cluster.client("web1", "op-qingxi")
    other = httpx.Client(base_url=cluster.procs["web2"].url, timeout=15, cookies=leaving.cookies)
    assert other.get("/api/v1/me").status_code == 200
    assert leaving.post("/api/v1/auth/logout").status_code in (200, 204)  # checked at the end
    cams = {
        c["id"]: int(c["gb_id"][-6:]) for c in admin.get("/api/v1/cameras", params={"enabled": True}).json()
    }
    owners, names = cluster.owners(), cluster.media_names()
    operator = cluster.client("web2", "op-qingxi")
    seen = {c["id"] for c in operator.get("/api/v1/cameras", params={"enabled": True}).json()}
    originals = {}
    for camera_id, number in sorted(cams.items(), key=lambda item: item[0] not in seen)[:2]:
        streams = admin.post(f"/api/v1/cameras/{camera_id}/open").json()["streams"]
        owner = cluster.procs[names[owners[camera_id]]]
        assert streams["ws"].startswith(f"{owner.url}/api/v1/live/{camera_id}/ws?token="), streams
        originals[camera_id] = _first_picture(streams["ws"].replace("http://", "ws://"))
        assert decode_marker(originals[camera_id]) == number
        # A player that kept a web process's URL is sent to the owner, token and all.
        hls = httpx.get(
            f"{cluster.procs['web2'].url}/api/v1/live/{camera_id}/hls/index.m3u8?token={streams['token']}"
        )
        assert hls.status_code == 307 and hls.headers["location"].startswith(owner.url), hls.text

    # A masked camera: an operator (masked by default) asking a web process is led to the same owner,
    # for the masked variant, which the owner starts when the viewer arrives; the admin sees the original.
    camera_id = min(set(originals) & seen)
    put = admin.put(f"/api/v1/cameras/{camera_id}/masks", json={"masks": [{"label": "yard", "points": MASK}]})
    assert put.status_code == 200, put.text
    owner = cluster.procs[names[owners[camera_id]]]
    streams = operator.post(f"/api/v1/cameras/{camera_id}/open").json()["streams"]
    variant = masked_id(camera_id)
    assert streams["ws"].startswith(f"{owner.url}/api/v1/live/{variant}/ws?token="), streams
    pictures: list[Any] = []

    def marked() -> bool:  # the whole picture is filled until the owner has read the new mask
        pictures.append(_first_picture(streams["ws"].replace("http://", "ws://")))
        return decode_marker(pictures[-1]) == cams[camera_id]  # the unmasked part: the camera's own

    wait_for(marked, 15, "the masked variant with the camera's marker")
    masked = pictures[-1]
    assert _masked_area(masked).max() < 40, "the masked area shows through"
    assert _masked_area(originals[camera_id]).max() > 120  # the admin saw the textured band it hides
    web1 = cluster.procs["web1"].url
    hls = httpx.get(f"{web1}/api/v1/live/{variant}/hls/index.m3u8?token={streams['token']}")
    assert hls.status_code == 307, hls.text
    assert hls.headers["location"].startswith(f"{owner.url}/api/v1/live/{variant}/hls/")

    # The system page's data from any web process covers the whole node.
    system = admin.get("/api/v1/ops/system").json()
    assert sorted(p["role"] for p in system["processes"]) == ["media", "media", "web", "web", "worker"]
    assert all(p["rss_bytes"] > 0 for p in system["processes"])
    assert system["cameras"] == {"enabled": 4, "offline": []}, system["cameras"]

    # A logout at one web process is effective at the other (within the session cache's 5 s).
    wait_for(lambda: other.get("/api/v1/me").status_code == 401, 10, "logout seen by web2")


@pg_only
def test_sigkill_of_a_media_process_hands_its_cameras_over_with_a_gap(cluster: Cluster) -> None:
    wait_for(lambda: len(set(cluster.owners().values())) == 2, 30, "both media processes holding cameras")
    owners, names = cluster.owners(), cluster.media_names()
    victim_name = next(n for n, key in names.items() if key == "media1")
    moved = sorted(c for c, o in owners.items() if o == victim_name)
    assert moved

    def recorded(camera_id: int) -> bool:
        return bool(
            cluster.sql(
                "SELECT 1 FROM recording_segments WHERE camera_id = $1 AND state = 'closed'", camera_id
            )
        )

    wait_for(lambda: all(recorded(c) for c in moved), 30, "closed segments of the victim's cameras")
    old = {
        int(r["camera_id"]): r["expires_at"]
        for r in cluster.sql("SELECT camera_id, expires_at FROM camera_leases WHERE owner = $1", victim_name)
    }
    killed_at = datetime.now(UTC)
    started = time.monotonic()
    cluster.procs["media1"].kill()

    def taken_over() -> bool:
        now = cluster.owners()
        rows = cluster.sql(
            "SELECT camera_id, status FROM camera_leases WHERE camera_id = ANY($1::int[])", moved
        )
        return all(now.get(c) not in (None, victim_name) for c in moved) and all(
            r["status"] == "online" for r in rows
        )

    took = wait_for(taken_over, 40, "the victim's cameras online at the other media process")
    print(f"SIGKILL -> cameras online elsewhere: {time.monotonic() - started:.1f} s (waited {took:.1f} s)")
    for r in cluster.sql(
        "SELECT camera_id, acquired_at FROM camera_leases WHERE camera_id = ANY($1::int[])", moved
    ):
        assert r["acquired_at"] >= old[int(r["camera_id"])], "taken over only after the lease expired"

    def new_segment(camera_id: int) -> bool:
        return bool(
            cluster.sql(
                "SELECT 1 FROM recording_segments WHERE camera_id = $1 AND starts_at > $2",
                camera_id,
                killed_at,
            )
        )

    wait_for(lambda: all(new_segment(c) for c in moved), 30, "recording resumed at the new owner")
    data = Path(cluster.procs["media2"].env["XUELIANG_DATA_DIR"]) / "recordings"
    for camera_id in moved:
        gaps = cluster.sql(
            "SELECT starts_at, ends_at, reason FROM recording_gaps WHERE camera_id = $1 AND ends_at > $2",
            camera_id,
            killed_at,
        )
        assert any(g["reason"] == "taken over by this media process" for g in gaps), gaps
        before = cluster.sql(
            "SELECT path, bytes, state FROM recording_segments WHERE camera_id = $1 AND starts_at < $2",
            camera_id,
            killed_at,
        )
        assert before and all(s["state"] == "closed" for s in before), before  # the torn one repaired
        for s in before:
            assert (data / s["path"]).stat().st_size == s["bytes"], s


@pg_only
def test_escalations_due_while_the_worker_is_down_fire_once_when_it_is_back(cluster: Cluster) -> None:
    worker = cluster.procs["worker"]
    worker.kill()
    alarm = (
        cluster.client("web2", "res-v08")
        .post("/api/v1/alarms", json={"uuid": str(uuid.uuid4())})
        .json()["alarm"]
    )

    def level() -> int:
        return int(cluster.sql("SELECT escalation_level FROM alarms WHERE id = $1", alarm["id"])[0][0])

    due = cluster.sql("SELECT ack_due_at FROM alarms WHERE id = $1", alarm["id"])[0][0]
    wait_for(lambda: datetime.now(UTC) > due, 20, "the alarm's escalation to fall due")
    assert level() == 0, "no web or media process fires timers"
    worker.start()
    wait_for(lambda: level() == 1, 60, "the missed escalation fired when the worker came back")
    wait_for(worker.ready, 30, "the worker listening again")
    timers = cluster.sql(
        "SELECT attempts, done FROM timers WHERE key LIKE $1", f"alarm-escalate:{alarm['id']}:%"
    )
    assert [(t["attempts"], t["done"]) for t in timers] == [(1, True)], timers  # fired once
    audits = cluster.sql(
        "SELECT count(*) FROM audit_events WHERE action = 'alarm.escalate' AND target_id = $1",
        str(alarm["id"]),
    )
    assert audits[0][0] == 1


@pg_only
def test_a_camera_disabled_through_a_web_process_stops_at_its_media_process(cluster: Cluster) -> None:
    """Admin changes cross processes by NOTIFY: the owner stops pulling at once, and takes it back."""
    wait_for(lambda: len(cluster.owners()) == 4, 40, "every camera leased")
    admin = cluster.client("web2", "admin")
    camera_id = min(cluster.owners())
    assert admin.patch(f"/api/v1/cameras/{camera_id}", json={"enabled": False}).status_code == 200
    wait_for(lambda: camera_id not in cluster.owners(), 15, "the disabled camera released")
    assert admin.patch(f"/api/v1/cameras/{camera_id}", json={"enabled": True}).status_code == 200
    wait_for(lambda: camera_id in cluster.owners(), 15, "the camera pulled again")
