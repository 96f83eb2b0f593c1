"""Playback of a child's recordings through the parent, over the same dial-out control link.

Parent: `ChildRecordings` is the `RemoteRecordings` the recordings routes ask for a camera whose source
is `node://<child>/<id>`: the timeline, the segments of a range, one segment, the segment at a time,
and byte ranges of a segment's file, each a request on the child's control link (bytes come back as
one binary message). The parent's routes have already checked its own user against its own policy and
audited `recording.view`; a refusal or "not found" from the child is answered as a 404.

Child: `answer` runs a request as the parent node would be allowed to: a principal bound to the parent
node's region (an operator's rights, never more), so a camera outside the parent's subtree is "not
found" exactly as for a user out of scope. Opening a range (timeline, segments) is audited as
`recording.view` by "node X for its user Y"; the byte reads that follow are not audited one by one. A
camera this node itself has from its own child is asked of that child in turn (two hops).

`mask_timeline` carries a PTZ camera's mask sets and recorded positions up, so the parent masks the
child's recording of a dome with the set in force at each frame's time (the parent has neither: its
copy's sets are not marked in force, and the child's PTZ commands are the child's)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from xueliang.accounts.models import Role
from xueliang.accounts.policy import Permission, Principal
from xueliang.audit import service as audit
from xueliang.audit.service import Actor
from xueliang.cameras import masks
from xueliang.cameras import service as cameras
from xueliang.core.context import AppContext
from xueliang.core.errors import NotFound
from xueliang.federation import identity
from xueliang.federation.video.parent import ChildHosted, RemoteRefused
from xueliang.media import playback
from xueliang.media.errors import MediaConnectionError
from xueliang.media.mask.presets import MaskTimeline, Position, mask_sets
from xueliang.media.playback import SegmentView
from xueliang.recordings import service
from xueliang.recordings.access import node_of
from xueliang.recordings.models import RecordingSegment
from xueliang.recordings.remote import RemoteRecordings
from xueliang.regions.models import Region

MAX_READ = 32 << 20  # bytes of one read answer (a chunk is whole GOPs of one segment)


def view_from(data: dict[str, Any]) -> SegmentView:
    return SegmentView(**{**data, "keyframes": tuple(tuple(k) for k in data["keyframes"])})


def view_to(view: SegmentView) -> dict[str, Any]:
    return dataclasses.asdict(view)


def timeline_from(data: dict[str, Any]) -> MaskTimeline:
    """The owner's answer to `mask_timeline`; raises ValueError, KeyError or TypeError if malformed."""
    presets = {int(n): polys for n, polys in data["presets"].items()}
    sets = mask_sets(data["default"], presets, bool(data["ptz"]), bool(data["masked"]))
    positions = [
        Position(float(at), None if preset is None else int(preset), int(row_id))
        for at, preset, row_id in data["positions"]
    ]
    return MaskTimeline(sets, tuple(sorted(positions, key=lambda p: (p.at, p.id))))


async def _timeline_data(ctx: AppContext, camera_id: int, lo: datetime, hi: datetime) -> dict[str, Any]:
    async with ctx.db.read_session() as session:
        stored = (await masks.stored_sets(session, [camera_id])).get(camera_id)
        rows = await masks.positions_between(session, camera_id, lo, hi) if stored and stored.ptz else []
    return {
        "ptz": bool(stored and stored.ptz),
        "default": stored.default if stored else [],
        "presets": {str(n): polys for n, polys in stored.presets.items()} if stored else {},
        "masked": bool(stored and stored.masked),
        "positions": [[at.timestamp(), preset, row_id] for at, preset, row_id in rows],
    }


