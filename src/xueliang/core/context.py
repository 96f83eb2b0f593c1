"""What a running app holds: settings, database, clock, secret, its domain events and its running
services. Built once by `create_app`."""

from __future__ import annotations

from dataclasses import dataclass, field

from xueliang.core.clock import Clock
from xueliang.core.db import Database
from xueliang.core.events import EventBus
from xueliang.core.services import Services
from xueliang.core.settings import NodeSettings


@dataclass
class AppContext:
    settings: NodeSettings
    db: Database
    clock: Clock
    secret: str
    events: EventBus = field(default_factory=EventBus)
    services: Services = field(default_factory=Services)  # by class: ctx.services.require(MediaPlane)
