"""One consistent backup of a node, and its restore.

A backup is a folder: the database (`database.sqlite`, taken with SQLite's online backup API so a
running node keeps writing, or `database.pgdump`, `pg_dump` in custom format, one snapshot), the data
dir's own files (the session secret, the export signing key, grid photos; recordings only when asked),
the settings file if one was given, and `manifest.json` naming every file with its SHA-256 and the
schema revisions. Restore checks all of that before it writes anything, and only into an empty data
dir (and, on PostgreSQL, an empty database), so it can never blend two nodes' states."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine

from xueliang.core import migrate

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite"
PG_FILE = "database.pgdump"
SETTINGS_FILE = "settings.toml"
FILES = "files"  # the data dir's own files, under their relative paths
DB_NAMES = {"xueliang.db", "xueliang.db-wal", "xueliang.db-shm", "xueliang.db-journal"}
SKIPPED_DIRS = {"sim"}  # the simulator's encoded loops: a cache, rebuilt on demand
PG_DUMP = os.environ.get("XUELIANG_PG_DUMP", "pg_dump")
PG_RESTORE = os.environ.get("XUELIANG_PG_RESTORE", "pg_restore")

Progress = Callable[[str, int, int], None]  # (what, done, total)


class BackupError(Exception):
    """The backup or restore cannot go on; the message says what and, for a file, which."""


@dataclass(frozen=True)
class NodePaths:
    """Where a node keeps its state: what backup and restore need of the settings."""

    data_dir: Path
    database_url: str
    recordings_dir: Path
    exports_dir: Path
    config_file: Path | None = None


@dataclass
class Manifest:
    created_at: str
    backend: str
    revisions: list[str]
    files: dict[str, dict[str, Any]] = field(default_factory=dict)
    recordings: bool = False
    format: int = FORMAT

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2, sort_keys=True, ensure_ascii=False)


def _no_progress(_what: str, _done: int, _total: int) -> None:
    return None


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def sqlite_file(url: str) -> Path:
    database = make_url(url).database
    if not database:
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(database)


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """The URL as libpq reads it (no driver, no password: that travels in PGPASSWORD, not argv)."""
    u = make_url(url).set(drivername="postgresql")
    env = dict(os.environ)
    if u.password:
        env["PGPASSWORD"] = str(u.password)
    return u.set(password=None).render_as_string(hide_password=False), env


def _run(cmd: list[str], env: dict[str, str]) -> None:
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    except FileNotFoundError:
        raise BackupError(f"{cmd[0]} is not installed (PostgreSQL client tools)") from None
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise BackupError(
            f"{Path(cmd[0]).name} failed: {lines[-1] if lines else f'exit code {done.returncode}'}"
        )


def _query(url: str, sql: str) -> list[Any]:
    """One query on PostgreSQL; a database that cannot be reached is one line, not a traceback."""

    async def run() -> list[Any]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return list((await conn.execute(text(sql))).scalars())
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except SQLAlchemyError as exc:
        raise BackupError(f"database error: {getattr(exc, 'orig', None) or exc}") from None
    except OSError as exc:
        raise BackupError(f"database error: cannot connect: {exc}") from None


def _sqlite_revisions(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return sorted(r[0] for r in conn.execute("SELECT version_num FROM alembic_version"))
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path.name}: no schema revision ({exc})") from None
    finally:
        conn.close()


def known_revisions(url: str) -> set[str]:
    script = ScriptDirectory.from_config(migrate.alembic_config(url))
    return {rev.revision for rev in script.walk_revisions()}


def _data_files(paths: NodePaths, recordings: bool) -> Iterator[tuple[Path, str]]:
    """The data dir's files (and the recordings when asked), as (source, name in the backup)."""
    data = paths.data_dir.resolve()
    db = sqlite_file(paths.database_url).resolve() if is_sqlite(paths.database_url) else data / "xueliang.db"
    db_files = {db, *(db.with_name(db.name + end) for end in ("-wal", "-shm", "-journal"))}
    skip = {paths.recordings_dir.resolve(), paths.exports_dir.resolve()}
    skip |= {data / name for name in SKIPPED_DIRS}
    if data.is_dir():
        for root, dirs, names in os.walk(data):
            here = Path(root)
            dirs[:] = sorted(d for d in dirs if (here / d) not in skip)
            for name in sorted(names):
                path = here / name
                if (here == data and name in DB_NAMES) or path in db_files or not path.is_file():
                    continue
                yield path, f"{FILES}/{path.relative_to(data).as_posix()}"
    rec = paths.recordings_dir.resolve()
    if recordings and rec.is_dir():
        for path in sorted(p for p in rec.rglob("*") if p.is_file()):
            yield path, f"recordings/{path.relative_to(rec).as_posix()}"


def backup(paths: NodePaths, dest: Path, *, recordings: bool = False, progress: Progress = _no_progress,
           now: str) -> Manifest:  # fmt: skip
    """Write one backup into `dest` (new or empty). `now` is the clock's ISO time, for the manifest.
    A backup that fails leaves nothing behind (never half a backup that looks whole)."""
    if dest.exists() and any(dest.iterdir()):
        raise BackupError(f"{dest} is not empty")
    created = not dest.exists()
    dest.mkdir(mode=0o700, parents=True, exist_ok=True)  # it holds the node's secret and keys
    try:
        return _write(paths, dest, recordings, progress, now)
    except BaseException:
        if created:
            shutil.rmtree(dest, ignore_errors=True)
        else:
            for child in dest.iterdir():
                if child.is_dir():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        raise