class ChildRecordings(ChildHosted, RemoteRecordings):
    """The parent's side: recordings of `node://` cameras, asked of the child that hosts them."""

    async def _ask(self, camera_id: int, op: str, **args: Any) -> Any:
        gb_id, remote_id, link = await self._link(camera_id)
        if link is None:
            raise NotFound(f"the node hosting this camera ({gb_id}) is not connected")
        try:
            return await link.request({"op": op, "camera": remote_id, **args})
        except RemoteRefused as exc:
            raise NotFound(str(exc)) from None
        except MediaConnectionError as exc:
            raise NotFound(f"no answer from the node hosting this camera: {exc}") from None

    async def timeline(self, camera_id: int, lo: datetime, hi: datetime, user: str) -> dict[str, Any]:
        data: dict[str, Any] = await self._ask(
            camera_id, "timeline", lo=lo.isoformat(), hi=hi.isoformat(), user=user
        )
        return data

    async def views(self, camera_id: int, lo: datetime, hi: datetime, user: str) -> list[SegmentView]:
        rows = await self._ask(camera_id, "views", lo=lo.isoformat(), hi=hi.isoformat(), user=user)
        return [view_from(row) for row in rows]

    async def segment(self, camera_id: int, segment_id: int) -> SegmentView | None:
        row = await self._ask(camera_id, "segment", segment=segment_id)
        return view_from(row) if row is not None else None

    async def segment_at(self, camera_id: int, at: datetime) -> SegmentView | None:
        row = await self._ask(camera_id, "segment_at", at=at.isoformat())
        return view_from(row) if row is not None else None

    async def read(self, camera_id: int, segment_id: int, first: int, last: int) -> bytes:
        data = await self._ask(camera_id, "read", segment=segment_id, first=first, last=last)
        if not isinstance(data, bytes):
            raise NotFound("recording file unavailable")
        return data

    async def mask_timeline_data(self, camera_id: int, lo: datetime, hi: datetime) -> Any:
        return await self._ask(camera_id, "mask_timeline", lo=lo.isoformat(), hi=hi.isoformat())

    async def mask_timeline(self, camera_id: int, lo: datetime, hi: datetime) -> MaskTimeline | None:
        """None when the child cannot say (an older node, a lost link, a malformed answer)."""
        try:
            return timeline_from(await self.mask_timeline_data(camera_id, lo, hi))
        except (NotFound, ValueError, KeyError, TypeError, AttributeError):
            return None


async def _principal(ctx: AppContext, parent_gb: str) -> Principal | None:
    """The parent node as the policy sees it: an operator of its region (None: unknown or revoked)."""
    async with ctx.db.read_session() as session:
        peer = await identity.peer_by_key(session, parent_gb)
        if peer is None:
            return None
        path = await session.scalar(select(Region.path).where(Region.id == peer.region_id))
    return Principal(0, f"node {parent_gb}", Role.operator, peer.region_id, path or "\0")


