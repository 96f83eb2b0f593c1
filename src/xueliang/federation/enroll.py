"""Enrollment: a one-time code made at the parent, used once by the child to exchange node keys.

The code is shown once and stored as its SHA-256; it expires. The child proves it holds the key it
enrolls by signing the request; the parent answers with its own key and the child's leaf credentials
for the parent's nats-server. A used, expired or unknown code changes nothing."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.audit import service as audit
from xueliang.audit.service import Actor
from xueliang.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from xueliang.federation.identity import NodeIdentity, verify
from xueliang.federation.models import NodeInvite
from xueliang.federation.natsd import LeafRemote, leaf_password, save_leaf
from xueliang.nodes.models import Node
from xueliang.regions.models import Region

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read over the phone


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(16))
    return "-".join(raw[i : i + 4] for i in range(0, 16, 4))


def code_hash(code: str) -> str:
    return hashlib.sha256(code.strip().upper().encode()).hexdigest()


async def create_invite(session: AsyncSession, now: datetime, minutes: int, region_code: str | None) -> str:
    if region_code is not None and (
        await session.scalar(select(Region.id).where(Region.code == region_code)) is None
    ):
        raise NotFound(f"no region {region_code}")
    code = new_code()
    session.add(
        NodeInvite(
            code_hash=code_hash(code),
            region_code=region_code,
            created_at=now,
            expires_at=now + timedelta(minutes=minutes),
        )
    )
    await session.commit()
    return code


class JoinIn(BaseModel):
    code: str = Field(min_length=4, max_length=40)
    gb_id: str = Field(pattern=r"^\d{20}$")
    name: str = Field(min_length=1, max_length=100)
    region_code: str = Field(pattern=r"^\d{6,12}$")
    public_key: str = Field(pattern=r"^[0-9a-f]{64}$")
    signature: str = Field(max_length=200)  # base64 Ed25519 over join_text(...)


class JoinOut(BaseModel):
    gb_id: str
    name: str
    public_key: str
    leaf_host: str
    leaf_port: int
    leaf_user: str
    leaf_password: str


def join_text(code: str, gb_id: str, public_key: str, region_code: str) -> bytes:
    return f"xueliang-join:{code.strip().upper()}:{gb_id}:{public_key}:{region_code}".encode()


@dataclass(frozen=True)
class ParentSide:
    identity: NodeIdentity
    name: str
    secret: str
    leaf_host: str
    leaf_port: int


async def accept_join(session: AsyncSession, body: JoinIn, parent: ParentSide, now: datetime) -> JoinOut:
    """The parent's half: check the code and the child's proof of key, store the child, answer."""
    invite = await session.scalar(select(NodeInvite).where(NodeInvite.code_hash == code_hash(body.code)))
    if invite is None:
        raise Forbidden("unknown enrollment code", code="invalid_code")
    if invite.used_at is not None:
        raise Forbidden("this enrollment code has been used already", code="code_used")
    if invite.expires_at <= now:
        raise Forbidden("this enrollment code has expired", code="code_expired")
    try:
        sig = base64.b64decode(body.signature, validate=True)
    except ValueError:
        sig = b""
    if not verify(body.public_key, join_text(body.code, body.gb_id, body.public_key, body.region_code), sig):
        raise Forbidden("the request is not signed by the key it enrolls", code="bad_signature")
    if invite.region_code is not None and body.region_code != invite.region_code:
        raise Forbidden(f"this code is for region {invite.region_code}", code="wrong_region")
    if body.gb_id == parent.identity.gb_id:
        raise ValidationFailed("a node cannot enroll itself", code="invalid")
    region = await session.scalar(select(Region).where(Region.code == body.region_code))
    if region is None:
        raise ValidationFailed(f"no region {body.region_code} here", code="unknown_region")
    me = await session.scalar(select(Node).where(Node.gb_id == parent.identity.gb_id))
    if me is None or not region.path.startswith(await _region_path(session, me.region_id)):
        raise Forbidden("that region is not below this node", code="wrong_region")
    child = await session.scalar(select(Node).where(Node.gb_id == body.gb_id))
    if child is not None and child.public_key not in (None, body.public_key) and child.revoked_at is None:
        raise Conflict(f"node {body.gb_id} is enrolled with another key; revoke it first", code="enrolled")
    if child is None:
        child = Node(gb_id=body.gb_id, name=body.name, region_id=region.id)
        session.add(child)
    child.name, child.region_id, child.parent_id = body.name, region.id, me.id
    child.public_key, child.enrolled_at, child.revoked_at, child.base_url = body.public_key, now, None, None
    invite.used_at, invite.used_by = now, body.gb_id
    await audit.append(
        session,
        Actor(None, f"node:{body.gb_id}", "federation"),
        "node.enroll",
        at=now,
        target_type="node",
        target_id=body.gb_id,
        detail={"region": body.region_code, "key": body.public_key[:16]},
    )
    await session.commit()
    return JoinOut(
        gb_id=parent.identity.gb_id,
        name=parent.name,
        public_key=parent.identity.public_key_hex,
        leaf_host=parent.leaf_host,
        leaf_port=parent.leaf_port,
        leaf_user=body.gb_id,
        leaf_password=leaf_password(parent.secret, body.gb_id, body.public_key),
    )


async def _region_path(session: AsyncSession, region_id: int) -> str:
    path = await session.scalar(select(Region.path).where(Region.id == region_id))
    return path or "\x00"


class JoinFailed(Exception):
    """The parent refused or could not be reached; the text is the parent's reason."""


def post_join(parent_url: str, body: JoinIn, timeout: float = 15.0) -> JoinOut:
    """The child's call to the parent's join route (blocking: the CLI's)."""
    url = parent_url.rstrip("/") + "/api/v1/federation/join"
    req = urllib.request.Request(  # noqa: S310 - the operator names the parent's URL
        url, data=body.model_dump_json().encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            return JoinOut.model_validate_json(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            doc = json.loads(exc.read())
            reason = f"{doc.get('message', '')} ({doc.get('code', exc.code)})"
        except ValueError:
            reason = f"HTTP {exc.code}"
        raise JoinFailed(f"the parent refused: {reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise JoinFailed(f"cannot reach {url}: {exc}") from None


async def store_parent(
    session: AsyncSession,
    me: NodeIdentity,
    parent_url: str,
    answer: JoinOut,
    data_dir: Path,
    now: datetime,
    my_region_code: str,
    my_name: str,
) -> Node:
    """The child's half after the parent said yes: the parent's row and key, our link to it."""
    parent = await session.scalar(select(Node).where(Node.gb_id == answer.gb_id))
    local = await session.scalar(select(Node).where(Node.gb_id == me.gb_id))
    region = await session.scalar(select(Region).where(Region.code == my_region_code))
    if region is None:
        raise ValidationFailed(f"no region {my_region_code} here", code="unknown_region")
    if parent is None:
        parent = Node(gb_id=answer.gb_id, name=answer.name, region_id=region.parent_id or region.id)
        session.add(parent)
    parent.public_key, parent.base_url, parent.enrolled_at, parent.revoked_at = (
        answer.public_key,
        parent_url.rstrip("/"),
        now,
        None,
    )
    await session.flush()
    if local is None:
        local = Node(gb_id=me.gb_id, name=my_name, region_id=region.id)
        session.add(local)
    local.parent_id = parent.id
    await session.commit()
    host = answer.leaf_host or urllib.parse.urlsplit(parent_url).hostname or "127.0.0.1"
    save_leaf(data_dir, LeafRemote(host, answer.leaf_port, answer.leaf_user, answer.leaf_password))
    return parent
