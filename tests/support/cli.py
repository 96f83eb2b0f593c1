"""The `xueliang` command line run as an operator runs it: a real process with its own environment
(`Cli`), or the same commands in this process (`InProcessCli`), which the many short command tests use:
a process start costs about a second of imports each, and the entry point itself is proven by the tests
that keep `Cli` (evidence export, the demo)."""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from pathlib import Path

from typer.testing import CliRunner


class Cli:
    def __init__(self, url: str, data_dir: Path) -> None:
        self.env = {
            **os.environ,
            "XUELIANG_DATABASE_URL": url,
            "XUELIANG_DATA_DIR": str(data_dir),
            "COLUMNS": "200",
        }

    def __call__(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "xueliang", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            timeout=120,
            check=False,
        )


class InProcessCli(Cli):
    """The same commands and environment through Click's runner: exit code, stdout and stderr as a process
    would give them, and an exception the command let escape written to stderr as the interpreter would
    (so a test's "no traceback" check means the same). Only for tests that run no event loop of their own
    (commands call `asyncio.run`)."""

    def __call__(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        from xueliang.cli import app

        env = {k: v for k, v in self.env.items() if k.startswith("XUELIANG_") or k == "COLUMNS"}
        gone = [k for k in os.environ if k.startswith("XUELIANG_") and k not in env]
        result = CliRunner().invoke(app, list(args), input=stdin, env={**env, **dict.fromkeys(gone)})
        stderr = result.stderr
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            exc = result.exception
            stderr += "Traceback (most recent call last):\n" + "".join(
                traceback.format_exception(type(exc), exc, exc.__traceback__)
            )
        return subprocess.CompletedProcess(["xueliang", *args], result.exit_code, result.stdout, stderr)
