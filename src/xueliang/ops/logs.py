"""`log_format = "json"`: one JSON object per line, for a log collector, with the request id, the
user id and the camera id where they are known, and never a password, secret or token.

The request's fields live in a context variable set by `RequestContext`, an ASGI wrapper installed
only in JSON mode (the default text logs cost nothing new): it takes the client's `X-Request-ID` when
it is sane or makes one, sends it back, reads the camera id from the path, and the user id from the
session cache (in memory: a session not yet cached is looked up again when the response starts, by
which time the route has resolved it). uvicorn's access line is written inside that context, so it
carries the same fields."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from typing import Any

from xueliang.accounts import session_cache
from xueliang.accounts.deps import SESSION_COOKIE
from xueliang.accounts.service import token_hash
from xueliang.core.access_log import redact as redact_query_tokens

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

FIELDS: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("xueliang_log", default=None)
KEYS = ("request_id", "user_id", "camera_id")
_SECRET = re.compile(  # key=value, key: value and "key": "value" forms of anything secret
    r"""(?i)(["']?\b(?:password|passwd|secret|token|access_token|api_key|csrf_token|authorization|cookie)\b["']?"""
    r"""\s*[:=]\s*)("[^"]*"|'[^']*'|[^\s,;&]+)"""
)
_BEARER = re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]+")
_CAMERA = re.compile(r"/(?:cameras|live|recordings/cameras|playback)/(\d{1,12})(?:/|$)")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def redact(text: str) -> str:
    """Secrets out of a log line: `password=...`, `"token": "..."`, `Bearer ...`, `?token=` in URLs."""
    text = redact_query_tokens(text)
    text = _BEARER.sub(r"\1 [redacted]", text)
    return _SECRET.sub(r"\1[redacted]", text)


class JsonFormatter(logging.Formatter):
    """One line: time (UTC, ISO 8601), level, logger, message, the request's fields, the exception."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        fields = FIELDS.get() or {}
        for key in KEYS:
            value = getattr(record, key, None)
            if value is None:
                value = fields.get(key)
            if value is not None:
                out[key] = value
        if record.name == "uvicorn.access" and isinstance(record.args, tuple) and len(record.args) == 5:
            client, method, path, _version, status = record.args
            out.update(client=client, method=method, path=redact(str(path)), status=status)
        if record.exc_info:
            out["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False, default=str)


LOGGERS = ("", "uvicorn", "uvicorn.error", "uvicorn.access")


def configure(log_format: str, level: int = logging.INFO) -> None:
    """After uvicorn set up its loggers: in JSON mode every handler writes JSON, and the node's own
    loggers (root) get one on stderr. Text mode leaves everything as it was."""
    if log_format != "json":
        return
    formatter = JsonFormatter()
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.StreamHandler())
        root.setLevel(level)
    for name in LOGGERS:
        for handler in logging.getLogger(name).handlers:
            handler.setFormatter(formatter)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _token(scope: Scope) -> str | None:
    auth = _header(scope, b"authorization") or ""
    if auth.lower().startswith("bearer "):
        return auth[7:].strip() or None
    raw = _header(scope, b"cookie")
    if raw:
        morsel = SimpleCookie(raw).get(SESSION_COOKIE)
        if morsel is not None:
            return morsel.value or None
    return None


class RequestContext:
    """ASGI wrapper (JSON mode only): the request's log fields, and `X-Request-ID` on the response."""

    def __init__(self, app: ASGIApp, db_key: str) -> None:
        self.app = app
        self.db_key = db_key

    def _user_id(self, token: str | None) -> int | None:
        if token is None:
            return None
        found = session_cache.get(self.db_key, token_hash(token))
        return found.user.id if found is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        sent = _header(scope, b"x-request-id")
        request_id = sent if sent and _REQUEST_ID.match(sent) else uuid.uuid4().hex
        token = _token(scope)
        fields: dict[str, Any] = {"request_id": request_id, "user_id": self._user_id(token)}
        match = _CAMERA.search(scope.get("path", ""))
        if match:
            fields["camera_id"] = int(match.group(1))
        reset = FIELDS.set(fields)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                if fields["user_id"] is None:
                    fields["user_id"] = self._user_id(token)
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            FIELDS.reset(reset)
