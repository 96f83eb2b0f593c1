"""The gb28181 domain at run time: what `create_app` installs for it.

When `enabled`, the node's SIP platform (registrar, keepalive watchdog, catalog) is registered as a
service and started with the app; otherwise nothing listens and the API still manages devices."""

from __future__ import annotations

from xueliang.core.context import AppContext
from xueliang.core.lifecycle import StartupHook, Stop
from xueliang.gb28181.config import Gb28181Settings
from xueliang.gb28181.platform import GbPlatform


def install(ctx: AppContext, settings: Gb28181Settings) -> list[StartupHook]:
    """Called by `create_app` once the core's services (timers, hub) exist; returns the start-up hooks."""
    if not settings.enabled:
        return []
    platform = ctx.services.add(GbPlatform(ctx, settings))

    async def start(_ctx: AppContext) -> Stop:
        await platform.start()
        return platform.stop

    return [start]
