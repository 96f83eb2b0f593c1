"""Media processes by role: total CPU for N cameras in 1 media process against K media processes, same
run, same simulator (issue 20; not a test). Prints one JSON object.

For each round: start 1 `xueliang serve --role media` process, wait until every camera is online in
the lease table, measure its CPU (utime + stime from /proc) over --window seconds after --warmup;
stop it; then K processes, wait until every camera is online and the shares are even, measure the
sum of their CPU over the same window. Recording, MQTT, the RTSP re-serve and grid are off; nobody
watches (the ingest side of the media plane, which is what sharding splits). Medians over --rounds.

    .venv/bin/python bench/roles_cpu.py [--cameras 59] [--processes 4] [--window 30] [--rounds 3]

Needs a PostgreSQL server (XUELIANG_BENCH_PG_ADMIN, default postgresql://postgres@127.0.0.1:5432/
postgres). The simulator's 640x360 loops are encoded once into --sim-data (a minute or two for 59)."""

from __future__ import annotations

import argparse
import json
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from roles_common import Bench, cpu_seconds, wait


def measure(bench: Bench, ports: list[int], warmup: float, window: float) -> float:
    """% of one core, summed over the processes, over the window."""
    time.sleep(warmup)
    pids = [bench.procs[p].pid for p in ports]
    before = sum(cpu_seconds(pid) for pid in pids)
    start = time.monotonic()
    time.sleep(window)
    used = sum(cpu_seconds(pid) for pid in pids) - before
    return 100.0 * used / (time.monotonic() - start)


def run_phase(bench: Bench, count: int, warmup: float, window: float) -> dict[str, float]:
    ports = [bench.start_media() for _ in range(count)]
    share = math.ceil(bench.cameras / count)
    took = wait(
        lambda: (
            sum(bench.online_by_port().values()) == bench.cameras
            and all(bench.online_by_port().get(p, 0) >= bench.cameras // count for p in ports)
            and all(n <= share for n in bench.online_by_port().values())
        ),
        300,
        f"{bench.cameras} cameras online over {count} media processes",
        every=0.5,
    )
    pct = measure(bench, ports, warmup, window)
    rss = 0
    for port in ports:
        with open(f"/proc/{bench.procs[port].pid}/statm") as fh:
            rss += int(fh.read().split()[1]) * 4096
    for port in ports:
        bench.stop_media(port)
    return {"cpu_pct": round(pct, 2), "per_camera_pct": round(pct / bench.cameras, 3),
            "rss_mb": round(rss / 2**20, 1), "settle_s": round(took, 1)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cameras", type=int, default=59)
    parser.add_argument("--processes", type=int, default=4)
    parser.add_argument("--warmup", type=float, default=10.0)
    parser.add_argument("--window", type=float, default=30.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sim-data", type=Path, default=Path("var/bench-sim"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="xl-roles-") as tmp:
        bench = Bench(args.cameras, Path(tmp), args.sim_data)
        try:
            bench.setup()
            rounds: list[dict[str, Any]] = []
            for _ in range(args.rounds):
                one = run_phase(bench, 1, args.warmup, args.window)
                many = run_phase(bench, args.processes, args.warmup, args.window)
                rounds.append({"one": one, "many": many, "ratio": round(many["cpu_pct"] / one["cpu_pct"], 3)})
                print(json.dumps(rounds[-1]), flush=True)
        finally:
            bench.close()
    result = {
        "cameras": args.cameras,
        "processes": args.processes,
        "window_s": args.window,
        "one_process_cpu_pct_median": statistics.median(float(r["one"]["cpu_pct"]) for r in rounds),
        "many_processes_cpu_pct_median": statistics.median(float(r["many"]["cpu_pct"]) for r in rounds),
        "ratio_median": statistics.median(float(r["ratio"]) for r in rounds),
        "rounds": rounds,
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
