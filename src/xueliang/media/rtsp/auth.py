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
    return response_from_ha1(
        ha1, method=method, uri=uri, nonce=nonce, qop=qop, nc=nc, cnonce=cnonce, algorithm=base
    )


def response_from_ha1(
    ha1: str,
    *,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None = None,
    nc: str = "",
    cnonce: str = "",
    algorithm: str = "MD5",
) -> str:
    """The `response` from a stored HA1 (a server that keeps HA1, not the password: GB/T 28181 devices)."""
    digest = _HASHES[algorithm]
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
_DIGEST_FIELDS = ("username", "realm", "nonce", "uri", "response")
_QOP_FIELDS = ("qop", "nc", "cnonce")


class DigestRealm:
    """Server side of Digest MD5 (qop=auth) for any number of users: stateless nonces (time + HMAC)
    that expire, and the check of a response against the password the caller looked up. Kept apart
    from the user store so a server can fetch the password asynchronously (e.g. from a database).

    A response is bound to its request: its `uri` must be the request's, and its nonce count `nc` must
    grow with every use of a nonce, so a captured header opens neither another camera nor the same one
    again (RFC 7616 §3.3, §5.12). The counts live in memory for the nonce's lifetime (`max_nonces` at
    most; the oldest are forgotten first, which only makes their clients ask for a new nonce).
    Anything malformed (missing fields, non-ASCII values, a bad nonce) is `denied`, never raised."""

    def __init__(self, realm: str = "Xueliang", nonce_ttl: float = 300.0, max_nonces: int = 10_000) -> None:
        self.realm = realm
        self.nonce_ttl = nonce_ttl
        self.max_nonces = max_nonces
        self._secret = secrets.token_bytes(32)
        self._counts: dict[str, tuple[int, int]] = {}  # nonce -> (highest nc accepted, issued µs)
        self._floor_us = 0  # nonces issued up to then whose count was forgotten early are stale

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

    @staticmethod
    def well_formed(creds: Challenge) -> bool:
        """Digest credentials with every field they need (qop, nc and cnonce together or none of them,
        RFC 2069 clients such as live555/VLC send none), all ASCII but the (printable) username: what a
        server may check before it looks the user up."""
        p = creds.params
        if creds.scheme != "digest" or any(name not in p for name in _DIGEST_FIELDS):
            return False
        extra = [name in p for name in _QOP_FIELDS]
        if any(extra) and not all(extra):
            return False
        username = p["username"]
        if not username or len(username) > 256 or not username.isprintable():
            return False
        present = [name for name in (*_DIGEST_FIELDS[1:], *_QOP_FIELDS) if name in p]
        return all(p[name].isascii() and p[name].isprintable() for name in present)

    def _issued_us(self, nonce: str) -> int | None:
        """When one of our nonces was issued (µs since the epoch), or None if it is not ours."""
        if not nonce.isascii() or len(nonce) <= 32 or len(nonce) > 64:
            return None
        stamp, mac = nonce[:-32], nonce[-32:]
        if not hmac.compare_digest(self._sign(stamp).encode(), mac.encode()):
            return None
        try:
            return int(stamp, 16)
        except ValueError:
            return None

    def verify(self, method: str, creds: Challenge, password: str, uri: str | None = None) -> AuthResult:
        """Check Digest credentials (from `credentials`) against the user's password for a request of
        `method` on `uri` (the request line's); `stale` asks the client to retry with a new nonce. The
        caller has matched `creds.params["username"]`. An accepted response uses up its nonce count;
        without qop (RFC 2069) there is no count, so a nonce answers one request per method and URI."""
        if not self.well_formed(creds):
            return "denied"
        p = creds.params
        if uri is not None and p["uri"] != uri:
            return "denied"
        nonce, qop = p["nonce"], p.get("qop")
        issued_us = self._issued_us(nonce)
        if issued_us is None or p["realm"] != self.realm:
            return "denied"
        if qop not in (None, "auth") or p.get("algorithm", "MD5").upper() != "MD5":
            return "denied"
        nc_text = p.get("nc", "00000001")
        if len(nc_text) != 8 or any(c not in "0123456789abcdefABCDEF" for c in nc_text):
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
        if not hmac.compare_digest(expected.encode(), p["response"].lower().encode()):
            return "denied"
        now_us = time.time_ns() // 1000
        if now_us - issued_us > self.nonce_ttl * 1_000_000:
            return "stale"
        key = nonce if qop else f"{nonce} {method} {p['uri']}"
        if key not in self._counts and issued_us <= self._floor_us:
            return "stale"  # its count was forgotten to bound memory: a replay cannot be told apart
        nc = int(nc_text, 16)
        if nc <= self._counts.get(key, (0, 0))[0]:
            return "denied"  # a replayed (or reordered) header
        self._counts.pop(key, None)
        self._counts[key] = (nc, issued_us)  # newest use last
        self._forget_old(now_us)
        return "ok"

    def _forget_old(self, now_us: int) -> None:
        ttl_us = self.nonce_ttl * 1_000_000
        while self._counts:
            oldest = next(iter(self._counts))
            issued = self._counts[oldest][1]
            if len(self._counts) <= self.max_nonces and now_us - issued <= ttl_us:
                return
            del self._counts[oldest]
            if now_us - issued <= ttl_us:
                self._floor_us = max(self._floor_us, issued)


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

    def check(self, method: str, authorization: str | None, uri: str | None = None) -> AuthResult:
        """Verify an Authorization value for a request on `uri`; `stale` asks the client to retry with a
        new nonce."""
        creds = self.digest.credentials(authorization)
        if creds is None:
            return "denied"
        if creds.scheme == "basic" and self.allow_basic:
            return self._check_basic(creds.params.get("token68", ""))
        if creds.params.get("username") != self.username:
            return "denied"
        return self.digest.verify(method, creds, self.password, uri)
