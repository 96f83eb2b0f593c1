"""Records: per-station time to acknowledge against the EN 50518 yardsticks (80 % in 30 s, 98.5 % in
60 s), false-alarm share, and a CSV export of the history. Percentiles use the nearest-rank method,
so every figure is a time some alarm actually took."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.policy import Principal
from xueliang.alarms.models import TECHNICAL_KINDS, Alarm, AlarmState
from xueliang.alarms.schemas import StatsRow
from xueliang.alarms.service import AlarmQuery, scoped
from xueliang.regions.models import Region


def percentile(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def tta_seconds(alarm: Alarm) -> float | None:
    if alarm.acknowledged_at is None:
        return None
    return (alarm.acknowledged_at - alarm.received_at).total_seconds()


def station_row(station: Region, alarms: list[Alarm]) -> StatsRow:
    times = sorted(t for t in (tta_seconds(a) for a in alarms) if t is not None)
    n = len(alarms)

    def share(k: int) -> float | None:
        return round(k / n, 4) if n else None

    return StatsRow(
        station_region_id=station.id,
        station_name=station.name,
        alarms=n,
        acknowledged=len(times),
        tta_p50_s=percentile(times, 50),
        tta_p90_s=percentile(times, 90),
        tta_p985_s=percentile(times, 98.5),
        acked_within_30s=share(sum(1 for t in times if t <= 30)),
        acked_within_60s=share(sum(1 for t in times if t <= 60)),
        false_alarm_share=share(sum(1 for a in alarms if a.state is AlarmState.false_alarm)),
        escalated=sum(1 for a in alarms if a.escalation_level > 0),
    )


async def station_stats(
    session: AsyncSession, p: Principal, q: AlarmQuery, include_technical: bool = False
) -> list[StatsRow]:
    alarms = (await session.scalars(scoped(p, q))).all()
    groups: dict[int, list[Alarm]] = {}
    for alarm in alarms:
        if include_technical or alarm.kind not in TECHNICAL_KINDS:
            groups.setdefault(alarm.station_region_id, []).append(alarm)
    rows = []
    for station_id in sorted(groups):
        station = await session.get(Region, station_id)
        assert station is not None
        rows.append(station_row(station, groups[station_id]))
    return rows


CSV_COLUMNS = [
    "id",
    "uuid",
    "kind",
    "source",
    "state",
    "station",
    "village",
    "household_id",
    "device_id",
    "camera_id",
    "lat",
    "lon",
    "pressed_at",
    "received_at",
    "acknowledged_at",
    "tta_s",
    "escalation_level",
    "dispatched_at",
    "dispatched_to",
    "on_scene_at",
    "closed_at",
    "press_count",
    "note",
]


def _iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


def _cell(value: object) -> str:
    """Neutralize spreadsheet formulas in free text (CSV injection)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_text(alarms: Iterable[Alarm], names: dict[int, str]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for a in alarms:
        tta = tta_seconds(a)
        writer.writerow(
            [
                a.id,
                a.uuid,
                a.kind.value,
                a.source,
                a.state.value,
                names.get(a.station_region_id, ""),
                names.get(a.region_id, ""),
                a.household_id or "",
                a.device_id or "",
                a.camera_id or "",
                a.lat if a.lat is not None else "",
                a.lon if a.lon is not None else "",
                _iso(a.pressed_at),
                _iso(a.received_at),
                _iso(a.acknowledged_at),
                "" if tta is None else round(tta, 3),
                a.escalation_level,
                _iso(a.dispatched_at),
                _cell(a.dispatched_to),
                _iso(a.on_scene_at),
                _iso(a.closed_at),
                a.press_count,
                _cell(a.note),
            ]
        )
    return buf.getvalue()


async def export_csv(
    session: AsyncSession, p: Principal, q: AlarmQuery, limit: int = 100_000
) -> tuple[str, int]:
    alarms = list(
        (await session.scalars(scoped(p, q).order_by(Alarm.received_at, Alarm.id).limit(limit))).all()
    )
    ids = {a.region_id for a in alarms} | {a.station_region_id for a in alarms}
    names = {r.id: r.name for r in [await session.get(Region, i) for i in ids] if r is not None}
    return csv_text(alarms, names), len(alarms)
