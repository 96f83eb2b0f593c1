"""The signed envelope every message between nodes travels in.

Why sign on top of the NATS credentials: the credentials say which leaf connection a message came
through; the signature says which node made it, so a message stays attributable after it has been
stored and forwarded, and a revoked node's key is refused by the receiving database even before its
NATS credentials are gone. The id doubles as JetStream's `Nats-Msg-Id` and as the inbox key, so a
replay of an applied message is refused however it arrives."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from xueliang.federation.identity import NodeIdentity, verify

SIG_HEADER = "Xl-Sig"


class Refused(Exception):
    """A message that is not applied; the text says why (shown in the link's last error)."""


@dataclass(frozen=True)
class Envelope:
    id: str
    sender: str  # the sending node's gb_id
    to: str
    kind: str
    at: datetime
    body: dict[str, Any]

    def payload(self) -> bytes:
        doc = {
            "id": self.id,
            "from": self.sender,
            "to": self.to,
            "kind": self.kind,
            "at": self.at.isoformat(),
            "body": self.body,
        }
        return json.dumps(
            doc, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str
        ).encode()


def subject(to: str, sender: str, kind: str) -> str:
    """`xl.<to>.<from>.<kind>`: a child's NATS credentials allow only its own `from` towards its parent."""
    return f"xl.{to}.{sender}.{kind}"


def seal(identity: NodeIdentity, env: Envelope) -> tuple[bytes, dict[str, str]]:
    """The bytes to publish and their headers (the signature, the de-duplication id)."""
    data = env.payload()
    sig = base64.b64encode(identity.sign(data)).decode("ascii")
    return data, {SIG_HEADER: sig, "Nats-Msg-Id": env.id}


def parse(data: bytes) -> Envelope:
    """The envelope's fields, not yet trusted; malformed input is Refused."""
    try:
        doc = json.loads(data)
        return Envelope(
            id=str(doc["id"]),
            sender=str(doc["from"]),
            to=str(doc["to"]),
            kind=str(doc["kind"]),
            at=datetime.fromisoformat(doc["at"]),
            body=dict(doc["body"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise Refused(f"malformed message: {exc}") from exc


def check(
    env: Envelope,
    data: bytes,
    headers: dict[str, str] | None,
    *,
    me: str,
    subject_sender: str | None,
    public_key_hex: str | None,
    now: datetime,
    max_skew: timedelta,
) -> None:
    """Raise Refused unless `data` is `env` signed by the named peer's key, addressed to this node,
    sent through that peer's subject and within the clock window."""
    if env.to != me:
        raise Refused(f"message {env.id} is addressed to {env.to}, not to this node")
    if subject_sender is not None and subject_sender != env.sender:
        raise Refused(f"message {env.id} claims {env.sender} but came from {subject_sender}")
    if public_key_hex is None:
        raise Refused(f"node {env.sender} is unknown or revoked")
    sig = (headers or {}).get(SIG_HEADER, "")
    try:
        raw = base64.b64decode(sig, validate=True)
    except ValueError:
        raw = b""
    if not raw or not verify(public_key_hex, data, raw):
        raise Refused(f"message {env.id} from {env.sender}: bad signature")
    if abs(now - env.at) > max_skew:
        raise Refused(f"message {env.id} from {env.sender}: outside the clock window (replayed?)")
