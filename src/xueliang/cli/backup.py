"""`xueliang backup DEST` and `xueliang restore SRC`: the node's state, whole, with a manifest.

The work is in `xueliang.ops.backup`; here are the settings, the progress bar and the one-line end."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn

from xueliang.cli.support import ConfigOpt, err, fail, out, settings_from
from xueliang.config import Settings
from xueliang.core.clock import SystemClock
from xueliang.ops import backup as ops


def node_paths(settings: Settings, config: Path | None) -> ops.NodePaths:
    return ops.NodePaths(
        data_dir=settings.data_dir,
        database_url=settings.resolved_database_url(),
        recordings_dir=settings.recording.root(settings),
        exports_dir=settings.recording.exports_root(settings),
        config_file=config,
    )


class _Bar:
    """One rich progress bar per step ("database", "files", "checksums"), on stderr's console."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def __call__(self, what: str, done: int, total: int) -> None:
        if what not in self.tasks:
            self.tasks[what] = self.progress.add_task(what, total=max(total, 1))
        self.progress.update(self.tasks[what], completed=done, total=max(total, 1))


def _progress() -> Progress:
    count = TextColumn("{task.completed}/{task.total}")
    return Progress(TextColumn("{task.description:<10}"), BarColumn(), count, console=err)


def backup(
    dest: Annotated[Path, typer.Argument(help="new or empty folder for the backup")],
    config: ConfigOpt = None,
    recordings: Annotated[bool, typer.Option(help="include the recorded video (large)")] = False,
) -> None:
    """Back up the database, the node's keys and secret, and the settings (recordings with --recordings)."""
    settings = settings_from(config)
    try:
        with _progress() as progress:
            manifest = ops.backup(
                node_paths(settings, config), dest, recordings=recordings, progress=_Bar(progress),
                now=SystemClock().now().isoformat(),
            )  # fmt: skip
    except (ops.BackupError, OSError) as exc:
        raise fail(str(exc)) from None
    size = sum(int(f["bytes"]) for f in manifest.files.values())
    out.print(f"backup written to {dest}: {len(manifest.files)} files, {size} bytes, "
              f"schema {', '.join(manifest.revisions)}")  # fmt: skip


def restore(
    src: Annotated[Path, typer.Argument(help="a folder written by `xueliang backup`")],
    config: ConfigOpt = None,
) -> None:
    """Check a backup and restore it into an empty data dir (and an empty PostgreSQL database)."""
    settings = settings_from(config)
    try:
        with _progress() as progress:
            manifest = ops.restore(src, node_paths(settings, config), progress=_Bar(progress))
    except (ops.BackupError, OSError) as exc:
        raise fail(str(exc)) from None
    out.print(f"restored {len(manifest.files)} files from {src} into {settings.data_dir} "
              f"(backup of {manifest.created_at}); start the node to apply newer migrations")  # fmt: skip
    if ops.SETTINGS_FILE in manifest.files:
        out.print(f"the backed-up settings are in {settings.data_dir / 'restored-settings.toml'}")


def downgrade(
    revision: Annotated[str, typer.Argument(help="the revision asked for")] = "-1",
) -> None:
    """Refused: the schema only moves forward. Going back means restoring the backup taken before."""
    raise fail(
        f"downgrade to {revision} is refused: migrations only go forward (a step back would drop the data "
        "newer tables hold). To run an older version, restore the backup taken before the upgrade "
        "(`xueliang restore SRC` into an empty data dir).",
        code=2,
    )
