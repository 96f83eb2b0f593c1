"""A minimal in-process client for the benches: the app called as ASGI with hand-made messages.

httpx's ASGI transport costs the bench process 1.5-2.5 ms of CPU per request (request and response
models, URL parsing, cookies, a failed `import sniffio`), more than most of the portal's routes cost
the server, so on a busy machine an in-process bench measured its own client. This one costs a few
microseconds: what the benches then time is the server's own work and its queueing."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode


@dataclass
class Answer:
    status_code: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes = b""

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class AsgiClient:
    """`await client.get(path, headers=...)`, `post(path, json=..., headers=...)`, as httpx spells them."""

    def __init__(self, app: Any, client: tuple[str, int] = ("127.0.0.1", 50000)) -> None:
        self.app = app
        self.client = client

    async def __aenter__(self) -> AsgiClient:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        return None

    async def get(self, path: str, *, headers: dict[str, str] | None = None) -> Answer:
        return await self.request("GET", path, headers=headers)

    async def post(
        self, path: str, *, json: Any = None, headers: dict[str, str] | None = None, params: Any = None
    ) -> Answer:
        return await self.request("POST", path, json_body=json, headers=headers, params=params)

    async def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        params: Any = None,
    ) -> Answer:
        route, _, query = path.partition("?")
        if params:
            query = "&".join(filter(None, [query, urlencode(params)]))
        body = b"" if json_body is None else json.dumps(json_body).encode()
        raw = [(b"host", b"bench"), (b"content-length", str(len(body)).encode())]
        if json_body is not None:
            raw.append((b"content-type", b"application/json"))
        raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": route,
            "raw_path": route.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": raw,
            "client": self.client,
            "server": ("bench", 80),
            "state": {},
        }
        answer = Answer()
        delivered = False

        async def receive() -> dict[str, Any]:
            nonlocal delivered
            if delivered:
                await asyncio.Event().wait()  # the client never goes away mid-request here
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer.status_code = message["status"]
                answer.headers = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
            elif message["type"] == "http.response.body":
                answer.content += message.get("body", b"")

        await self.app(scope, receive, send)
        return answer
