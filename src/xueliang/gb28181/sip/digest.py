"""HTTP Digest (RFC 2617, MD5) as GB/T 28181 registration uses it: with or without qop=auth.

We keep HA1 = MD5(username:realm:password) rather than the password, so a stored secret is not a
password usable elsewhere; it is bound to the realm (the node's SIP domain)."""

from __future__ import annotations

import hashlib
import hmac

from xueliang.media.errors import MediaProtocolError
from xueliang.media.rtsp.auth import parse_auth_header, response_from_ha1


def md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8"), usedforsecurity=False).hexdigest()


def ha1(username: str, realm: str, password: str) -> str:
    return md5(f"{username}:{realm}:{password}")


def parse_params(value: str) -> dict[str, str]:
    """`Digest a="x", b=y` -> {"a": "x", "b": "y"}, by the RTSP client's header parser (one parser for
    both protocols); anything else, or a malformed value, is {} and so fails verification."""
    try:
        found = parse_auth_header(value)
    except MediaProtocolError:
        return {}
    return next((c.params for c in found if c.scheme == "digest"), {})


def challenge(realm: str, nonce: str, qop: bool = False) -> str:
    value = f'Digest realm="{realm}", nonce="{nonce}", algorithm=MD5'
    return value + ', qop="auth"' if qop else value


def expected_response(params: dict[str, str], method: str, ha1_hex: str) -> str:
    return response_from_ha1(
        ha1_hex,
        method=method,
        uri=params.get("uri", ""),
        nonce=params.get("nonce", ""),
        qop=params.get("qop", "") or None,
        nc=params.get("nc", ""),
        cnonce=params.get("cnonce", ""),
    )


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
