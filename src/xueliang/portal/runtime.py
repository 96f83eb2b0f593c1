"""The portal domain at run time: what `create_app` installs for it (services, timer handlers, event
listeners, start-up hooks)."""

from __future__ import annotations

from xueliang.accounts.events import UserAccessChanged
from xueliang.core.context import AppContext
from xueliang.core.lifecycle import StartupHook
from xueliang.notify.hub import Hub
from xueliang.portal.config import PortalSettings
from xueliang.portal.push import BannerVersions, PortalStreams


def install(ctx: AppContext, settings: PortalSettings) -> list[StartupHook]:
    """Called by `create_app` once the core's services (timers, hub) exist; returns the start-up hooks.
    The push streams and the banner's change counters (portal/push.py); a logout or a changed user in
    this process wakes that user's streams at once."""
    del settings
    ctx.services.add(BannerVersions(ctx.services.require(Hub)))
    ctx.events.subscribe(UserAccessChanged, ctx.services.add(PortalStreams()).user_changed)
    return []
