"""RTSP Basic and Digest authentication (RFC 2617, RFC 7616: MD5 and SHA-256, qop=auth), for the
client answering a camera's challenge and for our servers challenging a client."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from xueliang.media.errors import MediaProtocolError

_TOKEN_CHARS = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_HASHES: dict[str, Callable[[bytes], str]] = {
    "MD5": lambda b: hashlib.md5(b, usedforsecurity=False).hexdigest(),
    "SHA-256": lambda b: hashlib.sha256(b).hexdigest(),
}


@dataclass(slots=True)
class Challenge:
    scheme: str  # lower case: "basic", "digest"
    params: dict[str, str] = field(default_factory=dict)


def _skip(text: str, pos: int, chars: str) -> int:
    while pos < len(text) and text[pos] in chars:
        pos += 1
    return pos


def _token(text: str, pos: int) -> tuple[str, int]:
    start = pos
    while pos < len(text) and text[pos] in _TOKEN_CHARS:
        pos += 1
    return text[start:pos], pos


def _quoted(text: str, pos: int) -> tuple[str, int]:
    out: list[str] = []
    pos += 1
    while pos < len(text):
        char = text[pos]
        if char == "\\" and pos + 1 < len(text):
            out.append(text[pos + 1])
            pos += 2
            continue
        if char == '"':
            return "".join(out), pos + 1
        out.append(char)
        pos += 1
    raise MediaProtocolError("unterminated quoted string in authentication header")


def parse_auth_header(value: str) -> list[Challenge]:
    """Challenges of a WWW-Authenticate value (or the credentials of an Authorization value);
    several comma-separated challenges in one value are split."""
    challenges: list[Challenge] = []
    pos = 0
    while True:
        pos = _skip(value, pos, " \t,")
        if pos >= len(value):
            return challenges
        scheme, pos = _token(value, pos)
        if not scheme:
            raise MediaProtocolError(f"bad authentication header {value[:80]!r}")
        challenge = Challenge(scheme.lower())
        challenges.append(challenge)
        while True:
            pos = _skip(value, pos, " \t,")
            start = pos
            name, pos = _token(value, pos)
            if not name:
                if pos < len(value):
                    raise MediaProtocolError(f"bad authentication header {value[:80]!r}")
                break
            pos = _skip(value, pos, " \t")
            if pos >= len(value) or value[pos] != "=":
                if challenge.params or (pos < len(value) and value[pos] != ","):
                    pos = start  # the next challenge's scheme
                    break
                challenge.params["token68"] = name  # Basic credentials
                continue
            pos = _skip(value, pos + 1, " \t")
            if pos < len(value) and value[pos] == '"':
                param, pos = _quoted(value, pos)
            else:
                param, pos = _token(value, pos)
                # token68 values (base64) may end in '=' padding
                end = _skip(value, pos, "=")
                param, pos = param + value[pos:end], end
            challenge.params[name.lower()] = param


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def digest_response(
    *,
    algorithm: str,
    username: str,
    realm: str,
    password: str,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None = None,
    nc: str = "",
    cnonce: str = "",
) -> str:
    """The `response` value of RFC 7616 §3.4.1; unknown algorithms raise MediaProtocolError."""
    algo = algorithm.upper()
    session = algo.endswith("-SESS")
    base = algo.removesuffix("-SESS")
    if base not in _HASHES:
        raise MediaProtocolError(f"unsupported digest algorithm {algorithm[:30]!r}")
    digest = _HASHES[base]
    ha1 = digest(f"{username}:{realm}:{password}".encode())
    if session:
        ha1 = digest(f"{ha1}:{nonce}:{cnonce}".encode())
    ha2 = digest(f"{method}:{uri}".encode())
    if qop:
        return digest(f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}".encode())
    return digest(f"{ha1}:{nonce}:{ha2}".encode())


class ClientAuth:
    """Answers a camera's challenge; Digest preferred (SHA-256 over MD5), Basic only if offered."""

    def __init__(self, username: str, password: str) -> None:
        self.username = username
        self.password = password
        self._challenge: Challenge | None = None
        self._nc = 0

    @property
    def ready(self) -> bool:
        return self._challenge is not None

    def accept(self, header_values: list[str]) -> bool:
        """Take the best usable challenge; False when none is usable. A stale nonce is replaced."""
        offered: list[Challenge] = []
        for value in header_values:
            offered.extend(parse_auth_header(value))

        def rank(c: Challenge) -> int:
            if c.scheme == "digest":
                algo = c.params.get("algorithm", "MD5").upper().removesuffix("-SESS")
                return {"SHA-256": 3, "MD5": 2}.get(algo, 0)
            return 1 if c.scheme == "basic" else 0

        best = max(offered, key=rank, default=None)
        if best is None or rank(best) == 0:
            return False
        if best.scheme == "digest" and "nonce" not in best.params:
            raise MediaProtocolError("digest challenge without a nonce")
        self._challenge, self._nc = best, 0
        return True

    def header(self, method: str, uri: str) -> str | None:
        """The Authorization value for a request, or None before any challenge."""
        c = self._challenge
        if c is None:
            return None
        if c.scheme == "basic":
            return "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        p = c.params
        qop_options = [q.strip() for q in p.get("qop", "").split(",")]
        qop = "auth" if "auth" in qop_options else None
        self._nc += 1
        nc = f"{self._nc:08x}"
        cnonce = secrets.token_hex(8)
        algorithm = p.get("algorithm", "MD5")
        response = digest_response(
            algorithm=algorithm,
            username=self.username,
            realm=p.get("realm", ""),
            password=self.password,
            method=method,
            uri=uri,
            nonce=p["nonce"],
            qop=qop,
            nc=nc,
            cnonce=cnonce,
        )
        parts = [
            f"username={_quote(self.username)}",
            f"realm={_quote(p.get('realm', ''))}",
            f"nonce={_quote(p['nonce'])}",
            f"uri={_quote(uri)}",
            f"response={_quote(response)}",
        ]
        if "algorithm" in p:
            parts.append(f"algorithm={algorithm}")
        if "opaque" in p:
            parts.append(f"opaque={_quote(p['opaque'])}")
        if qop:
            parts += [f"qop={qop}", f"nc={nc}", f"cnonce={_quote(cnonce)}"]
        return "Digest " + ", ".join(parts)


