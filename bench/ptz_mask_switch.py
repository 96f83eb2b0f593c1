"""How fast a PTZ dome's masked variant follows a preset call and a manual move (ADR 0012, addendum),
against the camera's own picture as the peer. Prints one JSON object (not a test).

A whole node in this process (`create_app`, the media plane, the SIP platform) on a fresh seeded SQLite
database with its RTSP cameras off; one simulated GB dome (gb28181/sim, in process, 640x360 25 fps
loops, GOP 2 s) with a mask set for presets 6 and 7. Each round calls preset 6 or 7 through the API
and notes, by the arrival time of fragments at listeners on both channels (decoded by PyAV): the first
original picture showing the new preset (the peer: the dome's own switch), and the first masked
picture showing it with its preset's area filled. Then a manual move: the first masked picture filled
whole. Every masked picture after the first call took effect whose marker can be read is checked
against its preset's set ("leaks" counts those that were not filled, or that show the no-preset view
the dome has after a manual move: must be 0). Also the cost of the per-frame choice of set.

    .venv/bin/python bench/ptz_mask_switch.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform as host_platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench-device-pass"  # noqa: S105 - the simulated device's password
CIVIL = "51322396"
VILLAGE = "513223101201"
AREAS = {
    6: [[0.0, 0.5], [0.45, 0.5], [0.45, 1.0], [0.0, 1.0]],
    7: [[0.55, 0.5], [1.0, 0.5], [1.0, 1.0], [0.55, 1.0]],
}


async def poll(probe: Any, every: float = 0.05, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while True:
        if probe():
            return
        if time.monotonic() > deadline:
            raise TimeoutError("the masked variant did not show what was expected")
        await asyncio.sleep(every)


class Watch:
    """Decodes one channel's fragments as they arrive; keeps (arrival, marker, filled areas, whole)."""

    def __init__(self) -> None:
        import av

        self.decoder: Any = av.CodecContext.create("h264", "r")
        self.params: Any = None
        self.seen: list[tuple[float, int | None, set[int], bool]] = []

    def push(self, item: Any) -> None:
        import av

        from xueliang.media.channel import InitSegment
        from xueliang.media.codecs.annexb import join_annexb
        from xueliang.media.fmp4 import read_sample
        from xueliang.media.sim.marker import decode_marker

        now = time.monotonic()
        if isinstance(item, InitSegment):
            self.params = item.params
            return
        if self.params is None:
            return
        nalus, _ = read_sample(item.data)
        if item.keyframe:
            nalus = [self.params.sps, self.params.pps, *nalus]
        for frame in self.decoder.decode(av.Packet(join_annexb(nalus))):
            gray = frame.to_ndarray(format="gray")
            h, w = gray.shape
            filled = set()
            for preset, area in AREAS.items():
                xs, ys = [p[0] for p in area], [p[1] for p in area]
                box = gray[
                    int(min(ys) * h) + 4 : int(max(ys) * h) - 4, int(min(xs) * w) + 4 : int(max(xs) * w) - 4
                ]
                if float(box.max()) < 40:
                    filled.add(preset)
            self.seen.append((now, decode_marker(gray), filled, bool(gray.max() < 40)))

    def first(self, since: float, test: Any) -> float | None:
        return next((at for at, *rest in self.seen if at >= since and test(*rest)), None)


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    import httpx
    from sqlalchemy import select

    from xueliang.alarms.config import AlarmSettings
    from xueliang.app import create_app
    from xueliang.cameras.models import Camera
    from xueliang.config import Settings
    from xueliang.core.context import AppContext
    from xueliang.gb28181.config import Gb28181Settings
    from xueliang.gb28181.platform import GbPlatform
    from xueliang.gb28181.sim.loops import marker_number
    from xueliang.gb28181.sim.simulator import GbSimulator, SimOptions
    from xueliang.media.config import MediaSettings
    from xueliang.media.mask.presets import MaskSets, Position, polygons_for
    from xueliang.media.mask.raster import normalise
    from xueliang.media.plane import MediaPlane
    from xueliang.recordings.config import RecordingSettings
    from xueliang.regions.models import Region
    from xueliang.seed.demo import DEMO_PASSWORD
    from xueliang.server import prepare_demo

    tmp = Path(tempfile.mkdtemp(prefix="ptz-mask-"))
    gb = Gb28181Settings(enabled=True, host="127.0.0.1", port=0, device_password=PASSWORD)
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{tmp / 'bench.db'}",
        data_dir=tmp,
        secret_key="bench-secret-" + "p" * 32,
        media=MediaSettings(rtsp_enabled=False, rtsp_port=0),
        recording=RecordingSettings(enabled=False),
        alarms=AlarmSettings(mqtt_enabled=False, pg_bridge=False),
        gb28181=gb,
    )
    await prepare_demo(settings.model_copy(update={"gb28181": Gb28181Settings()}))
    app = create_app(settings, migrate_on_start=False)
    ctx: AppContext = app.state.ctx
    rounds: list[dict[str, float]] = []
    moves: list[float] = []
    leaks = checked = 0
    async with app.router.lifespan_context(app):
        node = ctx.services.require(GbPlatform)
        plane = ctx.services.require(MediaPlane)
        sim = GbSimulator(
            1, f"sip:{gb.sip_id}@127.0.0.1:{node.port}", ROOT / "var" / "bench-cache",
            SimOptions(password=PASSWORD, civil_code=CIVIL, stagger=0.0, keepalive=1.0, seconds=2),
        )  # fmt: skip
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50003))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as admin:
            r = await admin.post("/api/v1/auth/login", json={"username": "admin", "password": DEMO_PASSWORD})
            admin.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            async with ctx.db.session() as session:
                village = await session.scalar(select(Region.id).where(Region.code == VILLAGE))
            device = sim.devices[0]
            await admin.post(
                "/api/v1/gb28181/devices", json={"device_id": device.device_id, "region_id": village}
            )
            await sim.start()
            try:
                await asyncio.wait_for(sim.registered(), 10)
                camera_id = None
                while camera_id is None:
                    async with ctx.db.session() as session:
                        camera_id = await session.scalar(
                            select(Camera.id).where(Camera.gb_id == sim.cameras[0].channel_id)
                        )
                    await asyncio.sleep(0.05)
                url = f"/api/v1/gb28181/cameras/{camera_id}/ptz"
                for preset in AREAS:
                    await admin.post(url, json={"action": "preset_set", "preset": preset})
                    sim.loops.get(marker_number(1, preset))
                for preset, area in AREAS.items():
                    body = {"masks": [{"points": area}]}
                    await admin.put(
                        f"/api/v1/cameras/{camera_id}/masks", params={"preset": preset}, json=body
                    )
                await poll(lambda: plane.engine.has_camera(camera_id))
                original, masked = Watch(), Watch()
                plane.engine.channel(camera_id).add_listener(original.push)
                variant = plane.masks.ensure(camera_id)
                plane.engine.channel(variant).add_listener(masked.push)
                # Checked from the first picture filled whole after the first call on: the pictures before
                # it show the dome as installed, with its default set (none here), some still in flight.
                began: float | None = None
                for preset in AREAS:  # both loops encoded and shown once before timing
                    called = time.monotonic()
                    await admin.post(url, json={"action": "preset_call", "preset": preset})
                    if began is None:
                        await poll(lambda t=called: masked.first(t, lambda m, f, w: w) is not None)
                        began = masked.first(called, lambda m, f, w: w)
                        assert began is not None
                    shown = marker_number(1, preset)
                    await poll(lambda m=shown: masked.first(0, lambda mk, f, w: mk == m) is not None)
                for i in range(args.rounds):
                    preset = 6 if i % 2 == 0 else 7
                    marker = marker_number(1, preset)
                    t0 = time.monotonic()
                    await admin.post(url, json={"action": "preset_call", "preset": preset})
                    answered = time.monotonic()

                    def with_set(
                        m: int | None, f: set[int], w: bool, k: int = marker, p: int = preset
                    ) -> bool:
                        return m == k and p in f

                    def shows(m: int | None, f: set[int], w: bool, k: int = marker) -> bool:
                        return m == k

                    await poll(lambda t=t0: masked.first(t, with_set) is not None)
                    await poll(lambda t=t0: original.first(t, shows) is not None)
                    got, peer = masked.first(t0, with_set), original.first(t0, shows)
                    assert got is not None and peer is not None
                    rounds.append({"api": answered - t0, "original": peer - t0, "masked": got - t0})
                    t1 = time.monotonic()
                    await admin.post(url, json={"action": "left", "speed": 60})
                    await poll(lambda t=t1: masked.first(t, lambda m, f, w: w) is not None, 0.02)
                    full = masked.first(t1, lambda m, f, w: w)
                    assert full is not None
                    moves.append(full - t1)
                    await admin.post(url, json={"action": "stop"})
                need = {marker_number(1, p): p for p in AREAS}
                assert began is not None
                after = [(m, f) for at, m, f, _ in masked.seen if at >= began]
                leaks = sum(
                    1 for m, f in after if m == marker_number(1, 0) or (m in need and need[m] not in f)
                )
                checked = len(after)
            finally:
                await sim.stop()

    sets = MaskSets((), {6: normalise([AREAS[6]]), 7: normalise([AREAS[7]])}, ptz=True, masked=True)
    position = Position(0.0, 6)
    n = 200_000
    start = time.perf_counter()
    for _ in range(n):
        polygons_for(sets, position, 100.0)
    choice_ns = (time.perf_counter() - start) / n * 1e9

    def med(key: str) -> float:
        return round(statistics.median(r[key] for r in rounds), 3)

    return {
        "bench": "ptz_mask_switch",
        "host": host_platform.node(),
        "rounds": len(rounds),
        "median_s": {
            "api_answer": med("api"),
            "original_shows_preset": med("original"),
            "masked_shows_preset_with_its_set": med("masked"),
            "masked_after_original": round(statistics.median(r["masked"] - r["original"] for r in rounds), 3),
            "manual_move_to_whole_fill": round(statistics.median(moves), 3),
        },
        "max_s": {"masked_shows_preset_with_its_set": round(max(r["masked"] for r in rounds), 3)},
        "leaks": leaks,
        "masked_frames_checked": checked,
        "set_choice_ns_per_frame": round(choice_ns),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    print(json.dumps(asyncio.run(bench(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
