"""Test apps: their settings, a logged-in API client, the real app under uvicorn."""

from __future__ import annotations

import threading
import time
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


class LoggedIn:
    """An API client logged in as one user, sending the CSRF header as the browser pages do."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def login(self, username: str, password: str = DEMO_PASSWORD) -> httpx.AsyncClient:
        r = await self.client.post("/api/v1/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        self.client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return self.client


class LiveServer:
    """The real app under uvicorn in a background thread, on an ephemeral loopback port."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def start(self, timeout: float = 20.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("live server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
