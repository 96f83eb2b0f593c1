"""The recording section of the settings: `[xueliang.recording]` in the TOML file,
`XUELIANG_RECORDING_<NAME>` in the environment (which wins). Built once with the node's settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from xueliang.core.settings import NodeSettings
from xueliang.media.recording.recorder import RecorderConfig


class RecordingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XUELIANG_RECORDING_", extra="ignore")

    enabled: bool = True  # record the cameras marked `record` while the media engine runs
    dir: Path | None = None  # default: <data_dir>/recordings
    exports_dir: Path | None = None  # default: <data_dir>/exports
    segment_seconds: float = Field(default=60.0, gt=0, le=3600)  # service.LOOKBACK assumes at most 2 h
    flush_interval: float = Field(default=0.5, gt=0, le=1.0)
    sync_interval: float = Field(default=1.0, gt=0, le=1.0)
    retry_seconds: float = Field(default=5.0, gt=0)
    retention_every: float = Field(default=60.0, gt=0)  # seconds between retention runs
    min_free_percent: float = Field(default=5.0, ge=0, lt=100)  # disk guard: keep this much free...
    min_free_bytes: int = Field(default=10 << 30, ge=0)  # ...and this much; whichever is larger
    max_export_hours: float = Field(default=24.0, gt=0)
    playback_chunk_seconds: float = Field(default=4.0, gt=0)  # HLS VOD parts: whole GOPs, about this long

    def root(self, settings: NodeSettings) -> Path:
        return (self.dir or settings.data_dir / "recordings").resolve()

    def exports_root(self, settings: NodeSettings) -> Path:
        return (self.exports_dir or settings.data_dir / "exports").resolve()

    def recorder(self) -> RecorderConfig:
        return RecorderConfig(
            segment_seconds=self.segment_seconds,
            flush_interval=self.flush_interval,
            sync_interval=self.sync_interval,
            retry_seconds=self.retry_seconds,
        )
