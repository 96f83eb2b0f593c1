"""The gb28181 section of the settings: `[xueliang.gb28181]` in the TOML file,
`XUELIANG_GB28181_<NAME>` in the environment (which wins).

`enabled` is off by default so that existing nodes and tests do not open port 5060."""

from __future__ import annotations

from pydantic import field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from xueliang.core.ids import GB_ID, TYPE_PLATFORM


class Gb28181Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XUELIANG_GB28181_", extra="ignore")

    enabled: bool = False
    # The node's SIP ID (20 digits, type 200) and domain (its first 10 digits: the realm of Digest).
    sip_id: str = "51322300002000000001"
    domain: str = ""
    host: str = "0.0.0.0"  # noqa: S104 - a SIP server listens for cameras on the network
    port: int = 5060
    advertise_host: str = "127.0.0.1"  # what our Via/Contact/SDP name: the address devices reach us at
    media_host: str = "0.0.0.0"  # noqa: S104 - where our RTP ports for live streams listen
    # Live media: "UDP", or "TCP" (RFC 4571, we listen: a=setup:passive; for devices behind NAT).
    stream_transport: str = "UDP"
    transports: tuple[str, ...] = ("UDP", "TCP")
    # Devices without a password of their own register with this one; empty: unknown devices are refused.
    device_password: str = ""
    register_min_expires: int = 60
    register_max_expires: int = 86400
    keepalive_interval: float = 60.0  # seconds between a device's keepalives
    keepalive_misses: int = 3  # offline after this many intervals without one
    watchdog_period: float = 5.0  # how often the offline check runs
    catalog_timeout: float = 30.0  # a paged catalog response must be complete within this
    query_timeout: float = 8.0  # a query MESSAGE's transaction
    nonce_seconds: int = 300

    @field_validator("sip_id")
    @classmethod
    def _sip_id(cls, v: str) -> str:
        if not GB_ID.match(v) or int(v[10:13]) != TYPE_PLATFORM:
            raise ValueError("sip_id must be a 20-digit GB/T 28181 ID of type 200")
        return v

    @field_validator("transports")
    @classmethod
    def _transports(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        out = tuple(t.upper() for t in v)
        if not out or set(out) - {"UDP", "TCP"}:
            raise ValueError("transports are UDP and/or TCP")
        return out

    @field_validator("stream_transport")
    @classmethod
    def _stream_transport(cls, v: str) -> str:
        if v.upper() not in ("UDP", "TCP"):
            raise ValueError("stream_transport is UDP or TCP")
        return v.upper()

    @model_validator(mode="after")
    def _domain(self) -> Gb28181Settings:
        if not self.domain:
            self.domain = self.sip_id[:10]
        if len(self.domain) != 10 or not self.domain.isdigit():
            raise ValueError("domain must be 10 digits (the first 10 of sip_id)")
        if not 0 <= self.port < 65536:
            raise ValueError("port must be 0..65535")
        return self

    @property
    def offline_after(self) -> float:
        return self.keepalive_interval * self.keepalive_misses
