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

import asyncio
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import event as sa_event
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from xueliang.audit import service as audit
from xueliang.core.db import Base, database_key
from xueliang.core.errors import AppError
from xueliang.core.row_json import row_out, values_in
from xueliang.federation.apply import node_actor
from xueliang.federation.envelope import Envelope, Refused
from xueliang.nodes.models import Node
from xueliang.notify.hub import Hub
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
from xueliang.portal.push import alerts_event

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
_announcing: set[asyncio.Task[None]] = set()
_OWN_KEYS = frozenset({"id", "department_id", "product_id", "market_id"})  # this node's ids


# ---- rows as plain JSON, column by column -------------------------------------------------------


def _own(column: Any) -> bool:
    return column.key not in _OWN_KEYS


def plain(row: Base) -> dict[str, Any]:
    return {**row_out(row, _own), "remote_id": row.id}  # type: ignore[attr-defined]


def _values(model: type[Base], item: dict[str, Any]) -> dict[str, Any]:
    """The columns of `model` found in `item`, dates parsed; unknown keys (a newer sender's) dropped."""
    return values_in(model, item, _own)


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


async def apply_content(
    session: AsyncSession, peer: Node, env: Envelope, now: datetime, hub: Hub | None = None
) -> str:
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
                changed_n, _ids = await copier.rows(kind, items)
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
    if copier.alerts and hub is not None:  # this node's subscribers' price alerts: their banners' counts

        def announce(_s: Session) -> None:
            task = asyncio.get_running_loop().create_task(hub.publish(alerts_event()))
            _announcing.add(task)
            task.add_done_callback(_announcing.discard)

        sa_event.listen(session.sync_session, "after_commit", announce, once=True)
    return f"{kind}: {len(items)} rows, {changed_n} changed"


