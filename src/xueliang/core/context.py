"""What a running app holds: settings, database, clock, secret. Built once by `create_app`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xueliang.config import Settings
from xueliang.core.clock import Clock
from xueliang.core.db import Database


@dataclass
class AppContext:
    settings: Settings
    db: Database
    clock: Clock
    secret: str
    extras: dict[str, Any] = field(default_factory=dict)  # services other domains attach (media engine, ...)
