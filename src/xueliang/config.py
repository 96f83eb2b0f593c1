"""Settings of one node, composed from the core's own and one section per domain, built once per
process from the TOML file and then the environment, and handed to `create_app`.

File form (every key optional; an unknown key is an error that names it):

    [xueliang]              # NodeSettings (core/settings.py); env XUELIANG_<NAME>
    port = 8000
    [xueliang.accounts]     # AccountSettings (accounts/config.py); env XUELIANG_ACCOUNTS_<NAME>
    session_hours = 12
    [xueliang.media]        # MediaSettings (media/config.py); env XUELIANG_MEDIA_<NAME>
    rtsp_port = 8555
    [xueliang.alarms]       # AlarmSettings (alarms/config.py); env XUELIANG_ALARM_<NAME>
    mqtt_host = "127.0.0.1"
    [xueliang.recording]    # RecordingSettings (recordings/config.py); env XUELIANG_RECORDING_<NAME>
    segment_seconds = 60
    [xueliang.grid]         # GridSettings (grid/config.py); env XUELIANG_GRID_<NAME>
    [xueliang.portal]       # PortalSettings (portal/config.py); env XUELIANG_PORTAL_<NAME>
    [xueliang.hospital]     # HospitalSettings (hospital/config.py); env XUELIANG_HOSPITAL_<NAME>
    [xueliang.gb28181]      # Gb28181Settings (gb28181/config.py); env XUELIANG_GB28181_<NAME>
    [xueliang.federation]   # FederationSettings (federation/config.py); env XUELIANG_FEDERATION_<NAME>
    [xueliang.ops]          # OpsSettings (ops/config.py): metrics token, log format; env XUELIANG_OPS_<NAME>
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings

from xueliang.accounts.config import AccountSettings
from xueliang.alarms.config import AlarmSettings
from xueliang.core.settings import NodeSettings
from xueliang.federation.config import FederationSettings
from xueliang.gb28181.config import Gb28181Settings
from xueliang.grid.config import GridSettings
from xueliang.hospital.config import HospitalSettings
from xueliang.media.config import MediaSettings
from xueliang.ops.config import OpsSettings
from xueliang.portal.config import PortalSettings
from xueliang.recordings.config import RecordingSettings

S = TypeVar("S", bound=BaseSettings)


class Settings(NodeSettings):
    accounts: AccountSettings = Field(default_factory=AccountSettings)
    media: MediaSettings = Field(default_factory=MediaSettings)
    alarms: AlarmSettings = Field(default_factory=AlarmSettings)
    recording: RecordingSettings = Field(default_factory=RecordingSettings)
    grid: GridSettings = Field(default_factory=GridSettings)
    portal: PortalSettings = Field(default_factory=PortalSettings)
    hospital: HospitalSettings = Field(default_factory=HospitalSettings)
    gb28181: Gb28181Settings = Field(default_factory=Gb28181Settings)
    federation: FederationSettings = Field(default_factory=FederationSettings)
    ops: OpsSettings = Field(default_factory=OpsSettings)

    def sections(self) -> list[BaseSettings]:
        """Each domain's section, registered as a service so the domain reads only its own."""
        return [
            self.accounts,
            self.media,
            self.alarms,
            self.recording,
            self.grid,
            self.portal,
            self.hospital,
            self.gb28181,
            self.federation,
            self.ops,
        ]


SECTIONS: dict[str, type[BaseSettings]] = {
    "accounts": AccountSettings,
    "media": MediaSettings,
    "alarms": AlarmSettings,
    "recording": RecordingSettings,
    "grid": GridSettings,
    "portal": PortalSettings,
    "hospital": HospitalSettings,
    "gb28181": Gb28181Settings,
    "federation": FederationSettings,
    "ops": OpsSettings,
}


class ConfigError(ValueError):
    """The configuration cannot be used; the message names the file (or the environment) and the key."""


# Keys of the [xueliang] table that moved into a domain's section: the error says where they went.
MOVED = {
    **{key: f"accounts.{key}" for key in AccountSettings.model_fields},
    **{key: f"media.{key}" for key in MediaSettings.model_fields if key.startswith("rtsp_")},
    "media_enabled": "media.enabled",
}


# Environment variables that were renamed, and what they are called now.
MOVED_ENV = {
    "XUELIANG_ALARM_TIMER_MAX_IDLE_S": "XUELIANG_TIMER_MAX_IDLE_S",
    **{f"XUELIANG_{key.upper()}": f"XUELIANG_{new.replace('.', '_').upper()}" for key, new in MOVED.items()},
}
TEST_ENV_PREFIX = "XUELIANG_TEST_"  # the test suite's own switches, never the node's


def _env_names(model: type[BaseSettings]) -> set[str]:
    prefix = str(model.model_config.get("env_prefix", ""))
    return {f"{prefix}{name}".upper() for name in model.model_fields}


def check_environment(environ: Mapping[str, str]) -> None:
    """A `XUELIANG_*` variable that names no setting is refused, as an unknown key in the file is: a
    typo or a renamed variable would otherwise leave the default in force without a word."""
    known = _env_names(NodeSettings).union(*(_env_names(model) for model in SECTIONS.values()))
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith("XUELIANG_") or upper.startswith(TEST_ENV_PREFIX) or upper in known:
            continue
        moved = MOVED_ENV.get(upper)
        hint = f" (it is {moved} now)" if moved else ""
        raise ConfigError(f"environment: unknown variable {name}{hint}")


def _section(model: type[S], from_file: dict[str, Any], where: str, source: str) -> S:
    """One section: the file's values, then the environment's (which win)."""
    unknown = sorted(set(from_file) - set(model.model_fields))
    if unknown:
        moved = MOVED.get(unknown[0]) if model is NodeSettings else None
        hint = f" (it is 'xueliang.{moved}' now)" if moved else ""
        raise ConfigError(f"{source}: unknown key '{where}.{unknown[0]}'{hint}")
    try:
        from_env = model()
        values = {**from_file, **{name: getattr(from_env, name) for name in from_env.model_fields_set}}
        return model(**values)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{source}: '{where}.{key}': {first['msg']}") from exc


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Settings from an optional TOML file, then the environment, then explicit overrides."""
    check_environment(os.environ)
    table: dict[str, Any] = {}
    source = "environment"
    if config_file is not None:
        source = str(config_file)
        try:
            with config_file.open("rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise ConfigError(f"{source}: cannot read: {exc.strerror}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{source}: not valid TOML: {exc}") from exc
        others = sorted(set(data) - {"xueliang"})
        if others:
            raise ConfigError(f"{source}: unknown table '{others[0]}' (settings go under [xueliang])")
        table = data.get("xueliang", {})
    sections: dict[str, Any] = {}
    for name, model in SECTIONS.items():
        from_file = table.pop(name, {})
        if not isinstance(from_file, dict):
            raise ConfigError(f"{source}: 'xueliang.{name}' must be a table ([xueliang.{name}])")
        sections[name] = _section(model, from_file, f"xueliang.{name}", source)
    node = _section(NodeSettings, table, "xueliang", source)
    settings = Settings(**dict(node), **sections)
    if overrides:
        settings = settings.model_copy(update=overrides)
    return settings
