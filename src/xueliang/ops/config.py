"""The operations section of the settings: `[xueliang.ops]` in the TOML file, `XUELIANG_OPS_<NAME>` in
the environment (which wins)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OpsSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XUELIANG_OPS_", extra="ignore")

    # /metrics: a bearer token opens it from anywhere; without one (or a wrong one) only a client on
    # this machine's loopback gets it, unless metrics_loopback is off too. Anyone else gets a 404.
    metrics_token: str = ""
    metrics_loopback: bool = True
    # Logs: "text" for people (the default), "json" for a collector: one JSON object per line.
    log_format: Literal["text", "json"] = "text"
    loop_lag_interval_s: float = Field(default=1.0, gt=0)  # how often the event loop's lag is sampled
