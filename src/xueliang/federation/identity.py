"""This node's identity on the federation: its GB/T 28181 ID and its own Ed25519 key.

Why a key of its own (not the export-signing key of recordings/signing.py): the link key is what a
parent trusts, and rotating or revoking it must not invalidate exports already handed out. The key
lives at `<data_dir>/node/node_ed25519.pem` (0600) and is made on first use."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.core.keys import load_or_create_ed25519
from xueliang.nodes.models import Node

KEY_FILE = Path("node") / "node_ed25519.pem"


def key_path(data_dir: Path) -> Path:
    return data_dir / KEY_FILE


def load_or_create_key(data_dir: Path) -> Ed25519PrivateKey:
    return load_or_create_ed25519(key_path(data_dir))


@dataclass(frozen=True)
class NodeIdentity:
    gb_id: str
    key: Ed25519PrivateKey

    @classmethod
    def load(cls, gb_id: str, data_dir: Path) -> NodeIdentity:
        return cls(gb_id, load_or_create_key(data_dir))

    @property
    def public_key_hex(self) -> str:
        raw = self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return raw.hex()

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data)


@functools.lru_cache(maxsize=4096)
def _public_key(public_key_hex: str) -> Ed25519PublicKey:
    """Peers' keys, parsed once (a province's 1,000 children fit; an unknown key is refused before)."""
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_key_hex))


def verify(public_key_hex: str, data: bytes, signature: bytes) -> bool:
    """True only for a valid signature by that key; a malformed key or signature is False."""
    try:
        _public_key(public_key_hex).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True


async def peer_by_key(session: AsyncSession, gb_id: str) -> Node | None:
    """The enrolled peer with this ID: None when unknown, never enrolled (no key) or revoked."""
    node = await session.scalar(select(Node).where(Node.gb_id == gb_id))
    if node is None or node.public_key is None or node.revoked_at is not None:
        return None
    return node


async def peers_by_key(session: AsyncSession, gb_ids: set[str]) -> dict[str, Node]:
    """`peer_by_key` for a batch's senders in one statement."""
    rows = await session.scalars(select(Node).where(Node.gb_id.in_(gb_ids)))
    return {n.gb_id: n for n in rows if n.public_key is not None and n.revoked_at is None}


async def local_gb_id(session: AsyncSession, configured: str = "") -> str:
    """This node's ID: the configured one, else the `nodes` row marked local."""
    if configured:
        return configured
    gb = await session.scalar(select(Node.gb_id).where(Node.is_local.is_(True)).order_by(Node.id).limit(1))
    if gb is None:
        raise LookupError("this node has no ID: set federation.node_gb_id or seed a local node")
    return gb
