"""Values of RTSP headers that both sides read: Transport, Session, and `a-b` port/channel pairs."""

from __future__ import annotations

import re

from xueliang.media.errors import MediaProtocolError


def parse_transport(value: str) -> tuple[str, dict[str, str]]:
    """The first transport spec of a Transport header: its protocol (e.g. `RTP/AVP/TCP`) and
    parameters (`interleaved`, `client_port`, `server_port`, `unicast`...), names lower-cased."""
    spec = value.split(",")[0].strip()
    parts = [p.strip() for p in spec.split(";")]
    if not parts[0]:
        raise MediaProtocolError(f"bad Transport header {value[:80]!r}")
    params: dict[str, str] = {}
    for part in parts[1:]:
        name, _, param = part.partition("=")
        if name:
            params[name.strip().lower()] = param.strip()
    return parts[0].upper(), params


def parse_pair(value: str | None, what: str) -> tuple[int, int]:
    """`a-b` or `a` (meaning a, a+1) as used for ports and interleaved channels."""
    match = re.fullmatch(r"([0-9]{1,5})(?:-([0-9]{1,5}))?", (value or "").strip())
    if not match:
        raise MediaProtocolError(f"bad {what} {str(value)[:40]!r}")
    first = int(match.group(1))
    second = int(match.group(2)) if match.group(2) else first + 1
    if first > 65535 or second > 65535:
        raise MediaProtocolError(f"{what} out of range")
    return first, second


def parse_session(value: str) -> tuple[str, float | None]:
    """Session id and its timeout in seconds, if given (`12345678;timeout=60`)."""
    ident, _, rest = value.partition(";")
    ident = ident.strip()
    if not ident or len(ident) > 256 or any(c.isspace() for c in ident):
        raise MediaProtocolError(f"bad Session header {value[:80]!r}")
    timeout: float | None = None
    for part in rest.split(";"):
        name, _, param = part.partition("=")
        if name.strip().lower() == "timeout":
            if not re.fullmatch(r"[0-9]{1,6}", param.strip()):
                raise MediaProtocolError(f"bad session timeout {param[:20]!r}")
            timeout = float(param.strip()) or None
    return ident, timeout
