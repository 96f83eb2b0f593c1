"""Pure parts: view-sector geometry, the transition table, percentiles, CSV neutralization, payloads."""

from __future__ import annotations

import pytest

from xueliang.alarms.models import AlarmState
from xueliang.alarms.mqtt import BadPayload, parse_press
from xueliang.alarms.routing import covers, offset_m
from xueliang.alarms.stats import _cell, percentile
from xueliang.alarms.workflow import CLOSED, Action, reachable, target

LAT, LON = 31.7, 103.8


def at(north_m: float, east_m: float) -> tuple[float, float]:
    import math

    from xueliang.alarms.routing import EARTH_M_PER_DEG_LAT, EARTH_M_PER_DEG_LON

    return LAT + north_m / EARTH_M_PER_DEG_LAT, LON + east_m / (
        EARTH_M_PER_DEG_LON * math.cos(math.radians(LAT))
    )


@pytest.mark.parametrize(
    ("heading", "fov", "rng", "north", "east", "expected"),
    [
        (0, 90, 50, 30, 0, True),  # straight ahead
        (0, 90, 50, 60, 0, False),  # beyond range
        (0, 90, 50, -30, 0, False),  # behind
        (0, 90, 50, 30, 29, True),  # inside the 45° half-angle
        (0, 90, 50, 20, 30, False),  # outside it
        (350, 40, 80, 50, -5, True),  # sector across north
        (90, 60, 80, 0, 50, True),  # east-facing
        (270, 60, 80, 0, 50, False),
        (123, 360, 40, -20, -20, True),  # all round
    ],
)
def test_view_sector(
    heading: float, fov: float, rng: float, north: float, east: float, expected: bool
) -> None:
    lat, lon = at(north, east)
    assert covers(LAT, LON, heading, fov, rng, lat, lon) is expected


def test_offsets_are_metres() -> None:
    east, north = offset_m(LAT, LON, *at(100, -40))
    assert abs(north - 100) < 0.01 and abs(east + 40) < 0.01


def test_transition_table() -> None:
    assert reachable() == set(AlarmState)
    assert target(Action.acknowledge, AlarmState.new) is AlarmState.acknowledged
    assert target(Action.resolve, AlarmState.new) is None  # a person must take it first
    for closed in CLOSED:
        assert all(target(a, closed) is None for a in Action)  # latched closed: no way back


def test_percentile_nearest_rank() -> None:
    values = sorted(float(v) for v in range(1, 201))
    assert percentile(values, 50) == 100 and percentile(values, 98.5) == 197 and percentile([], 50) is None


def test_csv_cells_cannot_be_formulas() -> None:
    assert _cell("=HYPERLINK(1)") == "'=HYPERLINK(1)" and _cell("patrol 2") == "patrol 2"


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"[]",
        b'{"uuid": 5}',
        b'{"uuid": "0f0f", "kind": "x"}',
        b'{"uuid": "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "ts": true}',
        b'{"uuid": "3f2504e0-4f89-11d3-9a0c-0305e82c3301", "seq": "1"}',
    ],
)
def test_bad_payloads(payload: bytes) -> None:
    with pytest.raises(BadPayload):
        parse_press("dev-1", payload)


def test_good_payload() -> None:
    press = parse_press(
        "dev-1", b'{"uuid": "3F2504E0-4F89-11D3-9A0C-0305E82C3301", "ts": "2026-01-01T08:00:00+08:00"}'
    )
    assert press.uuid == "3f2504e0-4f89-11d3-9a0c-0305e82c3301" and press.pressed_at is not None
    assert press.pressed_at.utcoffset() is not None and press.kind.value == "emergency"
