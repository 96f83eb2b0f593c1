"""The grid section of the settings: `[xueliang.grid]` in the TOML file, `XUELIANG_GRID_<NAME>` in the
environment (which wins)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class GridSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="XUELIANG_GRID_", extra="ignore")

    enabled: bool = True
    # GPS tracks (check-ins, the places of visits) are personal data: deleted after this many days.
    track_retention_days: int = Field(default=30, ge=1)
    photo_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    # An OK check missed at its deadline becomes a visit task due this many minutes later.
    ok_followup_minutes: int = Field(default=120, ge=1)
    # Daily tasks are made for today and this many days after (the issue: today and tomorrow).
    horizon_days: int = Field(default=1, ge=0, le=2)

    # The map's base layer (grid/tiles.py, docs/grid.md "Base map"): "offline" is an MBTiles file the node
    # serves itself (drawn from the county's own data when missing and `basemap_generate`), "tianditu"
    # the state map service with `tianditu_key` (CGCS2000 ≈ WGS 84), "xyz" any XYZ or WMTS (KVP with
    # {z}/{x}/{y}) URL template in the datum `basemap_crs` (AMap, Tencent: gcj02; BD-09 positions on the
    # web-Mercator grid: bd09; Baidu's own plane and tile numbering, grid/bd09mc.py: bd09mc), "baidu"
    # Baidu's tiles (bd09mc; `basemap_url` replaces the default template), "none" no base layer (our own
    # boundaries only).
    basemap: Literal["offline", "tianditu", "xyz", "baidu", "none"] = "offline"
    basemap_url: str = ""
    basemap_subdomains: str = ""
    basemap_crs: Literal["wgs84", "gcj02", "bd09", "bd09mc"] = "wgs84"
    basemap_attribution: str = ""
    basemap_max_zoom: int = Field(default=18, ge=1, le=22)
    tianditu_key: str = ""
    # the offline file; empty: <data_dir>/grid/basemap.mbtiles
    mbtiles_path: Path | None = None
    basemap_generate: bool = True
