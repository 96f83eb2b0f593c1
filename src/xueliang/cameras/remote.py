"""Edits of a camera hosted by a child node (federation, issue 18): the owner applies them or refuses
with its reason, which the parent's route shows; the parent's copy follows the owner's catalog.

The implementation lives in federation/video (it asks over the child's dial-out link) and is
registered under this class, so cameras imports no federation (ADR 0003, 0006)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from xueliang.core.context import AppContext


class RemoteCameras:
    """What the camera routes need of a camera another node owns."""

    async def hosts(self, camera_id: int) -> bool:
        """Whether this camera is owned by a child node."""
        return False

    async def update(self, camera_id: int, fields: dict[str, Any], user: str) -> None:
        """Apply the edit at the owner; raises an AppError with the owner's reason when refused."""
        raise NotImplementedError

    async def delete(self, camera_id: int, user: str) -> None:
        raise NotImplementedError

    async def masks(self, camera_id: int, masks: list[dict[str, Any]], user: str, preset: int = 0) -> None:
        """Replace one of the camera's mask sets at the owner (`{label, points}` each; `preset` 0: the
        default set); raises an AppError with the owner's reason when refused."""
        raise NotImplementedError

    async def statuses(self, camera_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """The last status each camera's owner reported, with who said it (camera id -> (status, who))."""
        return {}


async def remote_for(ctx: AppContext, camera_id: int) -> RemoteCameras | None:
    """The owner of this camera when it is another node, else None."""
    remote = ctx.services.get(RemoteCameras)
    if remote is not None and await remote.hosts(camera_id):
        return remote
    return None
