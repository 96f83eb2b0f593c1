"""SIP messages: parse from bytes, build, serialize. Bounded: a message over `MAX_MESSAGE` bytes, more
than `MAX_HEADERS` headers or a malformed start line is a `SipParseError`, never another exception.

Headers keep their order; names are canonicalised (compact forms expanded: `i` -> `Call-ID`), so
lookups are case-insensitive. Folded header lines (a line starting with space or tab) are joined."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_MESSAGE = 64 * 1024
MAX_HEADERS = 100
MAX_BODY = 60 * 1024

COMPACT = {
    "i": "Call-ID",
    "m": "Contact",
    "e": "Content-Encoding",
    "l": "Content-Length",
    "c": "Content-Type",
    "f": "From",
    "s": "Subject",
    "k": "Supported",
    "t": "To",
    "v": "Via",
    "o": "Event",
}
_CANONICAL = {
    name.lower(): name
    for name in (
        "Via",
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "Contact",
        "Content-Length",
        "Content-Type",
        "Max-Forwards",
        "Expires",
        "User-Agent",
        "WWW-Authenticate",
        "Authorization",
        "Subject",
        "Event",
        "Date",
        "Allow",
        "Supported",
        "Subscription-State",
        "X-GB-Ver",
        "Content-Encoding",
        "Route",
        "Record-Route",
    )
}
_TOKEN = re.compile(r"^[A-Za-z0-9.!%*_+`'~-]+$")
_REASONS = {
    100: "Trying",
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Request Entity Too Large",
    415: "Unsupported Media Type",
    481: "Call/Transaction Does Not Exist",
    486: "Busy Here",
    488: "Not Acceptable Here",
    500: "Server Internal Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}


class SipParseError(ValueError):
    """The bytes are not a SIP message we accept (the caller answers 400 or drops the datagram)."""


def canonical(name: str) -> str:
    low = name.strip().lower()
    if low in COMPACT:
        return COMPACT[low]
    return _CANONICAL.get(low, "-".join(part.capitalize() for part in low.split("-")))


@dataclass
class SipMessage:
    """A request (`method` set) or a response (`status` set). `headers` in order, canonical names."""

    method: str = ""
    uri: str = ""
    status: int = 0
    reason: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    @property
    def is_request(self) -> bool:
        return bool(self.method)

    def get(self, name: str, default: str = "") -> str:
        key = canonical(name)
        for k, v in self.headers:
            if k == key:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        key = canonical(name)
        return [v for k, v in self.headers if k == key]

    def set(self, name: str, value: str) -> None:
        key = canonical(name)
        self.headers = [(k, v) for k, v in self.headers if k != key]
        self.headers.append((key, value))

    def add(self, name: str, value: str) -> None:
        self.headers.append((canonical(name), value))

    @property
    def call_id(self) -> str:
        return self.get("Call-ID")

    @property
    def cseq(self) -> tuple[int, str]:
        """(number, method) of the CSeq header; (0, "") when it is unusable."""
        parts = self.get("CSeq").split()
        if len(parts) != 2 or not parts[0].isdigit() or len(parts[0]) > 10:
            return 0, ""
        return int(parts[0]), parts[1].upper()

    @property
    def top_via(self) -> str:
        vias = self.get_all("Via")
        return vias[0].split(",")[0].strip() if vias else ""

    @property
    def branch(self) -> str:
        return header_param(self.top_via, "branch")

    def encode(self) -> bytes:
        if self.is_request:
            start = f"{self.method} {self.uri} SIP/2.0"
        else:
            start = f"SIP/2.0 {self.status} {self.reason or _REASONS.get(self.status, 'Unknown')}"
        lines = [start]
        lines += [f"{k}: {v}" for k, v in self.headers if k != "Content-Length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + self.body


def header_param(value: str, name: str) -> str:
    """A `;name=value` parameter of a header value (outside its `<...>` URI), or ""."""
    rest = value.rsplit(">", 1)[-1] if "<" in value else value
    for part in rest.split(";")[1:]:
        key, _, val = part.partition("=")
        if key.strip().lower() == name.lower():
            return val.strip().strip('"')
    return ""


def uri_of(value: str) -> str:
    """The URI of a name-addr (`"x" <sip:a@b>;tag=1`) or addr-spec header value."""
    if "<" in value and ">" in value:
        return value[value.index("<") + 1 : value.index(">")]
    return value.split(";")[0].strip()


def uri_user(uri: str) -> str:
    """`sip:user@host` -> `user` ("" when there is no user part)."""
    rest = uri.split(":", 1)[1] if ":" in uri else uri
    return rest.split("@", 1)[0] if "@" in rest else ""


def uri_hostport(uri: str) -> tuple[str, int | None]:
    rest = uri.split(":", 1)[1] if ":" in uri else uri
    host = rest.split("@", 1)[-1].split(";")[0].split("?")[0]
    name, _, port = host.rpartition(":") if host.count(":") == 1 else (host, "", "")
    if port.isdigit() and 0 < int(port) < 65536:
        return name, int(port)
    return host, None


def parse(data: bytes) -> SipMessage:
    """One whole message (a UDP datagram, or a TCP frame cut by `StreamFramer`)."""
    if len(data) > MAX_MESSAGE:
        raise SipParseError("message too large")
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, sep, body = data.partition(b"\n\n")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = head.decode("latin-1")
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and not lines[0].strip():
        lines.pop(0)  # RFC 3261 7.5: leading CRLFs are ignored
    if not lines:
        raise SipParseError("empty message")
    msg = _start_line(lines[0])
    for line in lines[1:]:
        if not line:
            continue
        if line[0] in " \t":
            if not msg.headers:
                raise SipParseError("continuation line before any header")
            k, v = msg.headers[-1]
            msg.headers[-1] = (k, f"{v} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon or not name.strip() or not _TOKEN.match(name.strip()):
            raise SipParseError(f"malformed header line {line[:40]!r}")
        msg.headers.append((canonical(name), value.strip()))
        if len(msg.headers) > MAX_HEADERS:
            raise SipParseError("too many headers")
    length = msg.get("Content-Length")
    if length:
        if not length.isdigit() or len(length) > 6:
            raise SipParseError("bad Content-Length")
        n = int(length)
        if n > MAX_BODY or n > len(body):
            raise SipParseError("body shorter than Content-Length")
        body = body[:n]
    msg.body = body
    for required in ("Via", "From", "To", "Call-ID", "CSeq"):
        if not msg.get(required):
            raise SipParseError(f"missing {required}")
    if msg.cseq == (0, ""):
        raise SipParseError("bad CSeq")
    if msg.is_request and msg.cseq[1] != msg.method and msg.method != "ACK":
        raise SipParseError("CSeq method does not match")
    return msg


def _start_line(line: str) -> SipMessage:
    parts = line.strip().split(" ", 2)
    if len(parts) < 2:
        raise SipParseError("bad start line")
    if parts[0] == "SIP/2.0":
        code = parts[1]
        if len(code) != 3 or not code.isdigit() or not 100 <= int(code) <= 699:
            raise SipParseError("bad status code")
        return SipMessage(status=int(code), reason=parts[2] if len(parts) > 2 else "")
    if len(parts) != 3 or parts[2] != "SIP/2.0" or not _TOKEN.match(parts[0]) or not parts[0].isupper():
        raise SipParseError("bad request line")
    if ":" not in parts[1]:
        raise SipParseError("bad Request-URI")
    return SipMessage(method=parts[0], uri=parts[1])


class StreamFramer:
    """Cuts a TCP byte stream into messages by Content-Length (RFC 3261 18.3). A frame that cannot be
    cut (no Content-Length in a header block, or one over the bounds) poisons the stream: `feed`
    raises and the connection is closed, since nothing after it can be trusted."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._buf += data
        out: list[bytes] = []
        while True:
            while self._buf[:2] == b"\r\n":
                del self._buf[:2]  # keep-alive CRLFs (RFC 5626)
            end = self._buf.find(b"\r\n\r\n")
            if end < 0:
                if len(self._buf) > MAX_MESSAGE:
                    raise SipParseError("header block too large")
                return out
            head = bytes(self._buf[:end])
            match = re.search(rb"(?im)^(?:content-length|l)[ \t]*:[ \t]*(\d{1,6})[ \t]*$", head)
            if match is None:
                raise SipParseError("no Content-Length on a stream transport")
            total = end + 4 + int(match.group(1))
            if total > MAX_MESSAGE:
                raise SipParseError("message too large")
            if len(self._buf) < total:
                return out
            out.append(bytes(self._buf[:total]))
            del self._buf[:total]


