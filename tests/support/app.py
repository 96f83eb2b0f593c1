"""Test apps: their settings, a logged-in API client, the real app under uvicorn."""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import uvicorn
from fastapi import FastAPI

from tests.support.db import BACKEND
from tests.support.net import free_port
from xueliang.alarms.config import AlarmSettings
from xueliang.config import Settings
from xueliang.media.config import MediaSettings
from xueliang.seed.demo import DEMO_PASSWORD

# Screenshots and timings of the browser tests, one folder per database pass (the passes run side by side).
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / BACKEND


def make_settings(url: str, data_dir: Path, **extra: object) -> Settings:
    """Settings for a test app; the media engine stays off unless a test turns it on, and so do the
    alarm services that reach outside the process (MQTT broker, PostgreSQL LISTEN/NOTIFY bridge)."""
    extra.setdefault("media", MediaSettings(enabled=False))
    extra.setdefault("alarms", AlarmSettings(mqtt_enabled=False, pg_bridge=False))
    return Settings(database_url=url, data_dir=data_dir, secret_key="test-secret-" + "x" * 32, **extra)  # type: ignore[arg-type]


@contextmanager
def logged_in_client(api_url: str, username: str, password: str = DEMO_PASSWORD) -> Iterator[httpx.Client]:
    """A blocking API client (base `api_url`: `<server>/api/v1`) with a session and the CSRF header."""
    with httpx.Client(base_url=api_url, timeout=15) as c:
        r = c.post("/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        yield c


class LoggedIn:
    """An API client logged in as one user, sending the CSRF header as the browser pages do."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def login(self, username: str, password: str = DEMO_PASSWORD) -> httpx.AsyncClient:
        r = await self.client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        self.client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return self.client


class _StartupErrors(logging.Handler):
    """uvicorn's own account of a failed start (a lifespan exception, a port in use), kept so that a
    server that did not start says why in the test's error instead of only in a truncated log."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + "".join(traceback.format_exception(*record.exc_info)[-6:])
        self.lines.append(text)


class LiveServer:
    """The real app under uvicorn in a background thread, on a free loopback port."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        )
        self.exit_reason = ""
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            self.server.run()
        except BaseException as exc:  # uvicorn exits the thread with SystemExit when it cannot bind
            self.exit_reason = f"{type(exc).__name__}: {exc}"

    def start(self, timeout: float = 20.0) -> None:
        errors = _StartupErrors()
        uvicorn_log = logging.getLogger("uvicorn.error")
        uvicorn_log.addHandler(errors)
        try:
            self.thread.start()
            deadline = time.monotonic() + timeout
            while not self.server.started:
                if not self.thread.is_alive():
                    why = "\n".join([*errors.lines, self.exit_reason]).strip() or "no error logged"
                    raise RuntimeError(f"live server on port {self.port} exited while starting: {why}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"live server on port {self.port} did not start within {timeout} s")
                time.sleep(0.02)
        finally:
            uvicorn_log.removeHandler(errors)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
