"""What a node does with a message from a peer, inside the transaction that records it in the inbox,
and what it sends: the bodies of alarm, camera and anchor messages.

An alarm is known everywhere by its UUID, so the first message about it (whatever its action) opens
it here through the alarms domain's own `build_alarm` (routed to this node's station, with its own
escalation timer), and later ones move its state forward, never back: a late or repeated message
changes nothing. Changes applied from a peer are recorded with the actor `node:<gb_id>`, which is how
the outbox knows not to send them back to where they came from."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.models import Role
from xueliang.accounts.policy import Principal
from xueliang.alarms import escalation, mobilization
from xueliang.alarms.models import Alarm, AlarmEvent, AlarmKind, AlarmState
from xueliang.alarms.service import Press, build_alarm, record_opened
from xueliang.audit import service as audit
from xueliang.audit.models import AuditEvent
from xueliang.audit.service import Actor
from xueliang.cameras import mask_rows
from xueliang.cameras.events import CameraChanged
from xueliang.cameras.mask_models import CameraMask
from xueliang.cameras.masks import MasksChanged
from xueliang.cameras.models import Camera, CameraKind
from xueliang.core import timers
from xueliang.core.context import AppContext
from xueliang.core.errors import AppError, ValidationFailed
from xueliang.federation.envelope import Envelope, Refused
from xueliang.federation.models import AuditAnchor, RemoteCameraStatus
from xueliang.nodes.models import Node
from xueliang.portal.models import PortalNotice
from xueliang.regions.models import Region, RegionLevel

RANK = {
    AlarmState.new: 0,
    AlarmState.acknowledged: 1,
    AlarmState.dispatched: 2,
    AlarmState.on_scene: 3,
    AlarmState.resolved: 4,
    AlarmState.false_alarm: 4,
}
After = Callable[[], Awaitable[None]]


def node_actor(gb_id: str) -> Actor:
    return Actor(None, f"node:{gb_id}", "federation")


# ---- bodies sent -------------------------------------------------------------------------------


def alarm_body(alarm: Alarm, region_code: str, ev: AlarmEvent, me: str) -> dict[str, Any]:
    detail = dict(ev.detail or {})
    return {
        "uuid": alarm.uuid,
        "kind": alarm.kind.value,
        "source": alarm.source,
        "region_code": region_code,
        "state": alarm.state.value,
        "note": alarm.note,
        "pressed_at": alarm.pressed_at.isoformat() if alarm.pressed_at else None,
        "lat": alarm.lat,
        "lon": alarm.lon,
        "press_count": alarm.press_count,
        "origin": str(detail.get("origin") or me),
        "event": {
            "id": ev.id,
            "action": ev.action,
            "at": ev.at.isoformat(),
            "actor": ev.actor,
            "note": ev.note,
            "detail": {k: v for k, v in detail.items() if k in ("dispatched_to", "from", "to", "level")},
        },
    }


CAMERA_FIELDS = (
    "gb_id",
    "name",
    "name_en",
    "lat",
    "lon",
    "heading",
    "fov_angle",
    "fov_range",
    "ptz",
    "public_view",
    "enabled",
    "record",
    "retention_days",
)


def camera_body(
    cam: Camera, region_code: str, status: str | None, masks: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The camera as its parent keeps it: its fields, its last known status and its privacy masks
    (every row, `mask_rows.mask_rows_out`), so the parent masks it for its viewers as the owner does."""
    body: dict[str, Any] = {name: getattr(cam, name) for name in CAMERA_FIELDS}
    body.update({"kind": cam.kind.value, "region_code": region_code, "remote_id": cam.id, "status": status})
    body["masks"] = masks or []
    return body


# Stands for the masks of a relayed camera while its owner has not said them (a message of a node that
# sends none): the whole picture, so a masked viewer here sees nothing until the owner's masks arrive.
UNKNOWN_MASKS_LABEL = "待所属节点告知遮挡区域 / masks not yet known from the owner node"
UNKNOWN_MASKS: dict[str, Any] = {
    "label": UNKNOWN_MASKS_LABEL,
    "points": [[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]],
}


async def _apply_masks(
    session: AsyncSession, peer: Node, cam: Camera, items: list[dict[str, Any]] | None, now: datetime
) -> bool:
    """Make this copy's masks the owner's (None: the owner did not say; the whole picture stands in
    unless masks are known here). Returns whether they changed; a change is audited as the node."""
    existing = (await mask_rows.camera_mask_rows(session, [cam.id])).get(cam.id, [])
    if items is None:
        if existing:
            return False
        items = [{**UNKNOWN_MASKS, "created_by": f"node:{peer.gb_id}", "created_at": now.isoformat()}]
    fresh = mask_rows.mask_rows_in(cam.id, items, now)  # read before anything was written
    if mask_rows.mask_rows_out(existing) == mask_rows.mask_rows_out(fresh):
        return False
    await session.execute(delete(CameraMask).where(CameraMask.camera_id == cam.id))
    session.add_all(fresh)
    await audit.append(
        session, node_actor(peer.gb_id), "camera.masks", at=now, target_type="camera", target_id=cam.id,
        detail={"gb_id": cam.gb_id, "before": len(existing), "after": len(fresh), "via": peer.gb_id,
                "labels": [m.label for m in fresh]},
    )  # fmt: skip
    return True


