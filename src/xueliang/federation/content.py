"""County content down the tree (issue 18): the departments directory, government services, job
postings and produce prices a node publishes go to every node below it, so a village TV shows the
county's content. The child keeps each row as a copy (`portal_upstream`, portal/upstream.py) and
refuses edits of it ("owned above"); what a child publishes itself stays its own.

Sent like notices, by a sweep rather than an event: each kind's rows changed since the newest one
already queued for that child (the cursor is kept in the outbox row's body, so a restart resumes
there and a first link sends everything). Rows are copied column by column, so a column added to a
portal table travels without this module knowing it. A copy's `updated_at` is the time it arrived
here, so this node's own sweep passes it on to its children in turn."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Date, DateTime, select
from sqlalchemy import event as sa_event
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from xueliang.audit import service as audit
from xueliang.core.db import Base, database_key
from xueliang.core.errors import AppError
from xueliang.federation.apply import node_actor
from xueliang.federation.envelope import Envelope, Refused
from xueliang.nodes.models import Node
from xueliang.portal import service as portal
from xueliang.portal.models import (
    PortalDepartment,
    PortalJob,
    PortalMarket,
    PortalPrice,
    PortalProduct,
    PortalService,
    UpstreamCopy,
)

KINDS = ("department", "service", "job", "price")  # in this order: a service names its department
ROWS_PER_MESSAGE = 100  # a message stays well under the nats-server's 1 MB payload
MARGIN = timedelta(seconds=5)  # rows committed out of time order (PostgreSQL) are still found
MODELS: dict[str, type[Base]] = {
    "department": PortalDepartment,
    "service": PortalService,
    "job": PortalJob,
    "product": PortalProduct,
    "market": PortalMarket,
}
_OWN_KEYS = frozenset({"id", "department_id", "product_id", "market_id"})  # this node's ids


# ---- rows as plain JSON, column by column -------------------------------------------------------


def plain(row: Base) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in row.__table__.columns:
        if column.key in _OWN_KEYS:
            continue
        value = getattr(row, column.key)
        out[column.key] = value.isoformat() if isinstance(value, (date, datetime)) else value
    out["remote_id"] = row.id  # type: ignore[attr-defined]
    return out


def _values(model: type[Base], item: dict[str, Any]) -> dict[str, Any]:
    """The columns of `model` found in `item`, dates parsed; unknown keys (a newer sender's) dropped."""
    out: dict[str, Any] = {}
    for column in model.__table__.columns:
        if column.key in _OWN_KEYS or column.key not in item:
            continue
        value = item[column.key]
        kind = getattr(column.type, "impl", column.type)  # UtcDateTime wraps DateTime
        if isinstance(value, str) and isinstance(kind, DateTime):
            value = datetime.fromisoformat(value)
        elif isinstance(value, str) and isinstance(kind, Date):
            value = date.fromisoformat(value)
        out[column.key] = value
    return out


# ---- sent ----------------------------------------------------------------------------------------


def _stamp(kind: str) -> Any:
    return PortalPrice.published_at if kind == "price" else MODELS[kind].updated_at  # type: ignore[attr-defined]


async def changed(
    session: AsyncSession, kind: str, since: datetime | None, sent: set[tuple[int, str]]
) -> tuple[list[dict[str, Any]], datetime | None, set[tuple[int, str]]]:
    """Rows of `kind` changed at or after `since` (less the margin; everything when None) and not in
    `sent` (the (id, stamp) pairs already queued within the margin). Returns the rows, the newest
    stamp, and the pairs to remember."""
    stamp = _stamp(kind)
    if kind == "price":
        stmt: Any = (
            select(PortalPrice, PortalProduct, PortalMarket)
            .join(PortalProduct, PortalProduct.id == PortalPrice.product_id)
            .join(PortalMarket, PortalMarket.id == PortalPrice.market_id)
        )
    elif kind in ("service", "job"):
        model = MODELS[kind]
        stmt = select(model, PortalDepartment.code).outerjoin(
            PortalDepartment,
            PortalDepartment.id == model.department_id,  # type: ignore[attr-defined]
        )
    else:
        stmt = select(MODELS[kind])
    if since is not None:
        stmt = stmt.where(stamp >= since - MARGIN)
    rows = (await session.execute(stmt.order_by(stamp, _id(kind)).limit(5000))).all()
    out: list[dict[str, Any]] = []
    newest = since
    keep: set[tuple[int, str]] = set()
    for found in rows:
        row = found[0]
        at: datetime = getattr(row, "published_at" if kind == "price" else "updated_at")
        key = (row.id, at.isoformat())
        newest = at if newest is None or at > newest else newest
        keep.add(key)
        if key in sent:
            continue
        item = plain(row)
        if kind == "price":
            item["product"], item["market"] = plain(found[1]), plain(found[2])
        elif kind in ("service", "job"):
            item["department_code"] = found[1]
        out.append(item)
    horizon = newest - MARGIN if newest is not None else None
    return out, newest, {k for k in keep if horizon is None or datetime.fromisoformat(k[1]) >= horizon}


def _id(kind: str) -> Any:
    return PortalPrice.id if kind == "price" else MODELS[kind].id  # type: ignore[attr-defined]


def batches(kind: str, rows: Sequence[dict[str, Any]], until: datetime) -> list[dict[str, Any]]:
    return [
        {"kind": kind, "rows": list(rows[i : i + ROWS_PER_MESSAGE]), "until": until.isoformat()}
        for i in range(0, len(rows), ROWS_PER_MESSAGE)
    ]


# ---- applied -------------------------------------------------------------------------------------


async def apply_content(session: AsyncSession, peer: Node, env: Envelope, now: datetime) -> str:
    """Copy the parent's rows here (added, or changed where they differ), each recorded as owned above."""
    b = env.body
    kind = str(b["kind"])
    if kind not in KINDS:
        raise Refused(f"unknown content kind {kind!r}")
    items = [dict(item) for item in b["rows"]]
    copier = _Copier(session, peer.gb_id, now)
    try:  # a row this node cannot take refuses the message, never stalls the link behind it
        async with session.begin_nested():
            if kind == "price":
                changed_n = await copier.prices(items)
            else:
                changed_n = 0
                for item in items:
                    changed_n += await copier.row(kind, item)
    except OperationalError:
        raise  # the database busy: delivered again
    except (SQLAlchemyError, AppError, AttributeError) as exc:
        raise Refused(
            f"message {env.id}: {kind} rows not taken ({type(exc).__name__}: {exc})"[:300]
        ) from None
    if changed_n:
        await audit.append(
            session, node_actor(peer.gb_id), f"portal.{kind}.copy", at=now, target_type="portal_content",
            target_id=kind, detail={"rows": len(items), "changed": changed_n, "via": peer.gb_id},
        )  # fmt: skip
        key = database_key(session)

        def invalidate(_s: Session) -> None:  # the search index rebuilds once the copy is committed
            portal.content_changed_key(key)

        sa_event.listen(session.sync_session, "after_commit", invalidate, once=True)
    return f"{kind}: {len(items)} rows, {changed_n} changed"


class _Copier:
    def __init__(self, session: AsyncSession, owner: str, now: datetime) -> None:
        self.session, self.owner, self.now = session, owner, now

    async def _local(self, kind: str, item: dict[str, Any]) -> Any:
        """This node's copy of the row: by the owner's id, else the same row seeded here (its code, or
        for a job its title, employer and posting date), else None."""
        model = MODELS[kind]
        remote_id = int(item["remote_id"])
        local_id = await self.session.scalar(
            select(UpstreamCopy.local_id).where(
                UpstreamCopy.kind == kind,
                UpstreamCopy.owner == self.owner,
                UpstreamCopy.remote_id == remote_id,
            )
        )
        if local_id is not None:
            return await self.session.get(model, local_id)
        found: Any = None
        if "code" in item:
            code_column: Any = model.code  # type: ignore[attr-defined]
            found = await self.session.scalar(select(model).where(code_column == str(item["code"])))
        elif kind == "job":
            found = await self.session.scalar(
                select(PortalJob).where(
                    PortalJob.title == str(item.get("title", "")),
                    PortalJob.employer == str(item.get("employer", "")),
                    PortalJob.date_posted == date.fromisoformat(str(item["date_posted"])),
                )
            )
        return found

    async def _own(self, kind: str, local_id: int, remote_id: int) -> None:
        row = await self.session.scalar(
            select(UpstreamCopy).where(UpstreamCopy.kind == kind, UpstreamCopy.local_id == local_id)
        )
        if row is None:
            self.session.add(
                UpstreamCopy(
                    kind=kind, local_id=local_id, owner=self.owner, remote_id=remote_id, received_at=self.now
                )
            )
        elif (row.owner, row.remote_id) != (self.owner, remote_id):
            row.owner, row.remote_id, row.received_at = self.owner, remote_id, self.now

    async def row(self, kind: str, item: dict[str, Any], extra: dict[str, Any] | None = None) -> int:
        """Add or update one copy; returns 1 when it changed here."""
        model = MODELS[kind]
        values = _values(model, item) | (extra or {})
        if kind in ("service", "job"):
            code = item.get("department_code")
            dept = None
            if code is not None:
                dept = await self.session.scalar(
                    select(PortalDepartment.id).where(PortalDepartment.code == code)
                )
                if dept is None:
                    return 0  # its department has not arrived: the next change brings it again
            values["department_id"] = dept
        values.pop("updated_at", None)
        row = await self._local(kind, item)
        touched = 0
        if row is None:
            if hasattr(model, "updated_at"):
                values["updated_at"] = self.now
            row = model(**values)
            self.session.add(row)
            await self.session.flush()
            touched = 1
        elif any(getattr(row, k) != v for k, v in values.items()):
            for k, v in values.items():
                setattr(row, k, v)
            if hasattr(row, "updated_at"):
                row.updated_at = self.now
            touched = 1
        await self._own(kind, row.id, int(item["remote_id"]))
        return touched

    async def prices(self, items: list[dict[str, Any]]) -> int:
        """Products and markets by code, then each day's prices through the portal's own `set_prices`
        (so this node's subscribers get their price alerts); unchanged prices are not written again."""
        by_day: dict[date, list[portal.NewPrice]] = {}
        for item in items:
            await self.row("product", dict(item["product"]))
            await self.row("market", dict(item["market"]))
            product = await self.session.scalar(
                select(PortalProduct.id).where(PortalProduct.code == str(item["product"]["code"]))
            )
            market = await self.session.scalar(
                select(PortalMarket.id).where(PortalMarket.code == str(item["market"]["code"]))
            )
            if product is None or market is None:
                continue
            day = date.fromisoformat(str(item["day"]))
            price = int(item["price_fen"])
            have = await self.session.scalar(
                select(PortalPrice.price_fen).where(
                    PortalPrice.product_id == product, PortalPrice.market_id == market, PortalPrice.day == day
                )
            )
            if have != price:
                by_day.setdefault(day, []).append(portal.NewPrice(product, market, price))
        for day, prices in sorted(by_day.items()):
            await portal.set_prices(
                self.session, node_actor(self.owner), day, prices, now=self.now, audit_it=False
            )
        return sum(len(p) for p in by_day.values())
