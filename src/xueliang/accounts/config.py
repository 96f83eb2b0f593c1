"""The accounts section of the settings: `[xueliang.accounts]` in the TOML file,
`XUELIANG_ACCOUNTS_<NAME>` in the environment (which wins)."""

from __future__ import annotations

import ipaddress

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class AccountSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XUELIANG_ACCOUNTS_", extra="ignore")

    session_hours: int = Field(default=12, gt=0)  # lifetime of a login
    cookie_secure: bool = False  # the session cookie only over HTTPS (set it behind a TLS proxy)
    # Failed logins slow the next try (accounts/throttle.py): after `free` failures the next waits
    # login_delay_first_s, doubling per failure up to the cap; failures older than the window are forgotten.
    login_free_failures_per_account: int = Field(default=3, ge=0)  # since the last successful login
    login_free_failures_per_address: int = Field(default=10, ge=0)
    login_delay_first_s: float = Field(default=1.0, gt=0, le=3600)
    # the longest the right password is ever refused (per account; an address waits at most the other)
    login_delay_max_account_s: float = Field(default=30.0, gt=0, le=3600)
    login_delay_max_address_s: float = Field(default=60.0, gt=0, le=3600)
    login_window_seconds: int = Field(default=900, gt=0)
    # where an account logged in within this many days, its delay does not apply (the address's does)
    login_known_address_days: int = Field(default=30, ge=0, le=3650)
    # Reverse proxies (IPs or CIDR networks) whose X-Forwarded-For names the client; anyone else's is
    # ignored. `serve` hands them to uvicorn as forwarded_allow_ips.
    trusted_proxies: list[str] = Field(default_factory=list)
    # A second factor (TOTP) for admins, operators and auditors: no session without one (accounts/mfa.py).
    mfa_required: bool = False

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for item in value:
            try:
                ipaddress.ip_network(item.strip(), strict=False)
            except ValueError as exc:
                raise ValueError(f"trusted_proxies: {item!r} is not an IP address or network") from exc
        return [item.strip() for item in value]
