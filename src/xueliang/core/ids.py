"""GB/T 28181 20-digit codes: centre code (8) + industry (2) + type (3) + network (1) + serial (6)."""

from __future__ import annotations

import re

GB_ID = re.compile(r"^\d{20}$")
TYPE_CAMERA = 132  # network camera (IPC)
TYPE_PLATFORM = 200  # central signalling / platform node
TYPE_ALARM_INPUT = 134


def gb_id(civil_code: str, type_code: int, serial: int, industry: str = "00", network: int = 0) -> str:
    """Build a 20-digit ID; `civil_code` is padded to the 8-digit centre code."""
    centre = (civil_code + "00000000")[:8]
    code = f"{centre}{industry}{type_code:03d}{network}{serial:06d}"
    if not GB_ID.match(code):
        raise ValueError(f"not a valid GB/T 28181 ID: {code!r}")
    return code


def gb_type(code: str) -> int:
    if not GB_ID.match(code):
        raise ValueError(f"not a valid GB/T 28181 ID: {code!r}")
    return int(code[10:13])
