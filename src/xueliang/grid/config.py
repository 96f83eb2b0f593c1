"""The grid section of the settings: `[xueliang.grid]` in the TOML file, `XUELIANG_GRID_<NAME>` in the
environment (which wins)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class GridSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XUELIANG_GRID_", extra="ignore")

    enabled: bool = True
