"""The accounts section of the settings: `[xueliang.accounts]` in the TOML file,
`XUELIANG_ACCOUNTS_<NAME>` in the environment (which wins)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class AccountSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XUELIANG_ACCOUNTS_", extra="ignore")

    session_hours: int = Field(default=12, gt=0)  # lifetime of a login
    cookie_secure: bool = False  # the session cookie only over HTTPS (set it behind a TLS proxy)
    login_max_failures_per_account: int = Field(default=5, gt=0)  # within login_window_seconds
    login_max_failures_per_address: int = Field(default=20, gt=0)
    login_window_seconds: int = Field(default=900, gt=0)
