"""The HTTP guards every route gets (issue 14, items 9 and 10): bodies over their route's limit are
413 before they are read (declared or streamed), every response carries CSP and the other security
headers, the pages have no inline script, NaN and Infinity are refused in every JSON body, and stream
tokens never reach the access log."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from tests.support.app import make_settings
from xueliang.core import access_log
from xueliang.core.body_limit import BodyLimit

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "xueliang" / "web" / "templates"


class Echo:
    """An ASGI app that reads the whole body and says how much it read."""

    def __init__(self) -> None:
        self.read = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        here = 0
        while True:
            message = await receive()
            here += len(message.get("body", b""))
            self.read += len(message.get("body", b""))  # over all calls
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": str(here).encode()})


async def call(app: BodyLimit, path: str, chunks: list[bytes], declared: int | None) -> tuple[int, bytes]:
    headers = [(b"content-type", b"application/json")]
    if declared is not None:
        headers.append((b"content-length", str(declared).encode()))
    scope: Scope = {"type": "http", "method": "POST", "path": path, "headers": headers}
    pending = [
        {"type": "http.request", "body": c, "more_body": i + 1 < len(chunks)} for i, c in enumerate(chunks)
    ]
    sent: list[Message] = []

    async def receive() -> Message:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")


async def test_bodies_over_the_limit_are_refused_before_they_are_read() -> None:
    echo = Echo()
    app = BodyLimit(echo, default=1000, by_prefix={"/api/v1/grid": 5000, "/api/v1/grid/small": 10})
    chunk = b"x" * 400
    assert await call(app, "/api/v1/alarms", [chunk], 400) == (200, b"400")
    status, body = await call(app, "/api/v1/alarms", [chunk] * 100, 40_000)  # declared: nothing is read
    assert status == 413 and b'"code": "too_large"' in body and echo.read == 400
    status, body = await call(app, "/api/v1/alarms", [chunk] * 100, None)  # chunked: cut off at the limit
    assert (
        status == 413 and b"too_large" in body and echo.read == 400 + 800
    )  # the chunk over it never reaches the app
    assert await call(app, "/api/v1/grid/photos", [chunk] * 10, None) == (200, b"4000")  # uploads: more
    assert (await call(app, "/api/v1/grid/small/x", [chunk], None))[0] == 413  # the longest prefix wins
    assert (await call(app, "/api/v1/gridiron", [chunk] * 10, None))[0] == 413  # a prefix is whole segments


@pytest.fixture
async def guarded(settings: object, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    from xueliang.app import create_app

    app = create_app(settings, migrate_on_start=False)  # type: ignore[arg-type]
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50002))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c


async def test_the_app_refuses_large_bodies_before_authentication(guarded: httpx.AsyncClient) -> None:
    big = b'{"username": "' + b"a" * (2 << 20) + b'", "password": "x"}'
    r = await guarded.post("/api/v1/auth/login", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["code"] == "too_large", r.text

    async def streamed() -> AsyncIterator[bytes]:  # no Content-Length: counted as it comes
        for _ in range(40):
            yield b"x" * 65536

    r = await guarded.post("/api/v1/alarms", content=streamed(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["code"] == "too_large", r.text
    assert r.headers["x-content-type-options"] == "nosniff"  # refusals carry the headers too


async def test_every_response_has_the_security_headers(guarded: httpx.AsyncClient) -> None:
    for path in ("/login", "/api/v1/me", "/static/css/base.css", "/no/such/page"):
        r = await guarded.get(path)
        csp = r.headers.get("content-security-policy", "")
        assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp, (path, csp)
        assert "unsafe-inline" not in csp.split("script-src", 1)[1].split(";", 1)[0]
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["referrer-policy"] in ("same-origin", "no-referrer"), path
        assert r.headers["x-frame-options"] == "DENY", path
    docs = await guarded.get("/api/v1/docs")  # Swagger UI's page needs its inline script
    assert "content-security-policy" not in docs.headers and docs.headers["x-frame-options"] == "DENY"


async def test_pages_have_no_inline_script(guarded: httpx.AsyncClient) -> None:
    r = await guarded.get("/login")
    assert r.status_code == 200
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", r.text, re.S)
    assert scripts
    for attributes, content in scripts:
        assert 'src="' in attributes or 'type="application/json"' in attributes, attributes
        assert not content.strip() or 'type="application/json"' in attributes
    for template in TEMPLATES.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        inline = re.findall(r"<script(?![^>]*\ssrc=)(?![^>]*application/json)[^>]*>", text)
        assert not inline, (template.name, inline)
        assert not re.search(r"\son[a-z]+\s*=", text), f"{template.name} has an inline event handler"
        assert "javascript:" not in text, template.name


NON_FINITE_BODIES = [
    b'{"lat": NaN, "lon": 1}',
    b'{"lat": 1, "lon": Infinity}',
    b'{"lat": -Infinity, "lon": 1}',
    b'{"lat": 1e999, "lon": 1}',
    b'{"nested": [{"x": [1, 2, NaN]}]}',
]


async def test_nan_and_infinity_are_refused_in_every_json_body(guarded: httpx.AsyncClient) -> None:
    for body in NON_FINITE_BODIES:  # one app for all (a start-up each cost more than the checks)
        for path in ("/api/v1/alarms", "/api/v1/cameras", "/api/v1/auth/login", "/api/v1/grid/anything"):
            r = await guarded.post(path, content=body, headers={"content-type": "application/json"})
            assert r.status_code == 422, (body, path, r.status_code, r.text)
            assert r.json()["code"] == "invalid" and "finite" in r.json()["message"], body


async def test_finite_json_still_reaches_the_route(guarded: httpx.AsyncClient) -> None:
    r = await guarded.post(
        "/api/v1/auth/login",
        content=b'{"username": "NaN Infinity", "password": "1e999 NaN", "extra": 1.5e3}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 401 and r.json()["code"] == "bad_credentials", r.text  # strings are strings


def test_stream_tokens_are_redacted_in_the_access_log(caplog: pytest.LogCaptureFixture) -> None:
    access_log.install()
    access_log.install()  # once is enough
    logger = logging.getLogger(access_log.ACCESS_LOGGER)
    assert sum(isinstance(f, access_log.RedactTokens) for f in logger.filters) == 1
    path = "/api/v1/live/3/hls/index.m3u8?token=eyJ1.c2VjcmV0&_HLS_msn=4"
    with caplog.at_level(logging.INFO, logger=access_log.ACCESS_LOGGER):
        logger.info('%s - "%s %s HTTP/%s" %d', "10.0.0.1:5000", "GET", path, "1.1", 200)
        logger.info("GET /x?a=1&access_token=abc;token=def")
    text = caplog.text
    assert "eyJ1" not in text and "c2VjcmV0" not in text and "abc" not in text and "def" not in text
    assert "token=[redacted]&_HLS_msn=4" in text and "/api/v1/live/3/hls/index.m3u8" in text


def test_serve_installs_the_redaction(tmp_path: Path) -> None:
    from xueliang.server import uvicorn_config

    logger = logging.getLogger(access_log.ACCESS_LOGGER)
    for found in [f for f in logger.filters if isinstance(f, access_log.RedactTokens)]:
        logger.removeFilter(found)
    uvicorn_config(FastAPI(), make_settings(f"sqlite+aiosqlite:///{tmp_path / 'x.db'}", tmp_path))
    assert any(isinstance(f, access_log.RedactTokens) for f in logger.filters)


def test_serve_warns_beyond_loopback_without_secure_cookies(tmp_path: Path) -> None:
    from xueliang.accounts.config import AccountSettings
    from xueliang.server import exposure_warnings

    url = f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"
    for host in ("127.0.0.1", "::1", "localhost"):
        assert exposure_warnings(make_settings(url, tmp_path, host=host)) == []
    (warning,) = exposure_warnings(make_settings(url, tmp_path, host="0.0.0.0"))  # noqa: S104
    assert "cookie_secure" in warning and "TLS" in warning
    secure = AccountSettings(cookie_secure=True)
    assert exposure_warnings(make_settings(url, tmp_path, host="0.0.0.0", accounts=secure)) == []  # noqa: S104
