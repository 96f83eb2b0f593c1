"""The gb28181 section of the settings: `[xueliang.gb28181]` in the TOML file,
`XUELIANG_GB28181_<NAME>` in the environment (which wins)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class Gb28181Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XUELIANG_GB28181_", extra="ignore")

    enabled: bool = False
