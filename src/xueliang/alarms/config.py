"""The alarms section of the settings: `[xueliang.alarms]` in the TOML file, `XUELIANG_ALARM_<NAME>` in
the environment (which wins)."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:
    from xueliang.alarms.mqtt import MqttConfig


class AlarmSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XUELIANG_ALARM_", extra="ignore")

    mqtt_enabled: bool = True
    mqtt_host: str = "127.0.0.1"
    mqtt_port: int = 1883
    mqtt_prefix: str = "xueliang/v1"
    mqtt_client_id: str = ""  # empty: derived per node (default_client_id)
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    mqtt_session_expiry_s: int = 86_400
    pg_bridge: bool = True  # on PostgreSQL: cross-process pushes by LISTEN/NOTIFY

    def mqtt(self, data_dir: Path) -> MqttConfig:
        """`data_dir` is the node's (core settings): the default client id is derived from it."""
        from xueliang.alarms.mqtt import MqttConfig  # the MQTT client loads only where it runs

        return MqttConfig(
            host=self.mqtt_host,
            port=self.mqtt_port,
            prefix=self.mqtt_prefix.rstrip("/"),
            client_id=self.mqtt_client_id or default_client_id(data_dir),
            username=self.mqtt_username,
            password=self.mqtt_password,
            session_expiry_s=self.mqtt_session_expiry_s,
        )


def default_client_id(data_dir: Path) -> str:
    """One MQTT client id per node, stable across restarts (so the persistent session at the broker is
    resumed) and different between nodes (a broker drops the older of two connections with the same
    id): `xueliang-` and 14 hex digits of a hash of the host name and the node's data directory, 23
    characters, the longest an MQTT 3.1.1 broker must accept."""
    node = f"{socket.gethostname()}\0{Path(data_dir).resolve()}"
    return "xueliang-" + hashlib.sha256(node.encode()).hexdigest()[:14]
