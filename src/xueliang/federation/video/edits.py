"""Edits at a parent of a child's camera (issue 18): asked of the owner over the child's dial-out link,
applied there under the owner's own rules (as the parent node, an admin of the parent's region, for the
parent's user) or refused with the owner's reason, which the parent's route answers with. Two hops are
asked on, like playback. The parent's copy then follows the owner's catalog message."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from xueliang.accounts.models import Role
from xueliang.accounts.policy import Principal
from xueliang.audit.service import Actor
from xueliang.cameras import masks as camera_masks
from xueliang.cameras import service as cameras
from xueliang.cameras.events import CameraChanged
from xueliang.cameras.masks import MasksChanged
from xueliang.cameras.models import Camera
from xueliang.cameras.remote import RemoteCameras
from xueliang.core.context import AppContext
from xueliang.core.errors import Conflict, NotFound
from xueliang.federation import identity
from xueliang.federation.models import RemoteCameraStatus
from xueliang.federation.video.parent import ChildHosted, RemoteRefused
from xueliang.media.errors import MediaConnectionError
from xueliang.nodes.models import Node
from xueliang.regions.models import Region

OPS = ("camera.update", "camera.delete", "camera.masks")


class ChildCameras(ChildHosted, RemoteCameras):
    """The parent's side: edits of `node://` cameras go to the child that hosts them."""

    async def _ask(self, camera_id: int, op: str, **args: Any) -> None:
        gb_id, remote_id, link = await self._link(camera_id)
        if link is None:
            raise Conflict(f"refused: the node that owns this camera ({gb_id}) is not connected")
        try:
            await link.request({"op": op, "camera": remote_id, **args})
        except RemoteRefused as exc:
            raise Conflict(f"refused by the node that owns this camera ({gb_id}): {exc}") from None
        except MediaConnectionError as exc:
            raise Conflict(f"refused: no answer from the node that owns this camera: {exc}") from None

    async def update(self, camera_id: int, fields: dict[str, Any], user: str) -> None:
        await self._ask(camera_id, "camera.update", fields=fields, user=user)

    async def delete(self, camera_id: int, user: str) -> None:
        await self._ask(camera_id, "camera.delete", user=user)

    async def masks(self, camera_id: int, masks: list[dict[str, Any]], user: str, preset: int = 0) -> None:
        await self._ask(camera_id, "camera.masks", masks=masks, user=user, preset=preset)

    async def statuses(self, camera_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """The status each owner last reported (kept by the link's catalog apply, apply.py)."""
        async with self.ctx.db.read_session() as session:
            rows = (
                await session.execute(
                    select(RemoteCameraStatus.camera_id, RemoteCameraStatus.status, Node.gb_id)
                    .join(Camera, Camera.id == RemoteCameraStatus.camera_id)
                    .join(Node, Node.id == Camera.host_node_id)
                    .where(RemoteCameraStatus.camera_id.in_(list(camera_ids)))
                )
            ).all()
        return {camera_id: (status, f"node {gb_id}") for camera_id, status, gb_id in rows}


async def answer(
    ctx: AppContext, parent_gb: str, message: dict[str, Any], below: ChildCameras | None
) -> None:
    """The owner's side (or the middle node's, which asks on): apply or raise an AppError with the reason."""
    op = str(message.get("op", ""))
    camera_id = int(message["camera"])
    user = str(message.get("user", ""))[:64]
    async with ctx.db.read_session() as session:
        peer = await identity.peer_by_key(session, parent_gb)
        if peer is None:
            raise NotFound("unknown or revoked node")
        path = await session.scalar(select(Region.path).where(Region.id == peer.region_id))
    principal = Principal(0, f"node {parent_gb}", Role.admin, peer.region_id, path or "\0")
    actor = Actor(None, (f"node {parent_gb}" + (f" for {user}" if user else ""))[:100], "federation")
    if below is not None and await below.hosts(camera_id):  # owned by our own child: ask it on
        async with ctx.db.read_session() as session:  # the parent's scope first: out of it is "not found"
            await cameras.get_camera(session, principal, camera_id)
        relayed = f"{user} (node {parent_gb})"
        if op == "camera.update":
            await below.update(camera_id, dict(message["fields"]), relayed)
        elif op == "camera.delete":
            await below.delete(camera_id, relayed)
        elif op == "camera.masks":
            await below.masks(camera_id, list(message["masks"]), relayed, int(message.get("preset", 0)))
        return
    async with ctx.db.session() as session:
        if op == "camera.update":
            fields = dict(message["fields"])
            camera = await cameras.update_camera(
                session, principal, actor, camera_id, ctx.clock.now(), **fields
            )
            ctx.events.publish(session, CameraChanged(camera.id))
        elif op == "camera.delete":
            await cameras.delete_camera(session, principal, actor, camera_id, ctx.clock.now())
            ctx.events.publish(session, CameraChanged(camera_id))
        elif op == "camera.masks":  # the owner's own rules (polygons checked, audited as the node for Y)
            drawn = [(str(m.get("label", "")), list(m["points"])) for m in message["masks"]]
            preset = int(message.get("preset", 0))
            await camera_masks.replace_masks(
                session, principal, actor, camera_id, drawn, ctx.clock.now(), preset
            )
            ctx.events.publish(session, MasksChanged(camera_id))
        else:
            raise NotFound(f"unknown request {op!r}")
        await session.commit()
        await ctx.events.delivered(session)
