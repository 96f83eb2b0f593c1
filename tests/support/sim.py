"""The in-process simulator's cameras in the media tests (the `sim` fixture of tests/media)."""

from __future__ import annotations

GB_IDS = {f"3402000000132000000{n}": n for n in (1, 2, 3)}
