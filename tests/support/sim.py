"""Simulated cameras in the tests: the loops' cache and the in-process simulator's cameras.

`python -m tests.support.sim` encodes the loops the tests use into the cache (what `make test` does
once, before its passes start side by side)."""

from __future__ import annotations

from pathlib import Path

# Encoded loops survive runs: var/ in the repository (ignored by git), shared by the test passes.
SIM_CACHE = Path(__file__).resolve().parents[2] / "var" / "test-cache"
SIM_CAMERAS = 4  # the `simulator` fixture's cameras 1..4, all in village 1 (上坪村), public and not
GB_IDS = {f"3402000000132000000{n}": n for n in (1, 2, 3)}  # the `sim` fixture of tests/media


def warm_cache() -> None:
    from xueliang.media.sim.encode import LoopSpec, ensure_loop

    for number in range(1, SIM_CAMERAS + 1):
        ensure_loop(SIM_CACHE, number, LoopSpec())
    # simulated GB cameras (gb28181/sim/loops.py markers): the demo test's three, and the small loops
    # of tests/gb28181/sim and tests/browser/test_gb_ptz.py (camera 1 at no preset, presets 6 and 7)
    for number in (20100, 20200, 20300):
        ensure_loop(SIM_CACHE, number, LoopSpec())
    for number in (20100, 20106, 20107):
        ensure_loop(SIM_CACHE, number, LoopSpec(width=320, height=180, seconds=2, gop_seconds=2))


if __name__ == "__main__":
    warm_cache()
