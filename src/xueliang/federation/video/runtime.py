"""Video through the parent at run time: what `create_app` installs on a federated node that pulls
cameras.

Both sides are installed on every such node, since a township is a child of the county and the parent
of its villages: `VideoLinks` (the routes children dial, the `node://` scheme, on demand) and
`VideoUplink` (the dial-out link to this node's parent, when it has one with a URL), and
`ChildRecordings` (playback of a child's recordings through this node's routes)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from xueliang.cameras.remote import RemoteCameras
from xueliang.core.context import AppContext
from xueliang.core.lifecycle import StartupHook, Stop
from xueliang.federation.config import FederationSettings
from xueliang.federation.video import handshake
from xueliang.federation.video.child import VideoUplink
from xueliang.federation.video.edits import ChildCameras
from xueliang.federation.video.parent import VideoLinks
from xueliang.federation.video.playback import ChildRecordings
from xueliang.media.plane import MediaPlane
from xueliang.recordings.remote import RemoteRecordings


def install(app: FastAPI, ctx: AppContext, settings: FederationSettings) -> list[StartupHook]:
    plane = ctx.services.get(MediaPlane)
    if not settings.enabled or plane is None:
        return []
    links = ctx.services.add(VideoLinks(ctx, settings.node_gb_id))
    uplink = ctx.services.add(VideoUplink(ctx, plane, settings.node_gb_id, settings.parent_url, links))
    ctx.services.add(ChildRecordings(ctx, links), RemoteRecordings)  # playback through the parent
    ctx.services.add(ChildCameras(ctx, links), RemoteCameras)  # edits of a child's camera go to it
    plane.schemes.register("node", links.source, on_demand=True)
    plane.session_listeners.append(links.on_live_session)
    router = APIRouter(tags=["federation"])
    router.add_api_websocket_route(handshake.LINK_PATH, links.control)
    router.add_api_websocket_route(handshake.STREAM_PATH, links.stream)
    app.include_router(router)

    async def start(_ctx: AppContext) -> Stop:
        await uplink.start()
        return uplink.stop

    return [start]
