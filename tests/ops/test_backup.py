"""Backup of a running node while alarms are raised and handled, restore into a new place, start it:
what was acknowledged before the backup began is there and the audit chain verifies. A damaged backup
and one from a newer schema are refused with a line naming why, and a non-zero exit code."""

from __future__ import annotations

import asyncio
import json
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.support.app import LiveServer, LoggedIn, make_settings
from tests.support.db import BACKEND, seed_database
from xueliang.alarms.models import Alarm, AlarmState
from xueliang.app import create_app
from xueliang.audit import service as audit
from xueliang.cli import app as cli_app
from xueliang.config import Settings
from xueliang.ops import backup as ops

API = "/api/v1/alarms"
RESIDENTS = [f"res-v0{i}" for i in range(1, 6)]  # the Qingxi households: op-qingxi handles their alarms


def paths_of(settings: Settings) -> ops.NodePaths:
    return ops.NodePaths(
        data_dir=settings.data_dir,
        database_url=settings.resolved_database_url(),
        recordings_dir=settings.recording.root(settings),
        exports_dir=settings.recording.exports_root(settings),
    )


def new_node(make_db_url: Callable[[], str], tmp: Path, name: str) -> Settings:
    """Settings of a node with its own data dir; its database is in that dir on SQLite."""
    data = tmp / name
    if BACKEND == "sqlite":
        data.mkdir()
    url = f"sqlite+aiosqlite:///{data / 'xueliang.db'}" if BACKEND == "sqlite" else make_db_url()
    return make_settings(url, data)