def response_to(req: SipMessage, status: int, reason: str = "", to_tag: str = "") -> SipMessage:
    """A response copying Via, From, To (with our tag), Call-ID and CSeq from the request."""
    resp = SipMessage(status=status, reason=reason or _REASONS.get(status, "Unknown"))
    for via in req.get_all("Via"):
        resp.add("Via", via)
    to = req.get("To")
    if to_tag and not header_param(to, "tag"):
        to = f"{to};tag={to_tag}"
    resp.add("From", req.get("From"))
    resp.add("To", to)
    resp.add("Call-ID", req.call_id)
    resp.add("CSeq", req.get("CSeq"))
    return resp


def bad_request(data: bytes, reason: str) -> bytes | None:
    """A 400 for bytes that failed `parse`, when they still name a request's Via, From, To, Call-ID and
    CSeq; None when they do not (the datagram is dropped). Never raises."""
    try:
        text = data[:MAX_MESSAGE].split(b"\r\n\r\n", 1)[0].decode("latin-1")
        lines = text.split("\r\n")
        first = lines[0].split(" ")
        if not first or first[0] == "SIP/2.0" or first[0] == "ACK":
            return None  # never answer a response or an ACK
        found: dict[str, list[str]] = {}
        for line in lines[1:MAX_HEADERS]:
            name, colon, value = line.partition(":")
            if colon and _TOKEN.match(name.strip() or "!"):
                found.setdefault(canonical(name), []).append(value.strip())
        if not all(found.get(h) for h in ("Via", "From", "To", "Call-ID", "CSeq")):
            return None
        resp = SipMessage(status=400, reason=re.sub(r"[^\x20-\x7e]", "?", reason)[:80] or "Bad Request")
        for via in found["Via"]:
            resp.add("Via", via)
        for name in ("From", "To", "Call-ID", "CSeq"):
            resp.add(name, found[name][0])
        answer = resp.encode()
        parse(answer)  # what it echoes must itself be a well-formed message, or nothing is sent
        return answer
    except Exception:  # pragma: no cover - a last guard: malformed input never escapes as an exception
        return None