def _write(paths: NodePaths, dest: Path, recordings: bool, progress: Progress, now: str) -> Manifest:
    url = paths.database_url
    if is_sqlite(url):
        progress("database", 0, 1)
        if not sqlite_file(url).is_file():
            raise BackupError(f"no database at {sqlite_file(url)}: check the data dir and settings")
        src = sqlite3.connect(sqlite_file(url))
        dst = sqlite3.connect(dest / SQLITE_FILE)
        try:
            # One step, one read transaction: the node's database is in WAL mode, so its writers go on
            # meanwhile, and the copy is that snapshot. (Copying in steps would restart at every write
            # of another connection, and might never end on a busy node.)
            src.backup(dst, pages=-1)
        finally:
            dst.close()
            src.close()
        revisions = _sqlite_revisions(dest / SQLITE_FILE)
        backend, db_name = "sqlite", SQLITE_FILE
    else:
        progress("database", 0, 1)
        revisions = sorted(_query(url, "SELECT version_num FROM alembic_version"))
        dsn, env = _libpq(url)
        _run([PG_DUMP, "--format=custom", "--no-owner", "--file", str(dest / PG_FILE), dsn], env)
        backend, db_name = "postgresql", PG_FILE
    progress("database", 1, 1)
    manifest = Manifest(created_at=now, backend=backend, revisions=revisions, recordings=recordings)
    copies = list(_data_files(paths, recordings))
    if paths.config_file is not None:
        copies.append((paths.config_file, SETTINGS_FILE))
    for i, (source, name) in enumerate(copies):
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        progress("files", i + 1, len(copies))
    names = [db_name] + [name for _, name in copies]
    for i, name in enumerate(names):
        path = dest / name
        manifest.files[name] = {"sha256": sha256_of(path), "bytes": path.stat().st_size}
        progress("checksums", i + 1, len(names))
    (dest / MANIFEST).write_text(manifest.to_json(), encoding="utf-8")
    return manifest


def read_manifest(src: Path) -> Manifest:
    try:
        raw = json.loads((src / MANIFEST).read_text(encoding="utf-8"))
        manifest = Manifest(**raw)
    except FileNotFoundError:
        raise BackupError(f"{src / MANIFEST} is missing: not a Xueliang backup") from None
    except (ValueError, TypeError) as exc:
        raise BackupError(f"{src / MANIFEST} is damaged: {exc}") from None
    if manifest.format != FORMAT:
        raise BackupError(f"backup format {manifest.format} is not known to this version ({FORMAT})")
    return manifest


def check(src: Path, url: str, progress: Progress = _no_progress) -> Manifest:
    """Every file whole, and a schema this code knows; raises naming the first thing that is wrong."""
    manifest = read_manifest(src)
    unknown = sorted(set(manifest.revisions) - known_revisions(url))
    if unknown:
        raise BackupError(
            f"backup is from a newer schema (revision {', '.join(unknown)} is unknown to this version): "
            "restore it with the version that made it, or a later one"
        )
    for i, (name, entry) in enumerate(sorted(manifest.files.items())):
        path = src / name
        if not path.is_file():
            raise BackupError(f"damaged backup: {name} is missing")
        if path.stat().st_size != entry["bytes"] or sha256_of(path) != entry["sha256"]:
            raise BackupError(f"damaged backup: {name} does not match its SHA-256 in the manifest")
        progress("checking", i + 1, len(manifest.files))
    db_name = SQLITE_FILE if manifest.backend == "sqlite" else PG_FILE
    if db_name not in manifest.files:
        raise BackupError(f"damaged backup: the manifest names no {db_name}")
    if (manifest.backend == "sqlite") != is_sqlite(url):
        raise BackupError(f"this is a {manifest.backend} backup; the node's database is not")
    return manifest


def restore(src: Path, paths: NodePaths, progress: Progress = _no_progress) -> Manifest:
    """Check the backup, then write it into an empty data dir (and an empty PostgreSQL database)."""
    url = paths.database_url
    manifest = check(src, url, progress)
    data = paths.data_dir
    if data.exists() and any(data.iterdir()):
        raise BackupError(f"data dir {data} is not empty: restore goes into an empty one only")
    if manifest.backend == "sqlite":
        target = sqlite_file(url)
        if target.exists():
            raise BackupError(f"database file {target} exists: restore goes into an empty data dir only")
    else:
        tables = _query(url, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
        if tables[0]:
            raise BackupError("the PostgreSQL database is not empty: restore goes into an empty one only")
    data.mkdir(parents=True, exist_ok=True)
    names = sorted(manifest.files)
    for i, name in enumerate(names):
        source = src / name
        base = data
        if name == SQLITE_FILE:
            target = base = sqlite_file(url)
        elif name == PG_FILE:
            dsn, env = _libpq(url)
            _run([PG_RESTORE, "--no-owner", "--exit-on-error", "--dbname", dsn, str(source)], env)
            progress("restoring", i + 1, len(names))
            continue
        elif name == SETTINGS_FILE:
            target = data / "restored-settings.toml"  # read it, then pass it with --config
        elif name.startswith(f"{FILES}/"):
            target = data / name.removeprefix(f"{FILES}/")
        elif name.startswith("recordings/"):
            base = paths.recordings_dir
            target = base / name.removeprefix("recordings/")
        else:
            raise BackupError(f"damaged backup: the manifest names an unknown file {name}")
        if not target.resolve().is_relative_to(base.resolve()):
            raise BackupError(f"damaged backup: {name} would be written outside {base}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        progress("restoring", i + 1, len(names))
    return manifest
