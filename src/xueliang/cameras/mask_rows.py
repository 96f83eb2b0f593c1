"""A camera's privacy mask rows as another node receives them (federation, issue 18): the hosting node
sends its rows up with the camera catalog and the parent makes them its copy's masks.

Column by column, so columns added to `camera_masks` later (a PTZ preset, a schedule) travel without
this module knowing them; a foreign key stays behind (another row's id here means nothing there, and a
row without it masks more, not less). Kept apart from masks.py, which decides who sees what."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.cameras.mask_models import CameraMask
from xueliang.cameras.masks import check_polygon
from xueliang.core.row_json import row_out, values_in

_NOT_CARRIED = frozenset({"id", "camera_id"})  # this node's own keys; everything else travels


def _carried(column: Any) -> bool:
    """Whether a column travels: not this node's own keys, nor another row's id here (a foreign key
    means nothing at another node; without it a row applies to every case, which masks more, not less)."""
    return column.key not in _NOT_CARRIED and not column.foreign_keys


def mask_rows_out(rows: Sequence[CameraMask]) -> list[dict[str, Any]]:
    """The rows as plain JSON, column by column (core/row_json.py)."""
    return [row_out(row, _carried) for row in rows]


def mask_rows_in(camera_id: int, items: Sequence[dict[str, Any]], now: datetime) -> list[CameraMask]:
    """Rows for this node's copy of a camera from `mask_rows_out` of its owner: columns this node
    does not have are dropped, dates parsed, polygons checked as an editor's are (ValidationFailed)."""
    rows = []
    for item in items:
        values = values_in(CameraMask, dict(item), _carried)
        values["points"] = check_polygon(values.get("points") or [])
        values["label"] = str(values.get("label") or "")[:100]
        values["created_by"] = str(values.get("created_by") or "")[:64]
        values["created_at"] = values.get("created_at") or now
        rows.append(CameraMask(camera_id=camera_id, **values))
    return rows


async def camera_mask_rows(session: AsyncSession, camera_ids: Sequence[int]) -> dict[int, list[CameraMask]]:
    """Camera id -> its mask rows in drawing order, for the given cameras."""
    stmt = (
        select(CameraMask)
        .where(CameraMask.camera_id.in_(list(camera_ids)))
        .order_by(CameraMask.camera_id, CameraMask.id)
    )
    out: dict[int, list[CameraMask]] = {}
    for row in (await session.scalars(stmt)).all():
        out.setdefault(row.camera_id, []).append(row)
    return out
