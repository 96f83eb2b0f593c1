"""The `xueliang` command line as an operator uses it, on a real database: the commands run in this
process (tests/support/cli.py InProcessCli, the same code and environment without a second of imports
per call); one test starts the real `xueliang` process to prove the entry point."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.support.cli import Cli, InProcessCli
from tests.support.db import seed_database

from xueliang.seed.demo import build

HEADER = (
    "gb_id,name,name_en,region_code,kind,lat,lon,heading,fov_angle,fov_range,ptz,public_view,stream_url\n"
)


@pytest.fixture
def cli(make_db_url: Callable[[], str], tmp_path: Path) -> Cli:
    url = make_db_url()
    seed_database(url)
    return InProcessCli(url, tmp_path)


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout


def test_camera_import_reports_bad_rows_and_imports_nothing(cli: Cli, tmp_path: Path) -> None:
    before = cli("camera", "list").stdout.count("513223")
    csv = tmp_path / "cams.csv"
    csv.write_text(
        HEADER
        + "51322300001328888001,新桥头,New bridge,513223101201,intersection,31.72,103.84,90,80,60,no,yes,"
        "rtsp://127.0.0.1:8554/cam/1\n"
        + "51322300001328888002,坏纬度,Bad lat,513223101201,intersection,131.72,103.84,90,80,60,no,yes,"
        "rtsp://127.0.0.1:8554/cam/2\n"
        + "123,短编号,Short id,513223101201,key_place,31.7,103.8,0,90,50,no,no,rtsp://x/3\n"
        + "51322300001328888004,无此村,Nowhere,999999999999,key_place,31.7,103.8,0,90,50,no,no,rtsp://x/4\n",
        encoding="utf-8",
    )
    result = cli("camera", "import", str(csv))
    no_traceback(result)
    assert result.returncode == 1
    assert "line 3: lat must be between -90 and 90" in result.stderr
    assert "line 4: gb_id must be 20 digits" in result.stderr
    assert "line 5: region '999999999999' not found" in result.stderr
    assert "nothing was imported" in result.stderr
    assert cli("camera", "list").stdout.count("513223") == before
    assert "新桥头" not in cli("camera", "list").stdout


def test_camera_import_good_file(cli: Cli, tmp_path: Path) -> None:
    csv = tmp_path / "good.csv"
    rows = [
        f"5132230000132777{n:04d},测试点{n},Test {n},513223102203,settlement,31.66,103.91,{n * 10},90,50,"
        f"no,yes,rtsp://127.0.0.1:8554/cam/{n}\n"
        for n in range(1, 4)
    ]
    csv.write_text(HEADER + "".join(rows), encoding="utf-8")
    result = cli("camera", "import", str(csv))
    assert result.returncode == 0, result.stderr
    assert "3 cameras imported" in result.stdout
    listed = cli("camera", "list", "--region", "513223102203").stdout
    assert all(f"测试点{n}" in listed for n in range(1, 4))
    again = cli("camera", "import", str(csv))
    assert again.returncode == 1 and "already exists" in again.stderr


def test_camera_import_missing_file_and_columns(cli: Cli, tmp_path: Path) -> None:
    missing = cli("camera", "import", str(tmp_path / "nope.csv"))
    assert missing.returncode == 1 and "no such file" in missing.stderr
    no_traceback(missing)
    bad = tmp_path / "bad.csv"
    bad.write_text("gb_id,name\n1,x\n", encoding="utf-8")
    result = cli("camera", "import", str(bad))
    assert result.returncode == 1 and "missing columns" in result.stderr


def test_user_lifecycle(cli: Cli) -> None:
    add = cli(
        "user",
        "add",
        "op-cli",
        "--role",
        "operator",
        "--region",
        "513223101",
        "--name",
        "命令行值班员",
        "--password-stdin",
        stdin="cli-password-1\n",
    )
    assert add.returncode == 0, add.stderr
    assert "op-cli" in cli("user", "list").stdout
    dup = cli(
        "user",
        "add",
        "op-cli",
        "--role",
        "operator",
        "--region",
        "513223101",
        "--password-stdin",
        stdin="cli-password-1\n",
    )
    assert dup.returncode == 1 and "already exists" in dup.stderr
    bad_region = cli(
        "user",
        "add",
        "x1",
        "--role",
        "resident",
        "--region",
        "000",
        "--password-stdin",
        stdin="cli-password-1\n",
    )
    assert bad_region.returncode == 1 and "no region with code '000'" in bad_region.stderr
    bad_role = cli(
        "user", "add", "x2", "--role", "king", "--region", "513223", "--password-stdin", stdin="x\n"
    )
    assert bad_role.returncode == 2 and "king" in bad_role.stderr
    short = cli("user", "passwd", "op-cli", "--password-stdin", stdin="short\n")
    assert short.returncode == 1 and "at least 8" in short.stderr
    assert cli("user", "passwd", "op-cli", "--password-stdin", stdin="another-pass-2\n").returncode == 0
    assert cli("user", "disable", "op-cli").returncode == 0
    assert "disabled" in cli("user", "list").stdout
    ghost = cli("user", "disable", "ghost")
    assert ghost.returncode == 1 and "no user 'ghost'" in ghost.stderr
    for result in (dup, bad_region, bad_role, short, ghost):
        no_traceback(result)


def test_region_import_all_or_nothing(cli: Cli, tmp_path: Path) -> None:
    county = build()
    village = next(f for f in county.geojson["features"] if f["properties"].get("level") == "village")
    new_village = {**village, "properties": {**village["properties"], "code": "513223102299", "name": "新村"}}
    broken = {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]},
        "properties": {
            "code": "513223102298",
            "name": "坏村",
            "level": "village",
            "parent_code": "513223102",
        },
    }
    bad = tmp_path / "bad.geojson"
    bad.write_text(
        json.dumps({"type": "FeatureCollection", "features": [new_village, broken]}), encoding="utf-8"
    )
    result = cli("region", "import", str(bad))
    assert result.returncode == 1 and "feature 2: invalid polygon" in result.stderr
    no_traceback(result)
    good = tmp_path / "good.geojson"
    good.write_text(json.dumps({"type": "FeatureCollection", "features": [new_village]}), encoding="utf-8")
    ok = cli("region", "import", str(good))
    assert ok.returncode == 0, ok.stderr
    assert "1 created" in ok.stdout
    not_json = tmp_path / "x.geojson"
    not_json.write_text("{", encoding="utf-8")
    assert "not valid JSON" in cli("region", "import", str(not_json)).stderr


def test_audit_verify_cli(cli: Cli) -> None:
    result = cli("audit", "verify")
    assert result.returncode == 0 and "audit chain intact" in result.stdout


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    cli = Cli("postgresql+asyncpg://nobody@127.0.0.1:1/none", tmp_path)
    result = cli("user", "list")
    assert result.returncode == 1 and "database error" in result.stderr
    no_traceback(result)


def test_bad_config_file_is_one_line_naming_the_key(tmp_path: Path) -> None:
    cli = InProcessCli("sqlite+aiosqlite:///" + str(tmp_path / "unused.db"), tmp_path)
    config = tmp_path / "node.toml"
    config.write_text("[xueliang.alarms]\nmqtt_hots = 'typo'\n", encoding="utf-8")
    result = cli("user", "list", "--config", str(config))
    assert result.returncode == 2 and "unknown key 'xueliang.alarms.mqtt_hots'" in result.stderr
    no_traceback(result)
    config.write_text("[xueliang.recording]\nsegment_seconds = 'long'\n", encoding="utf-8")
    result = cli("recordings", "prune", "--config", str(config))
    assert result.returncode == 2 and "'xueliang.recording.segment_seconds'" in result.stderr
    no_traceback(result)


def test_renamed_environment_variable_is_one_line_naming_the_new_one(tmp_path: Path) -> None:
    cli = InProcessCli("sqlite+aiosqlite:///" + str(tmp_path / "unused.db"), tmp_path)
    cli.env["XUELIANG_RTSP_PORT"] = "8600"
    result = cli("user", "list")
    assert (
        result.returncode == 2 and "XUELIANG_RTSP_PORT (it is XUELIANG_MEDIA_RTSP_PORT now)" in result.stderr
    )
    no_traceback(result)