AuthResult = Literal["ok", "stale", "denied"]


class DigestRealm:
    """Server side of Digest MD5 (qop=auth) for any number of users: stateless nonces (time + HMAC)
    that expire, and the check of a response against the password the caller looked up. Kept apart
    from the user store so a server can fetch the password asynchronously (e.g. from a database)."""

    def __init__(self, realm: str = "Xueliang", nonce_ttl: float = 300.0) -> None:
        self.realm = realm
        self.nonce_ttl = nonce_ttl
        self._secret = secrets.token_bytes(32)

    def _sign(self, stamp: str) -> str:
        return hmac.new(self._secret, stamp.encode(), hashlib.sha256).hexdigest()[:32]

    def challenge(self, stale: bool = False) -> str:
        """The Digest WWW-Authenticate value, with a fresh nonce."""
        stamp = f"{time.time_ns() // 1000:x}"
        nonce = f"{stamp}{self._sign(stamp)}"
        value = f'Digest realm={_quote(self.realm)}, nonce="{nonce}", algorithm=MD5, qop="auth"'
        return value + (", stale=TRUE" if stale else "")

    @staticmethod
    def credentials(authorization: str | None) -> Challenge | None:
        """The single credential an Authorization value carries (any scheme), or None if unusable."""
        if not authorization:
            return None
        try:
            creds = parse_auth_header(authorization)
        except MediaProtocolError:
            return None
        return creds[0] if len(creds) == 1 else None

    def verify(self, method: str, creds: Challenge, password: str) -> AuthResult:
        """Check Digest credentials (from `credentials`) against the user's password; `stale` asks the
        client to retry with a new nonce. The caller has matched `creds.params["username"]`."""
        if creds.scheme != "digest":
            return "denied"
        p = creds.params
        nonce = p.get("nonce", "")
        if len(nonce) <= 32 or not hmac.compare_digest(self._sign(nonce[:-32]), nonce[-32:]):
            return "denied"
        if p.get("realm") != self.realm or "uri" not in p or "username" not in p:
            return "denied"
        qop = p.get("qop")
        if qop not in (None, "auth") or p.get("algorithm", "MD5").upper() != "MD5":
            return "denied"
        expected = digest_response(
            algorithm="MD5",
            username=p["username"],
            realm=self.realm,
            password=password,
            method=method,
            uri=p["uri"],
            nonce=nonce,
            qop=qop,
            nc=p.get("nc", ""),
            cnonce=p.get("cnonce", ""),
        )
        if not hmac.compare_digest(expected, p.get("response", "")):
            return "denied"
        try:
            issued_us = int(nonce[:-32], 16)
        except ValueError:
            return "denied"
        if time.time_ns() // 1000 - issued_us > self.nonce_ttl * 1_000_000:
            return "stale"
        return "ok"


class ServerAuth:
    """Server side for one fixed user: Digest (see DigestRealm), and Basic when `allow_basic` (some old
    players speak nothing else; it sends the password in clear)."""

    def __init__(
        self,
        username: str,
        password: str,
        realm: str = "Xueliang",
        nonce_ttl: float = 300.0,
        allow_basic: bool = False,
    ) -> None:
        self.username = username
        self.password = password
        self.allow_basic = allow_basic
        self.digest = DigestRealm(realm, nonce_ttl)

    @property
    def realm(self) -> str:
        return self.digest.realm

    def challenge(self, stale: bool = False) -> str:
        """The Digest WWW-Authenticate value, with a fresh nonce."""
        return self.digest.challenge(stale)

    def challenges(self, stale: bool = False) -> list[str]:
        """One WWW-Authenticate header value per scheme offered, strongest first."""
        basic = [f"Basic realm={_quote(self.realm)}"] if self.allow_basic else []
        return [self.challenge(stale), *basic]

    def _check_basic(self, token: str) -> AuthResult:
        try:
            decoded = base64.b64decode(token, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return "denied"
        user, _, password = decoded.partition(":")
        user_ok = hmac.compare_digest(user.encode(), self.username.encode())
        password_ok = hmac.compare_digest(password.encode(), self.password.encode())
        return "ok" if user_ok and password_ok else "denied"

    def check(self, method: str, authorization: str | None) -> AuthResult:
        """Verify an Authorization value; `stale` asks the client to retry with a new nonce."""
        creds = self.digest.credentials(authorization)
        if creds is None:
            return "denied"
        if creds.scheme == "basic" and self.allow_basic:
            return self._check_basic(creds.params.get("token68", ""))
        if creds.params.get("username") != self.username:
            return "denied"
        return self.digest.verify(method, creds, self.password)
