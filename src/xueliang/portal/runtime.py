"""The portal domain at run time: what `create_app` installs for it (services, timer handlers, event
listeners, start-up hooks)."""

from __future__ import annotations

from xueliang.core.context import AppContext
from xueliang.core.lifecycle import StartupHook
from xueliang.portal.config import PortalSettings


def install(ctx: AppContext, settings: PortalSettings) -> list[StartupHook]:
    """Called by `create_app` once the core's services (timers, hub) exist; returns the start-up hooks."""
    del ctx, settings
    return []
