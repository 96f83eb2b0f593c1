"""Checking this node's audit chain against the last anchor its parent holds.

The chain alone cannot show that its newest rows were deleted (what is left still links up); the
parent's copy of an earlier head can: the local chain must still hold a row with that sequence number
and hash. The anchor is fetched over HTTP with a request signed by this node's key."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.audit.models import AuditEvent
from xueliang.federation.identity import NodeIdentity
from xueliang.nodes.models import Node


@dataclass(frozen=True)
class Anchor:
    seq: int
    hash: str


def anchor_text(gb_id: str, at: str) -> bytes:
    return f"xueliang-anchor:{gb_id}:{at}".encode()


async def parent_url(session: AsyncSession, me: str) -> str | None:
    local = await session.scalar(select(Node).where(Node.gb_id == me))
    if local is None or local.parent_id is None:
        return None
    parent = await session.get(Node, local.parent_id)
    return parent.base_url if parent is not None and parent.public_key else None


def fetch(base_url: str, identity: NodeIdentity, now: datetime, timeout: float = 10.0) -> Anchor | None:
    """The parent's newest anchor of our chain; None when it holds none yet. Raises OSError when the
    parent cannot be asked (the caller says so: the check could not be made)."""
    at = now.isoformat()
    sig = base64.b64encode(identity.sign(anchor_text(identity.gb_id, at))).decode()
    req = urllib.request.Request(  # noqa: S310 - the parent's URL stored at enrollment
        base_url.rstrip("/") + "/api/v1/federation/anchor",
        headers={"X-Node-Id": identity.gb_id, "X-Node-Time": at, "X-Node-Signature": sig},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            doc = json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise OSError(f"the parent answered HTTP {exc.code}") from None
    return Anchor(int(doc["seq"]), str(doc["hash"]))


async def check(session: AsyncSession, anchor: Anchor) -> str | None:
    """None when the local chain holds the anchored row unchanged; else what is wrong."""
    row = await session.scalar(select(AuditEvent).where(AuditEvent.seq == anchor.seq))
    if row is None:
        last = await session.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq.desc()).limit(1))
        return (
            f"the newest audit rows were deleted: the chain ends at row {last or 0}, "
            f"but the parent holds an anchor at row {anchor.seq}"
        )
    if row.hash != anchor.hash:
        return f"audit row {anchor.seq} differs from the parent's anchor (the chain was rewritten)"
    return None
