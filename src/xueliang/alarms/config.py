"""The alarms section of the settings: `[xueliang.alarms]` in the TOML file, `XUELIANG_ALARM_<NAME>` in
the environment (which wins)."""

from __future__ import annotations

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
    mqtt_client_id: str = "xueliang-alarms"
    mqtt_username: str | None = None
    mqtt_password: str | None = None
    mqtt_session_expiry_s: int = 86_400
    pg_bridge: bool = True  # on PostgreSQL: cross-process pushes by LISTEN/NOTIFY

    def mqtt(self) -> MqttConfig:
        from xueliang.alarms.mqtt import MqttConfig  # the MQTT client loads only where it runs

        return MqttConfig(
            host=self.mqtt_host,
            port=self.mqtt_port,
            prefix=self.mqtt_prefix.rstrip("/"),
            client_id=self.mqtt_client_id,
            username=self.mqtt_username,
            password=self.mqtt_password,
            session_expiry_s=self.mqtt_session_expiry_s,
        )
