"""/metrics scrape cost with 1,000 cameras' series. Prints one JSON object.

A real app (fresh migrated SQLite database, media engine off) gets a stand-in media plane whose engine
reports N cameras' health (the shape `MediaEngine.health_all` returns), and a few alarms by state;
then the /metrics route is called K times in process (ASGI, no socket): reported are the time per
scrape (p50, p90, max), the body's size and the number of series, and CPU seconds per scrape.

    .venv/bin/python bench/metrics_scrape.py --cameras 1000 --scrapes 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from xueliang.alarms.config import AlarmSettings
from xueliang.app import create_app
from xueliang.config import Settings
from xueliang.media.config import MediaSettings
from xueliang.media.engine import CameraHealth, CameraStatus
from xueliang.media.plane.plane import MediaPlane


@dataclass
class FakeEngine:
    healths: list[CameraHealth]

    def health_all(self) -> list[CameraHealth]:
        return self.healths


@dataclass
class FakePlane:
    engine: FakeEngine


def healths(n: int) -> list[CameraHealth]:
    statuses = list(CameraStatus)
    return [
        CameraHealth(
            camera_id=i,
            status=statuses[i % len(statuses)],
            reason="",
            since=0.0,
            reconnects=i % 7,
            fps=25.0,
            bitrate_bps=1_000_000.0 + i,
            last_keyframe_at=None,
            last_frame_at=None,
            viewers=i % 3,
            frames_in=i * 100,
            drops=i % 5,
            codec="h264",
            width=640,
            height=360,
        )
        for i in range(1, n + 1)
    ]


async def run(cameras: int, scrapes: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp),
            secret_key="bench-" + "x" * 40,
            media=MediaSettings(enabled=False),
            alarms=AlarmSettings(mqtt_enabled=False, pg_bridge=False),
        )
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            app.state.ctx.services.add(FakePlane(FakeEngine(healths(cameras))), MediaPlane)
            transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50900))
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as c:
                first = await c.get("/metrics")
                assert first.status_code == 200, first.text
                times: list[float] = []
                cpu0 = time.process_time()
                for _ in range(scrapes):
                    t = time.perf_counter()
                    r = await c.get("/metrics")
                    times.append(time.perf_counter() - t)
                    assert r.status_code == 200
                cpu = (time.process_time() - cpu0) / scrapes
        series = sum(1 for line in first.text.splitlines() if line and not line.startswith("#"))
        times.sort()
        return {
            "bench": "metrics_scrape",
            "cameras": cameras,
            "scrapes": scrapes,
            "series": series,
            "body_bytes": len(first.content),
            "ms_p50": round(statistics.median(times) * 1000, 2),
            "ms_p90": round(times[int(len(times) * 0.9) - 1] * 1000, 2),
            "ms_max": round(times[-1] * 1000, 2),
            "cpu_ms_per_scrape": round(cpu * 1000, 2),
            "python": platform.python_version(),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=1000)
    parser.add_argument("--scrapes", type=int, default=50)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.cameras, args.scrapes))))


if __name__ == "__main__":
    main()
