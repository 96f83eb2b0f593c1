"""PTZ for GB/T 28181 cameras: the 8-byte `PTZCmd` of `DeviceControl` (GB/T 28181 Annex A.3) and the
rule that one user at a time moves a camera: the first holds control for `HOLD_SECONDS`, renewed by
each command; the others are told who has it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

HOLD_SECONDS = 60

# instruction byte 4: pan/tilt/zoom bits (bit 5 zoom out, 4 zoom in, 3 up, 2 down, 1 left, 0 right)
MOVES = {
    "stop": 0x00,
    "right": 0x01,
    "left": 0x02,
    "down": 0x04,
    "up": 0x08,
    "zoom_in": 0x10,
    "zoom_out": 0x20,
    "up_right": 0x09,
    "up_left": 0x0A,
    "down_right": 0x05,
    "down_left": 0x06,
}
PRESETS = {"preset_set": 0x81, "preset_call": 0x82, "preset_delete": 0x83}
ACTIONS = tuple(MOVES) + tuple(PRESETS)


def ptz_cmd(action: str, speed: int = 0x80, preset: int = 0, address: int = 1) -> str:
    """16 upper-case hex digits. Pan and tilt speed go in bytes 5 and 6, zoom speed in the high
    nibble of byte 7 (a 4-bit value); presets put their number in byte 6. Byte 8 is the sum mod 256."""
    if action in PRESETS:
        if not 1 <= preset <= 255:
            raise ValueError("preset must be 1..255")
        code, data1, data2, data3 = PRESETS[action], 0, preset, 0
    elif action in MOVES:
        if not 0 <= speed <= 255:
            raise ValueError("speed must be 0..255")
        code = MOVES[action]
        pan = tilt = speed if code else 0  # both speeds, whatever the direction (as WVP sends them)
        zoom = min(speed >> 4, 0x0F) if code & 0x30 else 0
        data1, data2, data3 = pan, tilt, zoom
    else:
        raise ValueError(f"unknown PTZ action {action!r}")
    body = [0xA5, 0x0F, address & 0xFF, code, data1, data2, (data3 << 4) | ((address >> 8) & 0x0F)]
    return bytes([*body, sum(body) % 256]).hex().upper()


@dataclass
class Holder:
    user_id: int
    username: str
    until: datetime


class PtzControl:
    """Who holds each camera's PTZ (in this process; a node runs the SIP side in one process)."""

    def __init__(self) -> None:
        self._held: dict[int, Holder] = {}

    def take(self, camera_id: int, user_id: int, username: str, now: datetime) -> tuple[bool, Holder]:
        """(granted, the holder now). The holder's own command renews the hold."""
        current = self._held.get(camera_id)
        if current is not None and current.until > now and current.user_id != user_id:
            return False, current
        holder = Holder(user_id, username, now + timedelta(seconds=HOLD_SECONDS))
        self._held[camera_id] = holder
        return True, holder


def effect(command: str) -> tuple[str, int]:
    """What a PTZCmd (16 hex digits) does to where the camera points: ("call", n) turns it to preset n,
    ("save", n) stores where it points as preset n, ("delete", n) forgets preset n, ("move", 0) pans,
    tilts or zooms it, ("keep", 0) leaves it (stop, anything else or malformed)."""
    try:
        raw = bytes.fromhex(command)
    except ValueError:
        return "keep", 0
    if len(raw) != 8:
        return "keep", 0
    code, preset = raw[3], raw[5]
    if code == PRESETS["preset_call"] and preset:
        return "call", preset
    if code == PRESETS["preset_set"] and preset:
        return "save", preset
    if code == PRESETS["preset_delete"] and preset:
        return "delete", preset
    if code < 0x40 and code & 0x3F:
        return "move", 0
    return "keep", 0
