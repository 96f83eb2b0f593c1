"""The media section of the settings: `[xueliang.media]` in the TOML file, `XUELIANG_MEDIA_<NAME>` in
the environment (which wins)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class MediaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XUELIANG_MEDIA_", extra="ignore")

    enabled: bool = True  # pull the cameras; off for API-only nodes, admin tools and tests
    rtsp_enabled: bool = True  # restream every camera at rtsp://rtsp_host:rtsp_port/live/<id>
    rtsp_host: str = ""  # bind address; empty: the node's `host`
    rtsp_port: int = Field(default=8555, ge=0, le=65535)  # 0: any free port
    # rtsps:// cameras: a PEM bundle of the CAs (or self-signed certificates) to trust instead of the
    # system's; empty: the system's CAs. Certificates are always verified (docs/rtsp.md).
    rtsps_ca_file: str = ""
    rtsp_url_base: str = ""  # how clients reach it, e.g. rtsp://node.example:8555 (behind NAT, 0.0.0.0)
