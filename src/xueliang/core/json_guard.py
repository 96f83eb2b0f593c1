"""NaN and Infinity are not numbers a client may send (issue 14, item 10): Python's JSON parser reads
the non-standard `NaN`, `Infinity` and `-Infinity`, and a number too large for a float (`1e999`) as
infinity, and pydantic's `float` accepts them, so they reached the services (a camera at latitude NaN).
This ASGI middleware parses every JSON request body once more with hooks that refuse them, and
answers 422 in the API's error shape before any route sees the body, for every route, those of
domains added later included. Bodies are bounded before they get here (core/body_limit.py)."""

from __future__ import annotations

import json
import math

from starlette.types import ASGIApp, Message, Receive, Scope, Send

_METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class NotFinite(ValueError):
    pass


def _constant(name: str) -> float:
    raise NotFinite(name)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise NotFinite(text[:40])
    return value


def non_finite(body: bytes) -> str | None:
    """The first NaN/Infinity (or overflowing number) in a JSON document, None if there is none or
    the document is not JSON at all (the route's own parser reports that)."""
    try:
        json.loads(body, parse_constant=_constant, parse_float=_float)
    except NotFinite as exc:
        return str(exc)
    except ValueError:  # not JSON, not UTF-8: not ours to judge
        return None
    return None


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            media: bytes = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return False


async def _invalid(send: Send, token: str) -> None:
    message = f"numbers must be finite: {token} is not allowed"
    body = json.dumps(
        {"code": "invalid", "message": message, "errors": [{"field": "", "message": message}]}
    ).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 422, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class FiniteJson:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in _METHODS_WITH_BODY or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        token = non_finite(body) if body else None
        if token is not None:
            await _invalid(send, token)
            return
        whole: Message = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay([whole], receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """Hands the app the messages already read, then the connection's own (its disconnect)."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
