"""GB/T 28181 INVITE -> first fragment at a WebSocket viewer, on loopback. Prints one JSON object.

A whole node in this process (`create_app` under uvicorn: HTTP API, media plane, SIP platform) on a
fresh seeded SQLite database, its RTSP cameras switched off; `--cameras` simulated GB cameras
(`xueliang sim --gb28181`, a child process, 640x360 25 fps GOP 2 s loops) provisioned and bound
before they register. Their scheme is pulled on demand here, so each viewer's arrival starts a
session: the viewer opens the camera (POST /cameras/{id}/open), connects to its WebSocket, the plane
opens the source, the platform INVITEs the device (SDP, 200, ACK), the device streams PS over RTP,
the demuxer finds the keyframe, the channel writes the init segment and the first fragment. Measured
per viewer: WebSocket connect start -> first fragment after the init segment (so the figure holds the
INVITE and everything after it). A camera is used again only after its previous session was closed
(the engine lets an on-demand source go `demand_linger` after its last viewer; the platform's BYE).

    .venv/bin/python bench/gb28181_invite.py [--cameras 8] [--rounds 4] [--transport UDP|TCP]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform as host_platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench-device-pass"  # noqa: S105 - the simulated devices' password
CIVIL = "51322397"
VILLAGE = "513223101201"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    import httpx
    import uvicorn
    from sqlalchemy import select, update
    from websockets.asyncio.client import connect

    from xueliang.alarms.config import AlarmSettings
    from xueliang.app import create_app
    from xueliang.cameras.models import Camera
    from xueliang.config import Settings
    from xueliang.core.context import AppContext
    from xueliang.gb28181.config import Gb28181Settings
    from xueliang.gb28181.platform import GbPlatform
    from xueliang.gb28181.sim.simulator import channel_id, device_id
    from xueliang.media.config import MediaSettings
    from xueliang.media.plane import MediaPlane
    from xueliang.recordings.config import RecordingSettings
    from xueliang.seed.demo import DEMO_PASSWORD
    from xueliang.server import prepare_demo

    tmp = Path(tempfile.mkdtemp(prefix="gb-invite-"))
    gb = Gb28181Settings(
        enabled=True, host="127.0.0.1", port=0, device_password=PASSWORD, stream_transport=args.transport
    )
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp / 'bench.db'}",
        data_dir=tmp,
        secret_key="bench-secret-" + "i" * 32,
        media=MediaSettings(rtsp_enabled=False, rtsp_port=0),
        recording=RecordingSettings(enabled=False),
        alarms=AlarmSettings(mqtt_enabled=False, pg_bridge=False),
        gb28181=gb,
    )
    await prepare_demo(settings.model_copy(update={"gb28181": Gb28181Settings()}))
    app = create_app(settings, migrate_on_start=False)
    ctx: AppContext = app.state.ctx
    node = ctx.services.require(GbPlatform)
    plane = ctx.services.require(MediaPlane)
    plane.schemes.register("gb28181", lambda url, rt: node.live_source(url, rt), on_demand=True)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    async with app.router.lifespan_context(app):
        async with ctx.db.session() as s:
            await s.execute(update(Camera).values(enabled=False))  # nothing serves the seed's RTSP
            await s.commit()
        serving = asyncio.create_task(server.serve())
        for _ in range(1000):
            if server.started:
                break
            await asyncio.sleep(0.02)
        port = server.servers[0].sockets[0].getsockname()[1]
        base = f"http://127.0.0.1:{port}"
        http = httpx.AsyncClient(base_url=base, timeout=20)
        r = await http.post("/api/v1/auth/login", json={"username": "admin", "password": DEMO_PASSWORD})
        http.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        regions = (await http.get("/api/v1/regions")).json()
        village = next(x["id"] for x in regions if x["code"] == VILLAGE)
        for k in range(1, args.cameras + 1):
            body = {"device_id": device_id(CIVIL, k), "region_id": village}
            assert (await http.post("/api/v1/gb28181/devices", json=body)).status_code < 300
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "xueliang", "sim", "--gb28181", str(args.cameras),
            "--platform", f"sip:{gb.sip_id}@127.0.0.1:{node.port}", "--password", PASSWORD,
            "--civil-code", CIVIL, "--data-dir", str(ROOT / "var"), "--keepalive", "10", cwd=ROOT,
        )  # fmt: skip
        try:
            channels = {channel_id(CIVIL, k) for k in range(1, args.cameras + 1)}
            cameras: dict[str, int] = {}
            deadline = time.monotonic() + 600  # the first run encodes the loops
            while len(cameras) < args.cameras:
                assert time.monotonic() < deadline, f"only {len(cameras)} cameras after 600 s"
                async with ctx.db.read_session() as s:
                    rows = await s.execute(select(Camera.gb_id, Camera.id).where(Camera.gb_id.in_(channels)))
                    cameras = {g: i for g, i in rows.all()}
                await asyncio.sleep(0.5)

            def in_session(chan: str) -> bool:
                return any(chan in d.target for d in node.live.dialogs.values())

            async def view(chan: str, camera: int) -> float:
                for _ in range(1000):  # the previous viewer's session is over (BYE sent)
                    if not in_session(chan) and not plane.engine.channel(camera).consumers:
                        break
                    await asyncio.sleep(0.05)
                opened = (await http.post(f"/api/v1/cameras/{camera}/open")).json()
                url = f"ws://127.0.0.1:{port}{opened['streams']['ws']}"
                start = time.perf_counter()
                async with connect(url, max_size=None) as ws:
                    seen_init = False
                    while True:
                        message = await ws.recv()
                        if isinstance(message, bytes):
                            if seen_init:
                                return time.perf_counter() - start
                            seen_init = True

            await asyncio.sleep(2.0)  # every device answered its catalog and keeps alive
            order = sorted(cameras.items())
            times: list[float] = []
            for _ in range(args.rounds):
                for chan, camera in order:
                    times.append(await view(chan, camera))
        finally:
            child.terminate()
            await asyncio.wait_for(child.wait(), 10)
            await http.aclose()
            server.should_exit = True
            await serving
    ms = [t * 1000 for t in times]
    return {
        "cameras": args.cameras,
        "viewers": len(ms),
        "transport": args.transport,
        "invite_to_first_fragment_ms_p50": round(statistics.median(ms), 1),
        "invite_to_first_fragment_ms_p95": round(percentile(ms, 0.95), 1),
        "invite_to_first_fragment_ms_max": round(max(ms), 1),
        "goal_p95_ms": 500,
        "python": host_platform.python_version(),
        "cpus": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--cameras", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--transport", choices=("UDP", "TCP"), default="UDP")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(bench(args)), ensure_ascii=False))


if __name__ == "__main__":
    main()
