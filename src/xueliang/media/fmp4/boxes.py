"""ISO BMFF box framing: a box is a 32-bit size, a four-character type and its payload."""

from __future__ import annotations

import struct

_HEAD = struct.Struct(">I4s")
_FULL_HEAD = struct.Struct(">I4sI")


def box(kind: bytes, *payload: bytes) -> bytes:
    """A plain box around the concatenated payload parts."""
    body = b"".join(payload)
    return _HEAD.pack(8 + len(body), kind) + body


def full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    """A box whose payload starts with the 8-bit version and 24-bit flags."""
    body = b"".join(payload)
    return _FULL_HEAD.pack(12 + len(body), kind, (version << 24) | flags) + body