class _Copier:
    """Copies one message's rows with a few statements for the lot (a first link brings thousands)."""

    def __init__(self, session: AsyncSession, owner: str, now: datetime) -> None:
        self.session, self.owner, self.now = session, owner, now
        self.alerts = 0  # price alerts made for this node's subscribers

    async def _locals(self, kind: str, items: list[dict[str, Any]]) -> dict[int, Any]:
        """Remote id -> this node's copy: by the owner's id, else the same row seeded here (its code, or
        for a job its title, employer and posting date); rows with neither are absent."""
        model: Any = MODELS[kind]
        remote_ids = [int(item["remote_id"]) for item in items]
        copies = dict(
            (
                await self.session.execute(
                    select(UpstreamCopy.remote_id, UpstreamCopy.local_id).where(
                        UpstreamCopy.kind == kind,
                        UpstreamCopy.owner == self.owner,
                        UpstreamCopy.remote_id.in_(remote_ids),
                    )
                )
            ).all()
        )
        rows = {
            r.id: r for r in (await self.session.scalars(select(model).where(model.id.in_(copies.values()))))
        }
        out = {remote: rows[local] for remote, local in copies.items() if local in rows}
        rest = [item for item in items if int(item["remote_id"]) not in out]
        if rest and hasattr(model, "code"):
            codes = [str(item.get("code")) for item in rest]
            by_code = {
                r.code: r for r in await self.session.scalars(select(model).where(model.code.in_(codes)))
            }
            for item in rest:
                if str(item.get("code")) in by_code:
                    out[int(item["remote_id"])] = by_code[str(item.get("code"))]
        elif rest and kind == "job":
            titles = [str(item.get("title", "")) for item in rest]
            jobs = await self.session.scalars(select(PortalJob).where(PortalJob.title.in_(titles)))
            by_key = {(j.title, j.employer, j.date_posted.isoformat()): j for j in jobs}
            for item in rest:
                key = (
                    str(item.get("title", "")),
                    str(item.get("employer", "")),
                    str(item.get("date_posted")),
                )
                if key in by_key:
                    out[int(item["remote_id"])] = by_key[key]
        return out

    async def rows(self, kind: str, items: list[dict[str, Any]]) -> tuple[int, dict[int, int]]:
        """Add or update the copies; returns how many changed here and remote id -> local id."""
        model: Any = MODELS[kind]
        locals_ = await self._locals(kind, items)
        departments: dict[str, int] = {}
        if kind in ("service", "job"):
            codes = {str(i["department_code"]) for i in items if i.get("department_code") is not None}
            departments = dict(
                (
                    await self.session.execute(
                        select(PortalDepartment.code, PortalDepartment.id).where(
                            PortalDepartment.code.in_(codes)
                        )
                    )
                ).all()
            )
        touched = 0
        fresh: list[tuple[int, Any]] = []
        for item in items:
            values = _values(model, item)
            values.pop("updated_at", None)
            if kind in ("service", "job"):
                code = item.get("department_code")
                if code is not None and str(code) not in departments:
                    continue  # its department has not arrived: its next change brings it again
                values["department_id"] = departments[str(code)] if code is not None else None
            row = locals_.get(int(item["remote_id"]))
            if row is None:
                if hasattr(model, "updated_at"):
                    values["updated_at"] = self.now
                row = model(**values)
                self.session.add(row)
                fresh.append((int(item["remote_id"]), row))
                touched += 1
            elif any(getattr(row, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(row, k, v)
                if hasattr(row, "updated_at"):
                    row.updated_at = self.now  # so this node's own sweep passes it on
                touched += 1
        if fresh:
            await self.session.flush()
            for remote_id, row in fresh:
                locals_[remote_id] = row
        await self._own(kind, {remote: row.id for remote, row in locals_.items()})
        return touched, {remote: row.id for remote, row in locals_.items()}

    async def _own(self, kind: str, local_ids: dict[int, int]) -> None:
        """Record the copies as owned above (by this sender), remote id -> local id."""
        if not local_ids:
            return
        known = {
            r.local_id: r
            for r in await self.session.scalars(
                select(UpstreamCopy).where(
                    UpstreamCopy.kind == kind, UpstreamCopy.local_id.in_(list(local_ids.values()))
                )
            )
        }
        for remote_id, local_id in local_ids.items():
            row = known.get(local_id)
            if row is None:
                self.session.add(
                    UpstreamCopy(
                        kind=kind,
                        local_id=local_id,
                        owner=self.owner,
                        remote_id=remote_id,
                        received_at=self.now,
                    )
                )
            elif (row.owner, row.remote_id) != (self.owner, remote_id):
                row.owner, row.remote_id, row.received_at = self.owner, remote_id, self.now

    async def prices(self, items: list[dict[str, Any]]) -> int:
        """Products and markets, then each day's prices through the portal's own `set_prices` (so this
        node's subscribers get their price alerts); unchanged prices are not written again."""
        products = {int(i["product"]["remote_id"]): dict(i["product"]) for i in items}
        markets = {int(i["market"]["remote_id"]): dict(i["market"]) for i in items}
        changed_p, product_ids = await self.rows("product", list(products.values()))
        changed_m, market_ids = await self.rows("market", list(markets.values()))
        days = {date.fromisoformat(str(i["day"])) for i in items}
        have = {
            (p, m, d): fen
            for p, m, d, fen in (
                await self.session.execute(
                    select(
                        PortalPrice.product_id, PortalPrice.market_id, PortalPrice.day, PortalPrice.price_fen
                    ).where(PortalPrice.product_id.in_(list(product_ids.values())), PortalPrice.day.in_(days))
                )
            ).all()
        }
        by_day: dict[date, list[portal.NewPrice]] = {}
        for item in items:
            product = product_ids.get(int(item["product"]["remote_id"]))
            market = market_ids.get(int(item["market"]["remote_id"]))
            if product is None or market is None:
                continue
            day = date.fromisoformat(str(item["day"]))
            price = int(item["price_fen"])
            if have.get((product, market, day)) != price:
                by_day.setdefault(day, []).append(portal.NewPrice(product, market, price))
        actor = node_actor(self.owner)
        for day, prices in sorted(by_day.items()):
            _written, alerts = await portal.set_prices(
                self.session, actor, day, prices, now=self.now, audit_it=False
            )
            self.alerts += alerts
        return changed_p + changed_m + sum(len(p) for p in by_day.values())