class Traffic:
    """Residents press, the operator acknowledges and resolves, round after round, until stopped."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.acknowledged: list[int] = []
        self.stop = asyncio.Event()

    async def run(self) -> None:
        async with httpx.AsyncClient(base_url=self.base, timeout=20) as op_client:
            op = await LoggedIn(op_client).login("op-qingxi")
            residents = [
                await LoggedIn(httpx.AsyncClient(base_url=self.base, timeout=20)).login(u) for u in RESIDENTS
            ]
            try:
                i = 0
                while not self.stop.is_set():
                    res = residents[i % len(residents)]
                    i += 1
                    r = await res.post(API, json={"uuid": str(uuid.uuid4()), "source": "tv"})
                    assert r.status_code in (200, 201), r.text
                    alarm_id = r.json()["alarm"]["id"]
                    ack = await op.post(f"{API}/{alarm_id}/acknowledge", json={"note": "on it"})
                    if ack.status_code == 200:
                        self.acknowledged.append(alarm_id)
                        await op.post(f"{API}/{alarm_id}/resolve", json={"note": "done"})
            finally:
                for c in residents:
                    await c.aclose()


async def test_backup_of_a_running_node_restores_and_starts(
    make_db_url: Callable[[], str], tmp_path: Path
) -> None:
    source = new_node(make_db_url, tmp_path, "source")
    seed_database(source.resolved_database_url())
    server = LiveServer(create_app(source, migrate_on_start=False))
    server.start()
    traffic = Traffic(server.url)
    task = asyncio.create_task(traffic.run())
    try:
        async with asyncio.timeout(30):
            while len(traffic.acknowledged) < 3:
                assert not task.done(), task.exception()
                await asyncio.sleep(0.01)
        before = list(traffic.acknowledged)
        dest = tmp_path / "backup"
        manifest = await asyncio.to_thread(
            ops.backup, paths_of(source), dest, now="2026-12-07T00:00:00+00:00"
        )
        traffic.stop.set()
        await task
    finally:
        traffic.stop.set()
        await asyncio.gather(task, return_exceptions=True)
        server.stop()
    assert "files/secret.key" in manifest.files or source.secret_key  # the test settings carry the secret
    assert manifest.revisions and (dest / ops.MANIFEST).is_file()

    target = new_node(make_db_url, tmp_path, "restored")
    await asyncio.to_thread(ops.restore, dest, paths_of(target))
    restored = create_app(target)  # migrates forward if the backup is older, as `serve` does
    async with restored.router.lifespan_context(restored), restored.state.ctx.db.session() as s:
        states = dict((await s.execute(select(Alarm.id, Alarm.state).where(Alarm.id.in_(before)))).all())
        assert set(states) == set(before)
        assert AlarmState.new not in states.values(), states
        result = await audit.verify(s)
        assert result.ok and result.checked > 0, result

    with pytest.raises(ops.BackupError) as refused:
        ops.restore(dest, paths_of(target))
    assert "not empty" in str(refused.value)


@pytest.fixture
def small_backup(make_db_url: Callable[[], str], tmp_path: Path) -> tuple[Path, Settings]:
    node = new_node(make_db_url, tmp_path, "small")
    seed_database(node.resolved_database_url())
    node.data_dir.mkdir(exist_ok=True)
    (node.data_dir / "keys").mkdir()
    (node.data_dir / "keys" / "node-ed25519.pem").write_text("not really a key\n")
    dest = tmp_path / "small-backup"
    ops.backup(paths_of(node), dest, now="2026-12-07T00:00:00+00:00")
    return dest, new_node(make_db_url, tmp_path, "small-restored")


def restore_cli(src: Path, target: Settings) -> tuple[int, str]:
    env = {"XUELIANG_DATA_DIR": str(target.data_dir), "XUELIANG_DATABASE_URL": target.database_url}
    result = CliRunner().invoke(cli_app, ["restore", str(src)], env=env)
    return result.exit_code, result.output


def test_damaged_backup_is_refused_naming_the_file(small_backup: tuple[Path, Settings]) -> None:
    dest, target = small_backup
    key = dest / "files" / "keys" / "node-ed25519.pem"
    key.write_text("not really a key, altered\n")
    code, output = restore_cli(dest, target)
    assert code != 0
    assert "damaged backup: files/keys/node-ed25519.pem" in " ".join(output.split())
    assert not target.data_dir.exists() or not any(target.data_dir.iterdir())  # nothing written


def test_backup_from_a_newer_schema_is_refused(small_backup: tuple[Path, Settings]) -> None:
    dest, target = small_backup
    manifest = json.loads((dest / ops.MANIFEST).read_text())
    manifest["revisions"].append("9001")
    (dest / ops.MANIFEST).write_text(json.dumps(manifest))
    code, output = restore_cli(dest, target)
    assert code != 0 and "newer schema" in " ".join(output.split()) and "9001" in output
    shutil.rmtree(dest / "files")  # and a missing file is named too, once the schema is known
    manifest["revisions"].remove("9001")
    (dest / ops.MANIFEST).write_text(json.dumps(manifest))
    code, output = restore_cli(dest, target)
    assert code != 0 and "files/keys/node-ed25519.pem is missing" in " ".join(output.split())


def test_recordings_only_when_asked_and_back_in_place(make_db_url: Callable[[], str], tmp_path: Path) -> None:
    if BACKEND != "sqlite":
        pytest.skip("files only: the database part is the same as above, and costs a pg_restore")
    node = new_node(make_db_url, tmp_path, "rec")
    seed_database(node.resolved_database_url())
    paths = paths_of(node)
    segment = paths.recordings_dir / "7" / "2026-12-07" / "000000.mp4"
    segment.parent.mkdir(parents=True)
    segment.write_bytes(b"\0\0\0\x18ftypisom" + bytes(100))
    (node.data_dir / "sim").mkdir(exist_ok=True)
    (node.data_dir / "sim" / "loop.h264").write_bytes(b"cache")  # a cache: never backed up
    without = ops.backup(paths, tmp_path / "b1", now="2026-12-07T00:00:00+00:00")
    assert not any(n.startswith(("recordings/", "files/recordings/", "files/sim/")) for n in without.files)
    with_rec = ops.backup(paths, tmp_path / "b2", recordings=True, now="2026-12-07T00:00:00+00:00")
    assert "recordings/7/2026-12-07/000000.mp4" in with_rec.files
    target = new_node(make_db_url, tmp_path, "rec-restored")
    ops.restore(tmp_path / "b2", paths_of(target))
    restored = paths_of(target).recordings_dir / "7" / "2026-12-07" / "000000.mp4"
    assert restored.read_bytes() == segment.read_bytes()


def test_backup_command_writes_a_manifest_and_refuses_a_full_folder(
    small_backup: tuple[Path, Settings], tmp_path: Path
) -> None:
    _, node = small_backup
    node.data_dir.mkdir(exist_ok=True)
    seed_database(node.resolved_database_url())
    env = {"XUELIANG_DATA_DIR": str(node.data_dir), "XUELIANG_DATABASE_URL": node.database_url}
    dest = tmp_path / "by-cli"
    done = CliRunner().invoke(cli_app, ["backup", str(dest)], env=env)
    assert done.exit_code == 0, done.output
    assert "backup written" in done.output and json.loads((dest / ops.MANIFEST).read_text())["revisions"]
    again = CliRunner().invoke(cli_app, ["backup", str(dest)], env=env)
    assert again.exit_code != 0 and "is not empty" in " ".join(again.output.split())