async def answer(
    ctx: AppContext, parent_gb: str, message: dict[str, Any], below: ChildRecordings | None
) -> Any:
    """One request of the parent, answered as that node may see it; raises NotFound with the reason."""
    op = str(message.get("op", ""))
    camera_id = int(message["camera"])
    user = str(message.get("user", ""))[:64]
    principal = await _principal(ctx, parent_gb)
    if principal is None:
        raise NotFound("unknown or revoked node")
    async with ctx.db.read_session() as session:  # the parent's scope: out of it is "not found"
        await cameras.get_camera(session, principal, camera_id, Permission.view_recording)
    if below is not None and await below.hosts(camera_id):  # kept by our own child: ask it on
        relayed = f"{user} (node {parent_gb})"
        if op in ("timeline", "views"):
            await _audit_view(ctx, parent_gb, user, camera_id, message)
        return await _forward(below, camera_id, op, message, relayed)
    if op == "timeline":
        lo, hi = datetime.fromisoformat(message["lo"]), datetime.fromisoformat(message["hi"])
        async with ctx.db.read_session() as session:
            line = await service.timeline(session, principal, camera_id, lo, hi)
            latest = await service.segments_between(session, camera_id, line.hi - timedelta(hours=2), line.hi)
        await _audit_view(ctx, parent_gb, user, camera_id, message)
        return {
            "start": line.lo.isoformat(),
            "end": line.hi.isoformat(),
            "spans": [{"start": s.start.isoformat(), "end": s.end.isoformat()} for s in line.spans],
            "gaps": [
                {
                    "start": g.starts_at.isoformat(),
                    "end": g.ends_at.isoformat() if g.ends_at else None,
                    "reason": g.reason,
                }
                for g in line.gaps
            ],
            "locks": [],  # evidence locks are the child's to show and lift
            "keyframes": line.keyframes,
            "segments": line.segments,
            "bytes": line.bytes,
            "codec": latest[-1].codec if latest else None,
        }
    if op == "views":
        lo, hi = service.check_range(
            datetime.fromisoformat(message["lo"]), datetime.fromisoformat(message["hi"]), timedelta(days=1)
        )
        async with ctx.db.read_session() as session:
            rows = await service.segments_between(session, camera_id, lo, hi)
        await _audit_view(ctx, parent_gb, user, camera_id, message)
        return [view_to(service.view_of(r)) for r in rows]
    if op in ("segment", "read"):
        async with ctx.db.read_session() as session:
            row = await session.get(RecordingSegment, int(message["segment"]))
        if row is None or row.camera_id != camera_id or row.frames == 0:
            raise NotFound("not found")
        view = service.view_of(row)
        if op == "segment":
            return view_to(view)
        first, last = int(message["first"]), int(message["last"])
        if not (0 <= first < last <= view.bytes and last - first <= MAX_READ):  # the parent checked chunks
            raise NotFound("no such chunk")
        try:
            return await asyncio.to_thread(playback.read_range, node_of(ctx).root / view.path, first, last)
        except OSError as exc:
            raise NotFound("recording file unavailable") from exc
    if op == "segment_at":
        async with ctx.db.read_session() as session:
            found = await service.segment_at(session, camera_id, datetime.fromisoformat(message["at"]))
        return view_to(service.view_of(found)) if found is not None else None
    if op == "mask_timeline":
        lo, hi = datetime.fromisoformat(message["lo"]), datetime.fromisoformat(message["hi"])
        return await _timeline_data(ctx, camera_id, lo, hi)
    raise NotFound(f"unknown request {op!r}")


async def _forward(
    below: ChildRecordings, camera_id: int, op: str, message: dict[str, Any], user: str
) -> Any:
    if op == "timeline":
        lo, hi = datetime.fromisoformat(message["lo"]), datetime.fromisoformat(message["hi"])
        return await below.timeline(camera_id, lo, hi, user)
    if op == "views":
        lo, hi = datetime.fromisoformat(message["lo"]), datetime.fromisoformat(message["hi"])
        return [view_to(v) for v in await below.views(camera_id, lo, hi, user)]
    if op == "segment":
        view = await below.segment(camera_id, int(message["segment"]))
        return view_to(view) if view is not None else None
    if op == "segment_at":
        view = await below.segment_at(camera_id, datetime.fromisoformat(message["at"]))
        return view_to(view) if view is not None else None
    if op == "mask_timeline":
        lo, hi = datetime.fromisoformat(message["lo"]), datetime.fromisoformat(message["hi"])
        return await below.mask_timeline_data(camera_id, lo, hi)
    if op == "read":
        return await below.read(
            camera_id, int(message["segment"]), int(message["first"]), int(message["last"])
        )
    raise NotFound(f"unknown request {op!r}")


async def _audit_view(
    ctx: AppContext, parent_gb: str, user: str, camera_id: int, message: dict[str, Any]
) -> None:
    async with ctx.db.session() as session:
        await audit.append(
            session,
            Actor(None, (f"node {parent_gb}" + (f" for {user}" if user else ""))[:100]),
            "recording.view",
            at=ctx.clock.now(),
            target_type="camera",
            target_id=camera_id,
            detail={"node": parent_gb, "user": user, "from": message.get("lo"), "to": message.get("hi")},
        )
        await session.commit()
