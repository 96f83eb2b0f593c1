"""The federation domain at run time: what `create_app` installs for it.

When `enabled` (and this process runs the background jobs), the node's link (link.py) is registered
as a service and started with the app: its nats-server, the outbox relay, the inbox consumer and the
audit anchor. Otherwise nothing starts, and the join route answers that federation is off."""

from __future__ import annotations

from xueliang.core.context import AppContext
from xueliang.core.lifecycle import StartupHook, Stop
from xueliang.federation.config import FederationSettings
from xueliang.federation.link import Link


def install(ctx: AppContext, settings: FederationSettings) -> list[StartupHook]:
    """Called by `create_app` once the core's services exist; returns the start-up hooks."""
    if not settings.enabled or not ctx.settings.runs_worker():
        return []
    link = ctx.services.add(Link(ctx, settings))

    async def start(_ctx: AppContext) -> Stop:
        await link.start()
        return link.stop

    return [start]
