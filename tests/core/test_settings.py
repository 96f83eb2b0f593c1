"""The TOML file can set every section, the environment wins over it, and a wrong key is named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from xueliang.config import ConfigError, load_settings

FULL = """
[xueliang]
port = 9001
timer_max_idle_s = 3.5

[xueliang.accounts]
session_hours = 8
cookie_secure = true

[xueliang.media]
enabled = false
rtsp_port = 8600

[xueliang.alarms]
mqtt_host = "10.0.0.7"
mqtt_prefix = "county/v1"
pg_bridge = false

[xueliang.recording]
segment_seconds = 30
dir = "/srv/recordings"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "node.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_file_sets_every_section(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, FULL))
    assert s.port == 9001 and s.timer_max_idle_s == 3.5
    assert s.accounts.session_hours == 8 and s.accounts.cookie_secure is True
    assert s.media.enabled is False and s.media.rtsp_port == 8600 and s.media.rtsp_enabled is True
    assert s.alarms.mqtt_host == "10.0.0.7" and s.alarms.mqtt_prefix == "county/v1"
    assert s.alarms.pg_bridge is False and s.alarms.mqtt_enabled is True  # untouched keys keep defaults
    assert s.recording.segment_seconds == 30 and s.recording.dir == Path("/srv/recordings")


def test_environment_wins_in_each_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XUELIANG_PORT", "9002")
    monkeypatch.setenv("XUELIANG_ALARM_MQTT_HOST", "127.0.0.9")
    monkeypatch.setenv("XUELIANG_RECORDING_SEGMENT_SECONDS", "12")
    monkeypatch.setenv("XUELIANG_ACCOUNTS_SESSION_HOURS", "2")
    monkeypatch.setenv("XUELIANG_MEDIA_RTSP_PORT", "0")
    s = load_settings(write(tmp_path, FULL))
    assert s.port == 9002 and s.alarms.mqtt_host == "127.0.0.9" and s.recording.segment_seconds == 12
    assert s.accounts.session_hours == 2 and s.media.rtsp_port == 0
    assert s.alarms.mqtt_prefix == "county/v1"  # what the environment does not say, the file does


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[xueliang]\nprot = 1\n", "'xueliang.prot'"),
        ("[xueliang.alarms]\nmqtt_hots = 'x'\n", "'xueliang.alarms.mqtt_hots'"),
        ("[xueliang.recording]\nsegment = 3\n", "'xueliang.recording.segment'"),
        ("[xueliang.recordings]\nenabled = true\n", "'xueliang.recordings'"),
        ("[server]\nport = 1\n", "'server'"),
        ("[xueliang]\nalarms = 3\n", "'xueliang.alarms'"),
        ("[xueliang]\nrtsp_port = 1\n", "'xueliang.rtsp_port' (it is 'xueliang.media.rtsp_port' now)"),
        ("[xueliang]\nsession_hours = 1\n", "it is 'xueliang.accounts.session_hours' now"),
        ("[xueliang.recording]\nsegment_seconds = -1\n", "'xueliang.recording.segment_seconds'"),
    ],
)
def test_bad_keys_are_named(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(named)):
        load_settings(write(tmp_path, text))


def test_unreadable_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[xueliang\n"))


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("XUELIANG_ALARM_MQTT_HOTS", "unknown variable XUELIANG_ALARM_MQTT_HOTS"),
        ("XUELIANG_RTSP_PORT", "XUELIANG_RTSP_PORT (it is XUELIANG_MEDIA_RTSP_PORT now)"),
        ("XUELIANG_SESSION_HOURS", "(it is XUELIANG_ACCOUNTS_SESSION_HOURS now)"),
        ("XUELIANG_ALARM_TIMER_MAX_IDLE_S", "(it is XUELIANG_TIMER_MAX_IDLE_S now)"),
    ],
)
def test_unknown_environment_variables_are_named(
    monkeypatch: pytest.MonkeyPatch, name: str, says: str
) -> None:
    monkeypatch.setenv(name, "1")
    with pytest.raises(ConfigError, match=re.escape(says)):
        load_settings()


def test_known_and_test_variables_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("XUELIANG_MEDIA_ENABLED", "XUELIANG_TIMER_MAX_IDLE_S", "XUELIANG_RECORDING_DIR"):
        monkeypatch.setenv(name, "1" if not name.endswith("DIR") else "/tmp/rec")
    monkeypatch.setenv("XUELIANG_TEST_ANYTHING", "the test suite's own")
    s = load_settings()
    assert s.media.enabled is True and s.timer_max_idle_s == 1 and s.recording.dir == Path("/tmp/rec")
