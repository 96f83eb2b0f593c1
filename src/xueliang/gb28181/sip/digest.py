"""HTTP Digest (RFC 2617, MD5) as GB/T 28181 registration uses it: with or without qop=auth.

We keep HA1 = MD5(username:realm:password) rather than the password, so a stored secret is not a
password usable elsewhere; it is bound to the realm (the node's SIP domain)."""

from __future__ import annotations

import hashlib
import hmac
import re

_PARAM = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^\s,]+)')


def md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def ha1(username: str, realm: str, password: str) -> str:
    return md5(f"{username}:{realm}:{password}")


def parse_params(value: str) -> dict[str, str]:
    """`Digest a="x", b=y` -> {"a": "x", "b": "y"} (scheme checked by the caller)."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "digest":
        return {}
    return {
        m.group(1).lower(): (m.group(3) if m.group(3) is not None else m.group(2))
        for m in _PARAM.finditer(rest)
    }


def challenge(realm: str, nonce: str, qop: bool = False) -> str:
    value = f'Digest realm="{realm}", nonce="{nonce}", algorithm=MD5'
    return value + ', qop="auth"' if qop else value


def expected_response(params: dict[str, str], method: str, ha1_hex: str) -> str:
    ha2 = md5(f"{method}:{params.get('uri', '')}")
    qop = params.get("qop", "")
    if qop:
        nonce, nc, cnonce = params.get("nonce", ""), params.get("nc", ""), params.get("cnonce", "")
        return md5(f"{ha1_hex}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return md5(f"{ha1_hex}:{params.get('nonce', '')}:{ha2}")


def verify(params: dict[str, str], method: str, ha1_hex: str) -> bool:
    """Constant-time comparison of the client's response with ours."""
    if params.get("algorithm", "MD5").upper() not in ("MD5", ""):
        return False
    if params.get("qop", "") not in ("", "auth"):
        return False
    return hmac.compare_digest(expected_response(params, method, ha1_hex), params.get("response", "").lower())


def authorization(
    username: str,
    realm: str,
    nonce: str,
    uri: str,
    method: str,
    password: str,
    qop: str = "",
    cnonce: str = "",
) -> str:
    """A client's Authorization value (our test devices and, later, the cascade's REGISTER)."""
    params = {"uri": uri, "nonce": nonce, "qop": qop, "nc": "00000001", "cnonce": cnonce}
    resp = expected_response(params, method, ha1(username, realm, password))
    value = (
        f'Digest username="{username}", realm="{realm}", nonce="{nonce}", uri="{uri}", '
        f'response="{resp}", algorithm=MD5'
    )
    if qop:
        value += f', qop={qop}, nc=00000001, cnonce="{cnonce}"'
    return value
