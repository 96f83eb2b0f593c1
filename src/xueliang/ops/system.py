"""`GET /api/v1/ops/system`: how the node is doing, for the admin console's system page (/system).

Disk of the recordings volume, recording health (cameras being recorded, open gaps, storage errors),
cameras offline, and CPU and memory of the machine and of each `xueliang serve` process. One process
(`--role all`) answers from what it holds; a split node (web, media, worker on PostgreSQL) answers
from the database, where each media process writes its cameras' health into their lease rows and
every process renews a row with its CPU and memory (media/plane/leases.py), so any web process shows
the whole node. County admins only (the users permission): the page names cameras and hosts."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from datetime import timedelta
from typing import Any

from fastapi import APIRouter
from sqlalchemy import func, select

from xueliang.accounts.deps import Ctx, CurrentCaller, ReadSession, require
from xueliang.accounts.policy import Permission
from xueliang.cameras.models import Camera
from xueliang.media.engine import CameraStatus
from xueliang.media.plane import MediaPlane
from xueliang.media.plane.leases import CameraLease, NodeProcess, cpu_meter
from xueliang.recordings.models import RecordingGap, RecordingSegment, SegmentState
from xueliang.recordings.runtime import RecordingsNode

router = APIRouter(tags=["ops"])


def machine() -> dict[str, Any]:
    """This machine: load, cores and memory (from /proc; zeros where it cannot be read)."""
    mem: dict[str, int] = {}
    with contextlib.suppress(OSError, ValueError), open("/proc/meminfo") as fh:
        for line in fh:
            key, _, rest = line.partition(":")
            if key in ("MemTotal", "MemAvailable"):
                mem[key] = int(rest.split()[0]) * 1024
    load = os.getloadavg() if hasattr(os, "getloadavg") else (0.0, 0.0, 0.0)
    return {
        "cpus": os.cpu_count() or 1,
        "load": [round(x, 2) for x in load],
        "memory_total_bytes": mem.get("MemTotal", 0),
        "memory_available_bytes": mem.get("MemAvailable", 0),
    }


@router.get("/api/v1/ops/system")
async def system(caller: CurrentCaller, ctx: Ctx, session: ReadSession) -> dict[str, Any]:
    """The system page's data; see the module docstring."""
    require(caller, Permission.manage_users)
    settings = ctx.settings
    node = ctx.services.get(RecordingsNode)
    disk: dict[str, Any] = {}
    if node is not None:
        with contextlib.suppress(OSError):
            usage = shutil.disk_usage(node.root)
            disk = {"path": str(node.root), "total_bytes": usage.total, "free_bytes": usage.free}
    enabled = {
        cid: name
        for cid, name in (await session.execute(select(Camera.id, Camera.name).where(Camera.enabled))).all()
    }
    plane = ctx.services.get(MediaPlane)
    cameras: dict[int, dict[str, Any]] = {}
    if settings.role == "all":
        if plane is not None:
            for health in plane.engine.health_all():
                cameras[health.camera_id] = {
                    "status": health.status.value,
                    "reason": health.reason,
                    "owner": "",
                }
    else:
        rows = await session.execute(select(CameraLease))
        for (lease,) in rows.all():
            alive = (
                lease.owner is not None
                and lease.expires_at is not None
                and lease.expires_at > ctx.clock.now()
            )
            cameras[lease.camera_id] = {
                "status": lease.status if alive else "unowned",
                "reason": lease.reason if alive else "no media process holds it",
                "owner": lease.owner or "",
            }
    offline = [
        {"camera_id": cid, "name": name, **cameras.get(cid, {"status": "unowned", "reason": "", "owner": ""})}
        for cid, name in sorted(enabled.items())
        if cameras.get(cid, {}).get("status") != CameraStatus.online.value
    ]
    recording = await session.scalar(
        select(func.count(func.distinct(RecordingSegment.camera_id))).where(
            RecordingSegment.state == SegmentState.open
        )
    )
    gaps = (
        await session.execute(
            select(RecordingGap.camera_id, RecordingGap.reason, RecordingGap.starts_at)
            .where(RecordingGap.ends_at.is_(None))
            .order_by(RecordingGap.starts_at)
            .limit(100)
        )
    ).all()
    failing: list[dict[str, Any]] = []
    if node is not None:
        failing = node.health().failing
    processes: list[dict[str, Any]] = []
    if settings.role == "all":
        processes.append({"name": "all", "role": "all", "url": "", "seen_s": 0.0, **cpu_meter.sample()})
    else:
        since = ctx.clock.now() - timedelta(minutes=2)
        rows2 = await session.execute(
            select(NodeProcess)
            .where(NodeProcess.seen_at > since)
            .order_by(NodeProcess.role, NodeProcess.name)
        )
        for (proc,) in rows2.all():
            seen = (ctx.clock.now() - proc.seen_at).total_seconds()
            processes.append(
                {
                    "name": proc.name,
                    "role": proc.role,
                    "url": proc.url,
                    "seen_s": round(seen, 1),
                    **proc.stats,
                }
            )
    return {
        "at": time.time(),
        "role": settings.role,
        "machine": machine(),
        "disk": disk,
        "recording": {
            "cameras_recording": int(recording or 0),
            "open_gaps": [{"camera_id": c, "reason": r, "since": s.isoformat()} for c, r, s in gaps],
            "storage_errors": failing,
        },
        "cameras": {"enabled": len(enabled), "offline": offline},
        "processes": processes,
    }
