"""The hospital section of the settings: `[xueliang.hospital]` in the TOML file,
`XUELIANG_HOSPITAL_<NAME>` in the environment (which wins)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class HospitalSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XUELIANG_HOSPITAL_", extra="ignore")

    enabled: bool = True
