"""What each end of a video link signs with its node key, so a recorded answer is useless elsewhere.

Every signed text names its purpose, both node IDs and a fresh nonce of the verifier's: a child's
answer to one parent's challenge cannot be replayed to another parent or later, and a parent's
answer cannot be replayed as a child's. The keys are the nodes' link keys (federation/identity.py),
checked against `nodes.public_key` of an enrolled, unrevoked peer."""

from __future__ import annotations

import secrets

LINK_PATH = "/api/v1/federation/video/link"
STREAM_PATH = "/api/v1/federation/video/stream"
NONCE_BYTES = 32


def new_nonce() -> str:
    return secrets.token_hex(NONCE_BYTES)


def child_proof(parent_nonce: str, parent_gb: str, child_gb: str) -> bytes:
    """The child signs the parent's challenge: "I am child_gb, talking to parent_gb now"."""
    return f"xueliang video link child|{parent_nonce}|{parent_gb}|{child_gb}".encode()


def parent_proof(child_nonce: str, child_gb: str, parent_gb: str) -> bytes:
    """The parent signs the child's challenge in turn: the child knows whom it serves video to."""
    return f"xueliang video link parent|{child_nonce}|{child_gb}|{parent_gb}".encode()


def stream_proof(stream_id: str, child_gb: str, parent_gb: str) -> bytes:
    """The child's data connection for one stream the parent asked for over the control link."""
    return f"xueliang video stream|{stream_id}|{child_gb}|{parent_gb}".encode()


def ws_url(base_url: str, path: str) -> str:
    """`http(s)://host[:port][/prefix]` -> the `ws(s)://` URL of `path` under it."""
    base = base_url.rstrip("/")
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    return base + path
