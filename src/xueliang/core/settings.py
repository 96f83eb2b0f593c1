"""The node's own settings: what every domain of one node shares (where its data lives, its database,
its address, its secret, its language and time zone, how long signed stream URLs live, the durable
timers). Each domain's own section (`accounts`, `media`, `alarms`, `recording`) lives in that domain's
`config.py`; `xueliang.config.Settings` composes them. Built once per process and handed to
`create_app`, never read at import time."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class NodeSettings(BaseSettings):
    """The `[xueliang]` table of the TOML file; env vars `XUELIANG_<NAME>` override it."""

    model_config = SettingsConfigDict(env_prefix="XUELIANG_", extra="ignore")

    data_dir: Path = Path("var")
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    secret_key: str = ""
    default_locale: str = "zh_CN"
    timezone: str = "Asia/Shanghai"
    # Signed stream URLs (live, playback, exports) of every domain: bound to user, camera and action.
    stream_token_seconds: int = Field(default=300, le=300)
    sim_rtsp_base: str = "rtsp://127.0.0.1:8554"  # where `xueliang demo` points the seeded cameras
    # Durable timers (core/timers.py): how late timers of another process that died are found (this
    # process's own wake the runner, and a restart looks at once); each look is two statements.
    timer_max_idle_s: float = Field(default=10.0, gt=0)
    timer_loop: bool = True  # off: timers fire only when `run_due` is called (tests drive them by hand)
    # Scale-out by role on PostgreSQL (ops/roles.py, docs/operations.md): "all" is one process doing
    # everything; "web", "media" and "worker" split it. `media_url` is where viewers reach this media
    # process (a path behind the proxy such as "/m/media-1", or "http://10.0.0.5:8101"); default its
    # own host and port.
    role: Literal["all", "web", "media", "worker"] = "all"
    media_url: str = ""
    # Request bodies (core/body_limit.py): larger ones are refused with 413 before they are read. The
    # default suits JSON; a path prefix may allow more (the longest matching prefix wins).
    max_body_bytes: int = Field(default=1 << 20, gt=0)
    max_body_bytes_by_prefix: dict[str, int] = Field(
        default_factory=lambda: {
            "/api/v1/grid": (10 << 20) + (64 << 10),  # photo uploads: 10 MiB and the form around them
            "/api/v1/portal": (8 << 20) + (64 << 10),  # imports
        }
    )

    def runs_web(self) -> bool:
        """Serves people (the web role or all in one): request-bound work such as alarm intake."""
        return self.role in ("all", "web")

    def runs_media(self) -> bool:
        """Pulls cameras: ingest, live outputs, recording, the RTSP re-serve."""
        return self.role in ("all", "media")

    def runs_worker(self) -> bool:
        """Runs the background jobs: durable timers, retention, exports, MQTT, other domains' schedules."""
        return self.role in ("all", "worker")

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'xueliang.db').resolve()}"

    def resolved_secret_key(self) -> str:
        """Secret from settings, else one persisted under data_dir so restarts keep sessions valid."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret.key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key
