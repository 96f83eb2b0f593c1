"""The `xueliang` command line run as an operator runs it: a real process with its own environment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


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
