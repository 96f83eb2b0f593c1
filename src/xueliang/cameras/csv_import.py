"""Bulk camera import from CSV: every row is checked, and nothing is written unless all rows are good."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.policy import Principal
from xueliang.audit import service as audit
from xueliang.audit.service import Actor
from xueliang.cameras import service
from xueliang.cameras.models import Camera, CameraKind
from xueliang.core.errors import AppError
from xueliang.core.ids import GB_ID
from xueliang.regions.models import Region

COLUMNS = [
    "gb_id",
    "name",
    "region_code",
    "kind",
    "lat",
    "lon",
    "heading",
    "fov_angle",
    "fov_range",
    "ptz",
    "public_view",
    "stream_url",
]
OPTIONAL = ["name_en", "enabled", "record", "retention_days"]
TRUE, FALSE = {"1", "true", "yes", "y", "是"}, {"0", "false", "no", "n", "否", ""}


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class CsvImportError(Exception):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("\n".join(map(str, errors)))
        self.errors = errors


def _bool(value: str) -> bool:
    v = value.strip().lower()
    if v in TRUE:
        return True
    if v in FALSE:
        return False
    raise ValueError(f"expected yes/no, got {value!r}")


def _row_fields(row: dict[str, str]) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "name": row["name"].strip(),
        "kind": CameraKind(row["kind"].strip()),
        "lat": float(row["lat"]),
        "lon": float(row["lon"]),
        "heading": float(row["heading"]),
        "fov_angle": float(row["fov_angle"]),
        "fov_range": float(row["fov_range"]),
        "ptz": _bool(row["ptz"]),
        "public_view": _bool(row["public_view"]),
        "stream_url": row["stream_url"].strip(),
    }
    if row.get("name_en"):
        fields["name_en"] = row["name_en"].strip()
    for key in ("enabled", "record"):
        if row.get(key, "").strip():
            fields[key] = _bool(row[key])
    if row.get("retention_days", "").strip():
        fields["retention_days"] = int(row["retention_days"])
    if not fields["name"]:
        raise ValueError("name is empty")
    service.validate_fields(fields)
    return fields


def read_rows(path: Path) -> list[tuple[int, dict[str, str]]]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise CsvImportError([RowError(0, f"{path}: no such file")]) from exc
    except UnicodeDecodeError as exc:
        raise CsvImportError([RowError(0, f"{path}: not UTF-8 text ({exc.reason})")]) from exc
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise CsvImportError([RowError(1, f"missing columns: {', '.join(missing)}")])
    return [(reader.line_num, row) for row in reader]


async def import_csv(session: AsyncSession, p: Principal, actor: Actor, path: Path, now: datetime) -> int:
    """Returns the number of cameras created; raises CsvImportError listing every bad row. The caller
    commits on success and rolls back on error."""
    rows = read_rows(path)
    regions = {r.code: r for r in (await session.scalars(select(Region))).all()}
    taken = set((await session.scalars(select(Camera.gb_id))).all())
    errors: list[RowError] = []
    good: list[tuple[int, str, Region, dict[str, Any]]] = []
    seen: set[str] = set()
    for line, row in rows:
        try:
            if None in row or any(v is None for v in row.values()):
                raise ValueError("wrong number of columns")
            gb_id = row["gb_id"].strip()
            if not GB_ID.match(gb_id):
                raise ValueError(f"gb_id must be 20 digits, got {gb_id!r}")
            if gb_id in taken or gb_id in seen:
                raise ValueError(f"camera {gb_id} already exists")
            region = regions.get(row["region_code"].strip())
            if region is None or not region.path.startswith(p.region_path):
                raise ValueError(f"region {row['region_code']!r} not found in your scope")
            fields = _row_fields(row)
        except (ValueError, KeyError, AppError) as exc:
            reason = exc.message if isinstance(exc, AppError) else str(exc)
            errors.append(RowError(line, reason))
            continue
        seen.add(gb_id)
        good.append((line, gb_id, region, fields))
    if errors:
        raise CsvImportError(errors)
    for line, gb_id, region, fields in good:
        try:
            await service.create_camera(
                session, p, actor, gb_id=gb_id, region_id=region.id, now=now, audit_it=False, **fields
            )
        except AppError as exc:
            raise CsvImportError([RowError(line, exc.message)]) from exc
    await audit.append(
        session,
        actor,
        "camera.import",
        at=now,
        target_type="camera",
        detail={"file": path.name, "count": len(good)},
    )
    return len(good)
