"""JSON logs: one object per line with the request id, user id and camera id where known, never a
password or token; the request id comes back in `X-Request-ID`. Text stays the default."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from tests.support.app import LoggedIn, make_settings
from xueliang.app import create_app
from xueliang.ops.config import OpsSettings
from xueliang.ops.logs import JsonFormatter, redact

log = logging.getLogger("xueliang.tests.ops")


def test_secrets_never_reach_a_line() -> None:
    line = redact(
        'login password=hunter2 {"token": "abc.def", "secret": \'s3\'} Authorization: Bearer eyJhbGci.x '
        "GET /api/v1/live/3/hls/index.m3u8?token=tok123&x=1"
    )
    for secret in ("hunter2", "abc.def", "s3", "eyJhbGci", "tok123"):
        assert secret not in line, line
    assert "x=1" in line and "[redacted]" in line


def test_text_is_the_default() -> None:
    assert OpsSettings().log_format == "text"


@pytest.fixture
async def json_app(seeded_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    settings = make_settings(seeded_url, tmp_path, ops=OpsSettings(log_format="json"))
    application = create_app(settings, migrate_on_start=False)

    async def probe(camera_id: int) -> dict[str, int]:
        log.warning("probe for camera %s with password=%s", camera_id, "hunter2")
        return {"camera_id": camera_id}

    application.router.routes.insert(0, APIRoute("/api/v1/cameras/{camera_id}/log-probe", probe))
    async with application.router.lifespan_context(application):
        yield application


async def test_json_lines_carry_the_request_user_and_camera(json_app: FastAPI) -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    log.addHandler(handler)
    try:
        transport = httpx.ASGITransport(app=json_app, client=("127.0.0.1", 50300))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            op = await LoggedIn(c).login("op-qingxi")
            assert (await op.get("/api/v1/me")).status_code == 200  # the session is resolved once
            r = await op.get("/api/v1/cameras/7/log-probe", headers={"X-Request-ID": "req-0123456789"})
            assert r.status_code == 200 and r.headers["x-request-id"] == "req-0123456789"
            user_id = (await op.get("/api/v1/me")).json()["id"]
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as anon_client:
            anon = await anon_client.get("/api/v1/cameras/8/log-probe", headers={"X-Request-ID": "bad id!"})
            assert len(anon.headers["x-request-id"]) == 32  # an unusable one is replaced
    finally:
        log.removeHandler(handler)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 2
    first = lines[0]
    assert first["request_id"] == "req-0123456789" and first["camera_id"] == 7 and first["user_id"] == user_id
    assert first["level"] == "warning" and first["logger"] == "xueliang.tests.ops"
    assert "hunter2" not in stream.getvalue() and "probe for camera 7" in first["message"]
    assert lines[1]["camera_id"] == 8 and "user_id" not in lines[1]
