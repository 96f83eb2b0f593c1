"""Ed25519 private keys kept in a PEM file under the data dir (mode 0600), made on first use: the
export-signing key (recordings/signing.py) and the federation link key (federation/identity.py) are
two such keys, kept apart on purpose (rotating one must not invalidate the other)."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


def load_or_create_ed25519(path: Path) -> Ed25519PrivateKey:
    """The key at `path`, created (0600, exclusively: a process that loses the race reads the winner's)."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} is not an Ed25519 private key")
        return key
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_or_create_ed25519(path)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    return key
