"""Failover of media processes (issue 20; not a test): time from SIGKILL of a media process to every
one of its cameras playing again at another, p50 and max over --kills kills. Prints one JSON object.

--processes media processes share --cameras simulated cameras through the lease table. Each round
picks the process holding the most cameras, notes them, SIGKILLs it, and polls the lease table every
50 ms until each of those cameras is `online` (frames arriving) at another process: that instant is
the camera playing again (a viewer's next open gets a stream at once from the cached GOP). Then a
fresh media process joins (the cameras rebalance, release before acquire) and the next round starts
once the shares are even again.

    .venv/bin/python bench/roles_failover.py [--cameras 8] [--processes 2] [--kills 20]

Expect about lease TTL (5 s) + one lease pass (1 s) + the camera's connect time; the design bound is
10 s (docs/operations.md). Needs PostgreSQL as bench/roles_cpu.py does."""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from pathlib import Path

from roles_common import Bench, wait


def balanced(bench: Bench, ports: list[int]) -> bool:
    online = bench.online_by_port()
    share = math.ceil(bench.cameras / len(ports))
    return sum(online.values()) == bench.cameras and all(
        bench.cameras // len(ports) <= online.get(p, 0) <= share for p in ports
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=8)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--sim-data", type=Path, default=Path("var/bench-sim"))
    args = parser.parse_args()
    times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="xl-failover-") as tmp:
        bench = Bench(args.cameras, Path(tmp), args.sim_data)
        try:
            bench.setup()
            ports = [bench.start_media() for _ in range(args.processes)]
            wait(lambda: balanced(bench, ports), 300, "the cameras shared out", every=0.5)
            for kill in range(args.kills):
                rows = bench.leases()
                by_port: dict[int, list[int]] = {}
                for row in rows:
                    if row["url"]:
                        by_port.setdefault(int(str(row["url"]).rsplit(":", 1)[1]), []).append(
                            row["camera_id"]
                        )
                victim = max(ports, key=lambda p: len(by_port.get(p, [])))
                moved = set(by_port.get(victim, []))
                victim_url = f"http://127.0.0.1:{victim}"
                started = time.monotonic()
                bench.stop_media(victim, kill=True)
                ports.remove(victim)

                def back(moved: set[int] = moved, victim_url: str = victim_url) -> bool:
                    now = {r["camera_id"]: r for r in bench.leases()}
                    return all(
                        c in now and now[c]["status"] == "online" and now[c]["url"] != victim_url
                        for c in moved
                    )

                wait(back, 120, f"the cameras of the killed process back (kill {kill + 1})", every=0.05)
                took = time.monotonic() - started
                times.append(took)
                print(
                    json.dumps({"kill": kill + 1, "cameras": len(moved), "seconds": round(took, 2)}),
                    flush=True,
                )
                ports.append(bench.start_media())
                wait(lambda: balanced(bench, ports), 300, "the cameras rebalanced", every=0.5)
        finally:
            bench.close()
    ordered = sorted(times)
    result = {
        "cameras": args.cameras,
        "processes": args.processes,
        "kills": len(times),
        "p50_s": round(statistics.median(ordered), 2),
        "p90_s": round(ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)], 2),
        "max_s": round(ordered[-1], 2),
        "min_s": round(ordered[0], 2),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
