"""The portal section of the settings: `[xueliang.portal]` in the TOML file, `XUELIANG_PORTAL_<NAME>` in the
environment (which wins)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class PortalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XUELIANG_PORTAL_", extra="ignore")

    enabled: bool = True