# ---- applied -----------------------------------------------------------------------------------


def press_from(peer: Node, env: Envelope, region_id: int | None) -> Press | None:
    """The press that opens a peer's alarm here (None: its region is unknown here). Raises ValueError,
    KeyError or TypeError for a body it cannot read."""
    b = env.body
    if region_id is None:
        return None
    pressed = b.get("pressed_at")
    return Press(
        uuid=str(b["uuid"]),
        kind=AlarmKind(str(b["kind"])),
        source=str(b.get("source", "node"))[:16],
        region_id=region_id,
        lat=b.get("lat"),
        lon=b.get("lon"),
        pressed_at=datetime.fromisoformat(pressed) if pressed else None,
        note=str(b.get("note", ""))[:2000],
        detail={"origin": b.get("origin", peer.gb_id), "via": peer.gb_id},
    )


async def apply_alarm(
    ctx: AppContext,
    session: AsyncSession,
    peer: Node,
    env: Envelope,
    now: datetime,
    from_parent: bool = False,
) -> tuple[str, list[tuple[int, str]]]:
    """Open or advance the alarm; returns the outcome and the (alarm id, console event) to push. A
    mobilization is run here only when it comes from the parent; from a child it is history."""
    b = env.body
    ev = dict(b.get("event") or {})
    action = str(ev.get("action", ""))
    actor = node_actor(peer.gb_id)
    pushes: list[tuple[int, str]] = []
    alarm = await session.scalar(select(Alarm).where(Alarm.uuid == str(b["uuid"])))
    if alarm is None:
        region = await session.scalar(select(Region).where(Region.code == str(b["region_code"])))
        if region is None:
            return f"unknown region {b['region_code']}", []
        try:
            kind = AlarmKind(str(b["kind"]))
        except ValueError:
            raise Refused(f"unknown alarm kind {b['kind']!r}") from None
        pressed = b.get("pressed_at")
        press = Press(
            uuid=str(b["uuid"]),
            kind=kind,
            source=str(b.get("source", "node"))[:16],
            region_id=region.id,
            lat=b.get("lat"),
            lon=b.get("lon"),
            pressed_at=datetime.fromisoformat(pressed) if pressed else None,
            note=str(b.get("note", ""))[:2000],
            detail={"origin": b.get("origin", peer.gb_id), "via": peer.gb_id},
        )
        alarm = await build_alarm(session, press, now)
        alarm.press_count = int(b.get("press_count", 1))
        session.add(alarm)
        await session.flush()
        detail = await record_opened(session, alarm, press, actor, now)
        await audit.append(
            session, actor, "alarm.raise", at=now, target_type="alarm", target_id=alarm.id, detail=detail
        )
        pushes.append((alarm.id, "raised"))
        if action == "raised":
            return "opened", pushes
    note = str(ev.get("note", ""))[:2000]
    detail = {**dict(ev.get("detail") or {}), "via": peer.gb_id, "remote_at": ev.get("at")}
    if action == "pressed":
        count = int(b.get("press_count", alarm.press_count))
        if count > alarm.press_count:
            await session.execute(
                update(Alarm)
                .where(Alarm.id == alarm.id)
                .values(press_count=count, last_press_at=now, version=Alarm.version + 1)
            )
    elif action in {s.value for s in AlarmState} and action != AlarmState.new.value:
        target = AlarmState(action)
        if RANK[target] <= RANK[alarm.state]:
            return f"stale {action} (alarm is {alarm.state.value})", pushes
        values: dict[str, object] = {"state": target, "version": Alarm.version + 1}
        if target is AlarmState.acknowledged:
            values.update(acknowledged_at=now, ack_due_at=None)
        elif target is AlarmState.dispatched:
            values.update(dispatched_at=now, dispatched_to=str(detail.get("dispatched_to", ""))[:200])
        elif target is AlarmState.on_scene:
            values.update(on_scene_at=now)
        else:
            values.update(closed_at=now, open_key=None, ack_due_at=None)
        await session.execute(update(Alarm).where(Alarm.id == alarm.id).values(**values))
        await timers.cancel(session, escalation.timer_key(alarm.id, alarm.escalation_level + 1))
        await audit.append(
            session, actor, f"alarm.{action}", at=now, target_type="alarm", target_id=alarm.id, detail=detail
        )
    elif action in ("mobilized", "stood_down") and from_parent:  # the parent's staff called out the guards
        return await _mobilization(session, peer, alarm, action, now), [*pushes, (alarm.id, action)]
    elif action not in ("escalated", "note", "raised", "mobilized", "stood_down"):
        return f"ignored action {action!r}", pushes
    if action != "raised":
        session.add(
            AlarmEvent(
                alarm_id=alarm.id,
                at=now,
                action=action,
                actor_id=None,
                actor=actor.name,
                note=note,
                detail=detail,
            )
        )
        pushes.append((alarm.id, action))
    return "applied", pushes


