"""County content published by a node above this one (federation, issue 18): departments, services,
jobs, products and markets that a parent node published are kept here as copies, recorded in
`portal_upstream`. Their owner edits them; an edit here is refused ("owned above"), so a village's copy
never drifts from the county's. Content without a row there is this node's own and edited as ever.

The federation writes the copies (it imports the portal, never the other way round)."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.core.errors import Conflict
from xueliang.portal.models import UpstreamCopy

KINDS = ("department", "service", "job", "product", "market")


async def owner_of(session: AsyncSession, kind: str, local_ids: Iterable[int]) -> str | None:
    """The GB ID of the node above that owns one of these rows (None: all are this node's own)."""
    ids = list(local_ids)
    if not ids:
        return None
    stmt = (
        select(UpstreamCopy.owner).where(UpstreamCopy.kind == kind, UpstreamCopy.local_id.in_(ids)).limit(1)
    )
    owner: str | None = await session.scalar(stmt)
    return owner


async def owned_ids(session: AsyncSession, kind: str) -> set[int]:
    """Ids of this kind's rows that are copies of content published above."""
    rows = await session.scalars(select(UpstreamCopy.local_id).where(UpstreamCopy.kind == kind))
    return set(rows.all())


OWNED_ABOVE = "owned above: published by a node above; edit it there"


async def refuse_if_owned_above(session: AsyncSession, kind: str, *local_ids: int) -> None:
    """Raise Conflict (409) when the content was published by a node above: it is edited there."""
    owner = await owner_of(session, kind, local_ids)
    if owner is not None:
        raise Conflict(
            f"由上级节点 {owner} 发布，请在上级修改 / owned above: published by node {owner}; edit it there",
            code="owned_above",
        )
