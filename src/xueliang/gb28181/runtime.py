"""The gb28181 domain at run time: what `create_app` installs for it.

When `enabled`, the node's SIP platform (registrar, keepalive watchdog, catalog) is registered as a
service and started with the app, and the media plane (when the node pulls cameras) opens
`gb28181://device/channel` cameras through it: an INVITE, PS over RTP into the camera's Channel.
Otherwise nothing listens and the API still manages devices."""

from __future__ import annotations

from xueliang.core.context import AppContext
from xueliang.core.lifecycle import StartupHook, Stop
from xueliang.gb28181.cascade.cascade import Cascade
from xueliang.gb28181.config import Gb28181Settings
from xueliang.gb28181.platform import GbPlatform
from xueliang.media.plane import MediaPlane


def install(ctx: AppContext, settings: Gb28181Settings) -> list[StartupHook]:
    """Called by `create_app` once the core's services (timers, hub) exist; returns the start-up hooks."""
    if not settings.enabled or not ctx.settings.runs_media():  # the SIP side feeds the media plane
        return []
    platform = ctx.services.add(GbPlatform(ctx, settings))
    plane = ctx.services.get(MediaPlane)
    if plane is not None:
        plane.schemes.register("gb28181", lambda url, read_timeout: platform.live_source(url, read_timeout))

    cascade = ctx.services.add(Cascade(ctx, platform, settings))  # upper platforms (cascade/)
    cascade.install()

    async def start(_ctx: AppContext) -> Stop:
        await platform.start()
        await cascade.start()

        async def stop() -> None:
            await cascade.stop()
            await platform.stop()

        return stop

    return [start]