async def _mobilization(session: AsyncSession, peer: Node, alarm: Alarm, action: str, now: datetime) -> str:
    """Mobilization from the parent, run here through the alarms domain (the village's own plan and
    volunteers get the tasks), as the parent node acting as an operator of its region; the history
    row it writes carries the node's name, so it is not sent back up."""
    path = await session.scalar(select(Region.path).where(Region.id == peer.region_id))
    principal = Principal(0, f"node {peer.gb_id}", Role.operator, peer.region_id, path or "\0")
    run = mobilization.activate if action == "mobilized" else mobilization.stand_down
    try:
        async with session.begin_nested():
            await run(session, principal, node_actor(peer.gb_id), alarm.id, now)
    except AppError as exc:
        return f"{action}: {exc.message}"[:200]
    return action


async def apply_camera(
    ctx: AppContext, session: AsyncSession, peer: Node, env: Envelope, now: datetime
) -> tuple[str, tuple[int, str] | None]:
    """Upsert the peer's camera (by its GB ID) as hosted by that peer; returns (outcome, status)."""
    b = env.body
    if b.get("deleted"):
        return await _delete_camera(ctx, session, peer, str(b["gb_id"]), now), None
    region = await session.scalar(select(Region).where(Region.code == str(b["region_code"])))
    if region is None:
        return f"unknown region {b['region_code']}", None
    cam = await session.scalar(select(Camera).where(Camera.gb_id == str(b["gb_id"])))
    if cam is not None and cam.host_node_id is None and cam.node_id is not None and cam.node_id != peer.id:
        pass  # seeded here as another node's: the hosting peer's word wins below
    remote_id = int(b["remote_id"])
    masks = list(b["masks"]) if isinstance(b.get("masks"), list) else None
    if masks is not None:  # unreadable masks refuse the message before anything is written
        try:
            mask_rows.mask_rows_in(0, masks, now)
        except ValidationFailed as exc:
            raise Refused(f"camera {b['gb_id']}: unreadable masks ({exc.message})") from None
    values = {name: b[name] for name in CAMERA_FIELDS if name in b}
    # The child records its own cameras; the parent never does: recording here too would keep the
    # camera pulled over the link all the time (defeating on-demand) and store it twice.
    values["record"] = False
    values["kind"] = CameraKind(str(b["kind"]))
    values.update(
        region_id=region.id,
        host_node_id=peer.id,
        remote_id=remote_id,
        stream_url=f"node://{peer.gb_id}/{remote_id}",
    )
    if cam is None:
        cam = Camera(**values)
        session.add(cam)
    else:
        for key, value in values.items():
            setattr(cam, key, value)
    await session.flush()
    if await _apply_masks(session, peer, cam, masks, now):
        ctx.events.publish(session, MasksChanged(cam.id))
    ctx.events.publish(session, CameraChanged(cam.id))
    return "applied", await _reported_status(session, cam.id, b.get("status"), now)


async def _reported_status(
    session: AsyncSession, camera_id: int, status: object, now: datetime
) -> tuple[int, str] | None:
    """Keep the owner's word on the camera's status; returns it when it changed (to be announced)."""
    if status not in ("online", "offline"):
        return None
    row = await session.get(RemoteCameraStatus, camera_id)
    if row is None:
        session.add(RemoteCameraStatus(camera_id=camera_id, status=str(status), reason="", reported_at=now))
    elif row.status == status:
        row.reported_at = now
        return None
    else:
        row.status, row.reported_at = str(status), now
    return camera_id, str(status)


async def _delete_camera(ctx: AppContext, session: AsyncSession, peer: Node, gb: str, now: datetime) -> str:
    """The owner deleted its camera: the copy it hosts here goes too (never a camera of this node's own)."""
    cam = await session.scalar(select(Camera).where(Camera.gb_id == gb, Camera.host_node_id == peer.id))
    if cam is None:
        return "deleted before"
    camera_id = cam.id
    await session.delete(cam)
    await audit.append(
        session,
        node_actor(peer.gb_id),
        "camera.delete",
        at=now,
        target_type="camera",
        target_id=camera_id,
        detail={"gb_id": gb, "via": peer.gb_id},
    )
    ctx.events.publish(session, CameraChanged(camera_id))
    return "deleted"


