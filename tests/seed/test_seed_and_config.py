"""The demo county's figures add up, GB/T 28181 codes are well formed, settings layer as documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from xueliang.config import load_settings
from xueliang.core.ids import TYPE_CAMERA, TYPE_PLATFORM, gb_id, gb_type
from xueliang.seed.demo import VILLAGES, build


def test_demo_county_figures() -> None:
    county = build()
    feats = [f["properties"] for f in county.geojson["features"]]
    villages = [p for p in feats if p.get("level") == "village"]
    townships = [p for p in feats if p.get("level") == "township"]
    (county_props,) = [p for p in feats if p.get("level") == "county"]
    assert county_props["code"] == "513223"
    assert len(townships) == 2 and len(villages) == 10
    assert county_props["households"] == sum(v["households"] for v in villages) == 5443
    assert county_props["population"] == sum(v["population"] for v in villages) == 18491
    for t in townships:
        members = [v for v in villages if v["parent_code"] == t["code"]]
        assert t["households"] == sum(v["households"] for v in members)
    for code, *_ in VILLAGES:
        settled = sum(
            p.get("households", 0)
            for p in feats
            if p.get("place") == "settlement" and p.get("region_code") == code
        )
        assert settled == next(v["households"] for v in villages if v["code"] == code)
        assert sum(1 for p in feats if p.get("place") == "exit" and p.get("region_code") == code) == 4
    assert len(county.cameras) == 59 and len({c.gb_id for c in county.cameras}) == 59
    assert {c.kind.value for c in county.cameras} == {"key_place", "intersection", "settlement"}
    assert all(gb_type(c.gb_id) == TYPE_CAMERA for c in county.cameras)
    assert len(county.nodes) == 5 and all(gb_type(n[0]) == TYPE_PLATFORM for n in county.nodes)
    roles = {u.role.value for u in county.users}
    assert roles == {"admin", "operator", "duty_officer", "grid_worker", "volunteer", "resident", "auditor"}
    assert sum(1 for u in county.users if u.role.value == "grid_worker") == 10


def test_gb_id_shape() -> None:
    assert gb_id("51322300", TYPE_CAMERA, 7) == "51322300001320000007"
    with pytest.raises(ValueError, match=r"not a valid GB/T 28181 ID"):
        gb_type("1234")


def test_settings_env_overrides_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "x.toml"
    toml.write_text('[xueliang]\nport = 9001\ndefault_locale = "en"\n', encoding="utf-8")
    monkeypatch.setenv("XUELIANG_PORT", "9002")
    s = load_settings(toml)
    assert s.port == 9002 and s.default_locale == "en"


def test_secret_key_persists(tmp_path: Path) -> None:
    s = load_settings(data_dir=tmp_path)
    assert s.resolved_secret_key() == s.resolved_secret_key()
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0
