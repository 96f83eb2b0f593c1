"""Short-lived signed stream tokens bound to user, camera and action (docs/architecture.md#stream-tokens).

A token is `base64url(payload) "." base64url(HMAC-SHA256(secret, payload))` with the payload a compact
JSON array `[version, user_id, camera_id, action, expiry, nonce]`. Stream URLs carry it because browsers
cannot put headers on media requests; the short lifetime (at most 300 s) bounds the damage of a leaked
URL, and refreshing it re-asks the access policy. The nonce lets audit records tell sessions apart."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime

from xueliang.core.errors import Forbidden, Unauthorized

MAX_TTL = 300
_VERSION = 1
_MIN_SECRET = 16


class TokenError(Unauthorized):
    """The token is malformed, tampered with or expired: the caller must get a new one."""

    code = "token_invalid"


class TokenExpired(TokenError):
    code = "token_expired"


class TokenScopeError(Forbidden):
    """A genuine token used for another camera or action than it was issued for."""

    code = "token_scope"


@dataclass(frozen=True, slots=True)
class StreamClaims:
    user_id: int
    camera_id: int
    action: str
    expires: int  # Unix seconds
    nonce: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, payload: bytes) -> bytes:
    return hmac.new(secret, payload, hashlib.sha256).digest()


def _check_secret(secret: bytes) -> None:
    if len(secret) < _MIN_SECRET:
        raise ValueError(f"stream token secret must be at least {_MIN_SECRET} bytes")


def issue(secret: bytes, user_id: int, camera_id: int, action: str, ttl: int, now: datetime) -> str:
    """A token valid for `ttl` seconds (1..300) from `now`. Only the access policy should call this."""
    _check_secret(secret)
    if not 0 < ttl <= MAX_TTL:
        raise ValueError(f"token lifetime must be 1..{MAX_TTL} s, not {ttl}")
    expires = int(now.timestamp()) + ttl
    payload = json.dumps(
        [_VERSION, user_id, camera_id, action, expires, secrets.token_urlsafe(6)], separators=(",", ":")
    ).encode()
    return f"{_b64(payload)}.{_b64(_mac(secret, payload))}"


def decode(secret: bytes, token: str, now: datetime) -> StreamClaims:
    """The claims of an authentic, unexpired token, whatever camera and action it names."""
    _check_secret(secret)
    head, dot, tail = token.partition(".")
    if not dot or len(token) > 512:
        raise TokenError("malformed stream token")
    try:
        payload, mac = _unb64(head), _unb64(tail)
    except (binascii.Error, ValueError) as exc:
        raise TokenError("malformed stream token") from exc
    if not hmac.compare_digest(mac, _mac(secret, payload)):
        raise TokenError("stream token signature does not match")
    try:
        version, user_id, camera_id, action, expires, nonce = json.loads(payload)
    except (ValueError, TypeError) as exc:
        raise TokenError("malformed stream token") from exc
    if version != _VERSION or not all(type(v) is int for v in (user_id, camera_id, expires)):
        raise TokenError("unsupported stream token")
    if not isinstance(action, str) or not isinstance(nonce, str):
        raise TokenError("unsupported stream token")
    remaining = expires - now.timestamp()
    if remaining <= 0:
        raise TokenExpired("stream token expired")
    if remaining > MAX_TTL + 60:
        raise TokenError("stream token lifetime exceeds the maximum")
    return StreamClaims(user_id, camera_id, action, expires, nonce)


def verify(secret: bytes, token: str, camera_id: int, action: str, now: datetime) -> StreamClaims:
    """The claims of a token that is authentic, unexpired and issued for exactly this camera and action.

    Raises TokenError (401) for malformed, tampered or expired tokens and TokenScopeError (403) when a
    valid token names another camera or action."""
    claims = decode(secret, token, now)
    if claims.camera_id != camera_id:
        raise TokenScopeError("stream token was issued for another camera")
    if claims.action != action:
        raise TokenScopeError("stream token was issued for another action")
    return claims