def notice_body(notice: PortalNotice, region_code: str) -> dict[str, Any]:
    return {
        "region_code": region_code,
        "urgent": notice.urgent,
        "title": notice.title,
        "title_en": notice.title_en,
        "body": notice.body,
        "body_en": notice.body_en,
        "publisher": notice.publisher,
        "published_at": notice.published_at.isoformat(),
    }


async def apply_notice(
    session: AsyncSession, peer: Node, env: Envelope, now: datetime
) -> tuple[str, str | None]:
    """A notice published above: kept here as this node's own, so its TVs and phones read it (and its
    children get it in turn); returns the outcome and its region path (None: nothing stored)."""
    b = env.body
    region = await session.scalar(select(Region).where(Region.code == str(b["region_code"])))
    if region is None:
        return f"unknown region {b['region_code']}", None
    if b.get("withdrawn"):  # our copy: same region, publication time and title
        copy = await session.scalar(
            select(PortalNotice).where(
                PortalNotice.region_id == region.id,
                PortalNotice.published_at == datetime.fromisoformat(str(b["published_at"])),
                PortalNotice.title == str(b["title"])[:200],
                PortalNotice.publisher_id.is_(None),
            )
        )
        if copy is None or copy.withdrawn_at is not None:
            return "withdrawn before", None
        copy.withdrawn_at = now
        await audit.append(
            session,
            node_actor(peer.gb_id),
            "portal.notice.withdraw",
            at=now,
            target_type="portal_notice",
            target_id=copy.id,
            detail={"via": peer.gb_id},
        )
        return "withdrawn", region.path
    notice = PortalNotice(
        region_id=region.id,
        region_path=region.path,
        publisher_id=None,
        publisher=str(b.get("publisher", ""))[:100],
        urgent=bool(b.get("urgent", False)),
        title=str(b["title"])[:200],
        title_en=str(b.get("title_en", ""))[:300],
        body=str(b.get("body", "")),
        body_en=str(b.get("body_en", "")),
        published_at=datetime.fromisoformat(str(b["published_at"])),
    )
    session.add(notice)
    await session.flush()
    await audit.append(
        session,
        node_actor(peer.gb_id),
        "portal.notice.publish",
        at=now,
        target_type="portal_notice",
        target_id=notice.id,
        detail={"region": region.code, "urgent": notice.urgent, "via": peer.gb_id},
    )
    return "published", region.path


REGION_FIELDS = ("name", "name_en", "households", "population", "lat", "lon")


def regions_body(regions: list[tuple[Region, str | None]]) -> dict[str, Any]:
    """This node's region tree (parents first), for the parent to know every place alarms come from."""
    return {
        "regions": [
            {
                "code": r.code,
                "parent_code": parent,
                "level": r.level.value,
                **{f: getattr(r, f) for f in REGION_FIELDS},
            }
            for r, parent in regions
        ]
    }


async def apply_regions(session: AsyncSession, peer: Node, env: Envelope) -> str:
    """The child's region tree: its regions are updated or added here, under its own region only (a
    child names nothing outside its subtree)."""
    own = await session.get(Region, peer.region_id)
    if own is None:
        return "unknown region of the peer"
    added = changed = 0
    for item in env.body["regions"]:
        code = str(item["code"])[:20]
        region = await session.scalar(select(Region).where(Region.code == code))
        if region is not None:
            if not region.path.startswith(own.path):
                continue
            for name in REGION_FIELDS:
                if name in item and getattr(region, name) != item[name]:
                    setattr(region, name, item[name])
                    changed += 1
            continue
        parent = await session.scalar(select(Region).where(Region.code == str(item["parent_code"])))
        if parent is None or not parent.path.startswith(own.path):
            continue
        session.add(
            Region(
                code=code,
                level=RegionLevel(str(item["level"])),
                parent_id=parent.id,
                path=f"{parent.path}{code}/",
                **{name: item[name] for name in REGION_FIELDS if name in item},
            )
        )
        await session.flush()
        added += 1
    return f"regions: {added} added, {changed} fields changed"


async def apply_anchor(session: AsyncSession, peer: Node, env: Envelope, now: datetime) -> str:
    b = env.body
    session.add(
        AuditAnchor(
            node_id=peer.id,
            seq=int(b["seq"]),
            head_hash=str(b["hash"])[:64],
            anchored_at=datetime.fromisoformat(str(b["at"])),
            received_at=now,
        )
    )
    return "anchored"


async def audit_head(session: AsyncSession) -> tuple[int, str] | None:
    row = (
        await session.execute(
            select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
        )
    ).first()
    return (int(row[0]), str(row[1])) if row else None
