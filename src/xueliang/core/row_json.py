"""ORM rows as plain JSON and back, column by column, for rows another node keeps a copy of
(federation: a camera's masks, county portal content). Column by column, so a column added to a table
later travels without the sender or receiver knowing it; the caller says which columns stay behind
(its own keys)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, DateTime

from xueliang.core.db import Base

Carried = Callable[[Any], bool]  # a table column -> whether it travels


def row_out(row: Base, carried: Carried) -> dict[str, Any]:
    """The row's carried columns; dates and times as ISO text."""
    out: dict[str, Any] = {}
    for column in row.__table__.columns:
        if carried(column):
            value = getattr(row, column.key)
            out[column.key] = value.isoformat() if isinstance(value, date) else value
    return out


def values_in(model: type[Base], item: dict[str, Any], carried: Carried) -> dict[str, Any]:
    """The carried columns of `model` found in `item` (a newer sender's unknown keys dropped), dates
    and times parsed; a date or time that is not ISO text becomes None."""
    out: dict[str, Any] = {}
    for column in model.__table__.columns:
        if not carried(column) or column.key not in item:
            continue
        value = item[column.key]
        kind = getattr(column.type, "impl", column.type)  # UtcDateTime wraps DateTime
        if isinstance(kind, DateTime):
            value = datetime.fromisoformat(value) if isinstance(value, str) else None
        elif isinstance(kind, Date):
            value = date.fromisoformat(value) if isinstance(value, str) else None
        out[column.key] = value
    return out
