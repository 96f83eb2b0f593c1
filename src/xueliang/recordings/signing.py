"""The node's Ed25519 key, which signs export manifests.

Why a key per node kept under data_dir: an export leaves the platform (a USB stick, a court file),
so its integrity must be checkable without the platform's database; a signature by the node's key
says which node made it, and the key's fingerprint is what an operator writes down or compares."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from xueliang.core.keys import load_or_create_ed25519

KEY_FILE = Path("keys") / "node-ed25519.pem"


def key_path(data_dir: Path) -> Path:
    return data_dir / KEY_FILE


def load_or_create(data_dir: Path) -> Ed25519PrivateKey:
    """The node key, created (mode 0600) on first use."""
    return load_or_create_ed25519(key_path(data_dir))


def load_public(data_dir: Path) -> bytes | None:
    """The node's raw public key, if this data_dir has a node key."""
    path = key_path(data_dir)
    if not path.exists():
        return None
    return public_raw(load_or_create(data_dir))


def public_raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(public: bytes) -> str:
    """SHA-256 of the raw public key, grouped for reading aloud."""
    digest = hashlib.sha256(public).hexdigest()[:32]
    return ":".join(digest[i : i + 4] for i in range(0, 32, 4))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def sign(key: Ed25519PrivateKey, data: bytes) -> bytes:
    return key.sign(data)


def verify(public: bytes, signature: bytes, data: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, data)
    except (InvalidSignature, ValueError):
        return False
    return True
