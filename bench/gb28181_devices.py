"""1,000 registered GB/T 28181 devices keeping alive: the node's CPU and memory. Prints one JSON object.

The node is this process: the app (`create_app`, GB/T 28181 on, media off) on a fresh migrated SQLite
(or PostgreSQL with --db-url) database, its SIP platform on a loopback UDP port. The devices are
`xueliang.gb28181.sim` in a child process (one shared UDP endpoint, as `xueliang sim --gb28181`
runs them), so their CPU is not counted. Measured:

- registration: from the simulator's start until every device is online in the database (each new
  registration is a Digest REGISTER pair, then the node's Catalog, DeviceInfo and DeviceStatus queries
  and the devices' answers);
- steady state: the node's process CPU over `--window` seconds while the devices keep alive every
  `--keepalive` seconds (time compressed: 60 s in the field); keepalive MESSAGEs handled, counted at
  the platform's handler; CPU per keepalive; and that cost at the real 60 s interval, in % of a core;
- memory: the node's RSS before the devices and after they all registered.

    .venv/bin/python bench/gb28181_devices.py [--devices 1000] [--keepalive 15] [--window 60] [--stagger 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform as host_platform
import resource
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "bench-device-pass"  # noqa: S105 - the simulated devices' password
CIVIL = "51322398"


def rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def simulate(devices: int, platform_uri: str, keepalive: float, stagger: float) -> None:
    """The child process: the devices, until killed."""
    from xueliang.gb28181.sim.simulator import GbSimulator, SimOptions

    options = SimOptions(
        password=PASSWORD, civil_code=CIVIL, keepalive=keepalive, preload=0, stagger=stagger, expires=3600
    )

    async def run() -> None:
        sim = GbSimulator(devices, platform_uri, ROOT / "var", options)
        await sim.start()
        await asyncio.Event().wait()

    asyncio.run(run())


async def bench(args: argparse.Namespace) -> dict[str, object]:
    from xueliang.app import create_app
    from xueliang.audit.models import AuditEvent
    from xueliang.config import Settings
    from xueliang.core import migrate
    from xueliang.gb28181.config import Gb28181Settings
    from xueliang.gb28181.models import GbDevice
    from xueliang.gb28181.platform import GbPlatform
    from xueliang.gb28181.sip.message import SipMessage
    from xueliang.gb28181.sip.transport import Source
    from xueliang.media.config import MediaSettings

    tmp = Path(tempfile.mkdtemp(prefix="gb-bench-"))
    url = args.db_url or f"sqlite+aiosqlite:///{tmp / 'bench.db'}"
    await migrate.upgrade_async(url)
    gb = Gb28181Settings(
        enabled=True,
        host="127.0.0.1",
        port=0,
        transports=("UDP",),
        device_password=PASSWORD,
        keepalive_interval=args.keepalive,
        keepalive_misses=3,
        watchdog_period=5.0,
        query_timeout=8.0,
    )
    settings = Settings(
        database_url=url,
        data_dir=tmp,
        secret_key="bench-secret-" + "b" * 32,
        media=MediaSettings(enabled=False),
        gb28181=gb,
    )
    os.environ.setdefault("XUELIANG_ALARM_MQTT_ENABLED", "false")
    app = create_app(settings, migrate_on_start=False)
    out: dict[str, object] = {"devices": args.devices, "keepalive_s": args.keepalive, "db": url.split(":")[0]}
    async with app.router.lifespan_context(app):
        ctx = app.state.ctx
        node = ctx.services.require(GbPlatform)
        counts = {"keepalive": 0, "other": 0}
        handler: Callable[[SipMessage, Source], Awaitable[SipMessage]] = node.endpoint.handler

        async def counting(msg: SipMessage, src: Source) -> SipMessage:
            counts["keepalive" if b"Keepalive" in msg.body else "other"] += 1
            return await handler(msg, src)

        node.endpoint.handler = counting
        rss_before = rss_mb()
        uri = f"sip:{gb.sip_id}@127.0.0.1:{node.port}"
        child = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--simulate", str(args.devices), "--platform", uri,
            "--keepalive", str(args.keepalive), "--stagger", str(args.stagger), cwd=ROOT,
        )  # fmt: skip
        try:
            start = time.perf_counter()
            cpu0 = time.process_time()
            online = select(func.count()).select_from(GbDevice).where(GbDevice.online.is_(True))
            registrations = (
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "gb28181.register")
            )
            while True:
                async with ctx.db.read_session() as s:
                    n = int(await s.scalar(online) or 0)
                if n >= args.devices or time.perf_counter() - start > args.register_limit:
                    break
                await asyncio.sleep(0.25)
            out["registered_online"] = n
            out["register_all_s"] = round(time.perf_counter() - start, 2)
            out["register_cpu_s"] = round(time.process_time() - cpu0, 2)
            await asyncio.sleep(min(10.0, args.keepalive * 2))  # the queries' answers settle
            out["rss_mb_before"] = round(rss_before, 1)
            out["rss_mb_registered"] = round(rss_mb(), 1)
            out["rss_kb_per_device"] = round((rss_mb() - rss_before) * 1024 / args.devices, 1)
            counts["keepalive"] = 0
            cpu0, t0 = time.process_time(), time.perf_counter()
            await asyncio.sleep(args.window)
            cpu, wall = time.process_time() - cpu0, time.perf_counter() - t0
            kept = counts["keepalive"]
            async with ctx.db.read_session() as s:
                still = int(await s.scalar(online) or 0)
                fresh = int(await s.scalar(registrations) or 0)
        finally:
            child.terminate()
            await asyncio.wait_for(child.wait(), 10)
    per = cpu / max(kept, 1)
    out.update(
        {
            "window_s": round(wall, 1),
            "keepalives": kept,
            "keepalives_per_s": round(kept / wall, 1),
            "cpu_percent_window": round(100 * cpu / wall, 1),
            "cpu_ms_per_keepalive": round(per * 1000, 3),
            "cpu_percent_at_60s_interval": round(100 * per * args.devices / 60, 2),
            "online_at_end": still,
            "fresh_registrations": fresh,  # more than the devices: some went offline and came back
            "max_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "python": host_platform.python_version(),
            "cpus": os.cpu_count(),
        }
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--keepalive", type=float, default=15.0, help="seconds (60 in the field)")
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument(
        "--stagger", type=float, default=30.0, help="seconds over which devices first register"
    )
    parser.add_argument("--db-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--register-limit", type=float, default=600.0, help="seconds to wait for all online")
    parser.add_argument("--simulate", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--platform", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.simulate:
        simulate(args.simulate, args.platform, args.keepalive, args.stagger)
        return
    print(json.dumps(asyncio.run(bench(args)), ensure_ascii=False))


if __name__ == "__main__":
    main()
