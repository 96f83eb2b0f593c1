"""Request body limits (issue 14, item 9): an ASGI middleware that answers 413 `{code: "too_large"}`
before a body larger than its route's limit is read (a 64 MB JSON body used to be read and parsed in
full, before authentication, for +142 MB of memory).

The limit is chosen by the longest matching path prefix (`NodeSettings.max_body_bytes_by_prefix`,
e.g. the grid's photo uploads), else the small default for JSON (`max_body_bytes`). A declared
Content-Length over the limit is refused without reading a byte; a body without one (chunked) is
counted as it streams, and the request is cut off at the first chunk over the limit. Being a
middleware, it covers every route, those of domains added later included, with no code of theirs."""

from __future__ import annotations

import json
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    """Raised into the app's read of a streamed body that passed its limit; answered 413 here."""


def _too_large(limit: int) -> tuple[Message, Message]:
    body = json.dumps(
        {"code": "too_large", "message": f"request body too large (at most {limit} bytes here)"}
    ).encode()
    start: Message = {
        "type": "http.response.start",
        "status": 413,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),  # the rest of the body is not read: do not reuse the connection
        ],
    }
    return start, {"type": "http.response.body", "body": body}


class BodyLimit:
    """`BodyLimit(app, default=1 << 20, by_prefix={"/api/v1/grid": 10 << 20})`."""

    def __init__(self, app: ASGIApp, *, default: int, by_prefix: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.default = default
        # longest prefix first, so /api/v1/grid/photos can differ from /api/v1/grid
        self.by_prefix = sorted((by_prefix or {}).items(), key=lambda item: len(item[0]), reverse=True)

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.by_prefix:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return limit
        return self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            for message in _too_large(limit):
                await send(message)
            return
        received = 0
        exceeded = False
        started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # the app's own answer to the cut-off body (often a 400) is replaced by the 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise  # whatever the app made of the cut-off body (BodyTooLarge or another) ends here
        if exceeded and not started:
            for message in _too_large(limit):
                await send(message)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed length itself; the stream is counted anyway
    return None
