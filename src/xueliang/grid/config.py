"""The grid section of the settings: `[xueliang.grid]` in the TOML file, `XUELIANG_GRID_<NAME>` in the
environment (which wins)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GridSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XUELIANG_GRID_", extra="ignore")

    enabled: bool = True
    # GPS tracks (check-ins, the places of visits) are personal data: deleted after this many days.
    track_retention_days: int = Field(default=30, ge=1)
    photo_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    # An OK check missed at its deadline becomes a visit task due this many minutes later.
    ok_followup_minutes: int = Field(default=120, ge=1)
    # Daily tasks are made for today and this many days after (the issue: today and tomorrow).
    horizon_days: int = Field(default=1, ge=0, le=2)
