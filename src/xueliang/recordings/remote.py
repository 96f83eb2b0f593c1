"""Recordings of a camera hosted by a child node (federation, issue 18): the timeline and playback routes
answer such a camera by asking the child, which checks the parent's subtree and audits.

The implementation lives in federation/video (it talks over the child's dial-out link) and is
registered under this class, so recordings imports no federation (ADR 0003, 0006). Segment ids in the
answers are the child's; the routes only hand them back to it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from xueliang.core.context import AppContext
from xueliang.media.mask.presets import MaskTimeline
from xueliang.media.playback import SegmentView


class RemoteRecordings:
    """What the recordings routes need of a camera's recordings kept by another node."""

    async def hosts(self, camera_id: int) -> bool:
        """Whether this camera's recordings are kept by a child node."""
        return False

    async def timeline(self, camera_id: int, lo: datetime, hi: datetime, user: str) -> dict[str, Any]:
        """`TimelineOut`'s fields (less `camera_id`) as the child computes them for `user` of ours."""
        raise NotImplementedError

    async def views(self, camera_id: int, lo: datetime, hi: datetime, user: str) -> list[SegmentView]:
        raise NotImplementedError

    async def segment(self, camera_id: int, segment_id: int) -> SegmentView | None:
        raise NotImplementedError

    async def segment_at(self, camera_id: int, at: datetime) -> SegmentView | None:
        raise NotImplementedError

    async def read(self, camera_id: int, segment_id: int, first: int, last: int) -> bytes:
        """Bytes [first, last) of the segment's file (the init segment, or whole GOPs)."""
        raise NotImplementedError

    async def mask_timeline(self, camera_id: int, lo: datetime, hi: datetime) -> MaskTimeline | None:
        """The keeper's mask sets of the camera and the PTZ positions its commands recorded over [lo, hi]
        (on its clock, as its segments' times), for masking a PTZ camera's recording here; None when it
        cannot say (then the whole picture is filled)."""
        return None


async def remote_for(ctx: AppContext, camera_id: int) -> RemoteRecordings | None:
    """The remote keeper of this camera's recordings, or None when they are here."""
    remote = ctx.services.get(RemoteRecordings)
    if remote is not None and await remote.hosts(camera_id):
        return remote
    return None
