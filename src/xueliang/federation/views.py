"""The federation API under /api/v1/federation.

- `POST /join`: a child enrolls with a one-time code (no session: the code and the child's signature
  are its credentials).
- `GET /anchor`: a child fetches the last audit anchor its parent holds for it (no session: the
  request is signed with the child's node key).
- `GET /status`: this node's links, for admins (a child's link only for an admin whose scope holds it)."""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header
from sqlalchemy import select

from xueliang.accounts.deps import Ctx, CurrentCaller, ReadSession, Session, require
from xueliang.accounts.policy import Permission
from xueliang.core.errors import NotFound, Unauthorized
from xueliang.federation import enroll
from xueliang.federation.anchor import anchor_text
from xueliang.federation.config import FederationSettings
from xueliang.federation.identity import NodeIdentity, local_gb_id, peer_by_key, verify
from xueliang.federation.link import link_status
from xueliang.federation.models import AuditAnchor
from xueliang.nodes.models import Node
from xueliang.regions.models import Region

router = APIRouter(prefix="/federation", tags=["federation"])
ANCHOR_WINDOW = timedelta(minutes=5)


def _settings(ctx: Any) -> FederationSettings:
    settings: FederationSettings = ctx.services.require(FederationSettings)
    if not settings.enabled:
        raise NotFound("federation is not enabled on this node", code="federation_off")
    return settings


@router.post("/join", response_model=enroll.JoinOut)
async def join(body: enroll.JoinIn, ctx: Ctx, session: Session) -> enroll.JoinOut:
    settings = _settings(ctx)
    gb = await local_gb_id(session, settings.node_gb_id)
    me = await session.scalar(select(Node).where(Node.gb_id == gb))
    identity = NodeIdentity.load(gb, ctx.settings.data_dir)
    host, _, port = settings.leaf_advertise.rpartition(":")
    parent = enroll.ParentSide(
        identity=identity,
        name=me.name if me else gb,
        secret=ctx.secret,
        leaf_host=host if settings.leaf_advertise else "",
        leaf_port=int(port) if settings.leaf_advertise else settings.leaf_port,
    )
    answer = await enroll.accept_join(session, body, parent, ctx.clock.now())
    from xueliang.federation.link import Link

    link = ctx.services.get(Link)
    if link is not None:
        await link.kick()  # the child's leaf user goes into the server's configuration
    return answer


@router.get("/anchor")
async def anchor(
    ctx: Ctx,
    session: ReadSession,
    x_node_id: Annotated[str, Header()] = "",
    x_node_time: Annotated[str, Header()] = "",
    x_node_signature: Annotated[str, Header()] = "",
) -> dict[str, Any]:
    """The newest anchor of the signing child's audit chain."""
    _settings(ctx)
    peer = await peer_by_key(session, x_node_id) if x_node_id else None
    try:
        at = datetime.fromisoformat(x_node_time)
        sig = base64.b64decode(x_node_signature, validate=True)
    except ValueError:
        at, sig = None, b""
    if (
        peer is None
        or peer.public_key is None
        or at is None
        or at.tzinfo is None
        or abs(ctx.clock.now() - at) > ANCHOR_WINDOW
        or not verify(peer.public_key, anchor_text(x_node_id, x_node_time), sig)
    ):
        raise Unauthorized("a node's signed request is needed", code="node_key_required")
    row = await session.scalar(
        select(AuditAnchor).where(AuditAnchor.node_id == peer.id).order_by(AuditAnchor.seq.desc()).limit(1)
    )
    if row is None:
        raise NotFound("no anchor received from this node yet", code="no_anchor")
    return {
        "seq": row.seq,
        "hash": row.head_hash,
        "anchored_at": row.anchored_at,
        "received_at": row.received_at,
    }


@router.get("/status")
async def status(caller: CurrentCaller, ctx: Ctx, session: ReadSession) -> dict[str, Any]:
    require(caller, Permission.manage_regions)
    settings = _settings(ctx)
    gb = await local_gb_id(session, settings.node_gb_id)
    links = await link_status(session, gb, ctx.settings.data_dir, ctx.clock.now())
    paths = dict(
        (
            await session.execute(
                select(Node.gb_id, Region.path)
                .join(Region, Region.id == Node.region_id)
                .where(Node.gb_id.in_([link["gb_id"] for link in links]))
            )
        ).all()
    )
    scope = caller.principal.region_path
    visible = [
        link
        for link in links
        if link["role"] == "parent" or str(paths.get(link["gb_id"], "")).startswith(scope)
    ]
    return {"node": gb, "links": visible}
