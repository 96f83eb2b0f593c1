"""Camera leases in PostgreSQL: several media processes share the cameras, one owner per camera.

Why leases in the database and not a cluster protocol: every process already talks to PostgreSQL, and
its row locks, `now()` and LISTEN/NOTIFY give what is needed (one owner, one clock, a wake-up) with
nothing else to run (ADR 0008).

- Each media process has a row in `node_processes` that it renews every `every` seconds (its
  heartbeat); the media processes seen within `ttl` are the live members.
- Each enabled camera has a row in `camera_leases`: `owner`, `expires_at` (database time) and an
  `epoch`, raised by every acquisition. The owner renews all its leases in one UPDATE per tick; a
  lease it no longer finds under its name and epoch is lost, and that camera is stopped at once
  (the fencing token: a stale owner stops pulling and recording when the row says someone else has
  it). An owner that cannot renew for `ttl * 0.6` stops every camera itself, before anyone else may
  take them over (`ttl` after its last renewal).
- Fair share: ceil(enabled cameras / live members). Above it, an owner releases the surplus: it
  stops the camera first (the recorder closes the segment and opens a gap), then clears the row and
  NOTIFYs. Below it, a process takes free or expired rows (`FOR UPDATE SKIP LOCKED`). A joining
  process therefore never pulls a camera that another still pulls: release-then-acquire.
- SIGKILL: the dead process's leases expire `ttl` after their last renewal; the others take them on
  their next tick (every second), so cameras are pulled again within about `ttl + every` seconds
  plus the camera's own connect time (bench/roles_failover.py).

Only PostgreSQL runs several media processes (SQLite stays one process, ADR 0002); on SQLite the
plane pulls every enabled camera as before and this module is not used."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from xueliang.core.db import Base, UtcDateTime

if TYPE_CHECKING:
    from xueliang.core.context import AppContext
    from xueliang.media.plane.plane import MediaPlane

log = logging.getLogger(__name__)

CHANNEL = "xueliang_leases"  # NOTIFY payloads: "joined", "released", "acquired", "camera:<id>:<origin>"


class NodeProcess(Base):
    """One running `xueliang serve` process of this node (any role), renewed as its heartbeat."""

    __tablename__ = "node_processes"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(String(300), default="")
    started_at: Mapped[datetime] = mapped_column(UtcDateTime)
    seen_at: Mapped[datetime] = mapped_column(UtcDateTime)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class CameraLease(Base):
    """Who pulls a camera now; `epoch` rises with each acquisition (the fencing token)."""

    __tablename__ = "camera_leases"

    camera_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True
    )
    owner: Mapped[str | None] = mapped_column(String(64), default=None)
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    acquired_at: Mapped[datetime | None] = mapped_column(UtcDateTime, default=None)
    status: Mapped[str] = mapped_column(String(16), default="")  # the owner's view: online, offline...
    reason: Mapped[str] = mapped_column(String(200), default="")


def process_name(role: str) -> str:
    """Unique per process start: a restarted process is a new member, never mistaken for the old."""
    return f"{role}-{socket.gethostname()[:24]}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class CpuMeter:
    """CPU (percent of one core since the last sample) and resident memory of this process, for the
    system page; from os.times and /proc, no psutil needed."""

    def __init__(self) -> None:
        self._last = (time.monotonic(), self._cpu())

    @staticmethod
    def _cpu() -> float:
        times = os.times()
        return times.user + times.system

    def sample(self) -> dict[str, Any]:
        now, cpu = time.monotonic(), self._cpu()
        then, before = self._last
        self._last = (now, cpu)
        percent = 100.0 * (cpu - before) / (now - then) if now > then else 0.0
        rss = 0
        with contextlib.suppress(OSError, ValueError, IndexError), open("/proc/self/statm") as fh:
            rss = int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        return {
            "cpu_percent": round(percent, 1),
            "cpu_s": round(cpu, 2),
            "rss_bytes": rss,
            "pid": os.getpid(),
        }


cpu_meter = CpuMeter()  # one per process: every caller samples the same clock


def process_stats() -> dict[str, Any]:
    return cpu_meter.sample()


async def beat(ctx: AppContext, name: str, role: str, url: str, stats: dict[str, Any]) -> None:
    """Upsert this process's row with the database's clock."""
    async with ctx.db.session() as session:
        await session.execute(
            text(
                "INSERT INTO node_processes (name, role, url, started_at, seen_at, stats) "
                "VALUES (:name, :role, :url, now(), now(), CAST(:stats AS JSON)) "
                "ON CONFLICT (name) DO UPDATE SET seen_at = now(), stats = EXCLUDED.stats"
            ),
            {"name": name, "role": role, "url": url, "stats": _json(stats)},
        )
        await session.commit()


async def leave(ctx: AppContext, name: str) -> None:
    async with ctx.db.session() as session:
        await session.execute(text("DELETE FROM node_processes WHERE name = :name"), {"name": name})
        await session.commit()


def _json(value: dict[str, Any]) -> str:
    import json

    return json.dumps(value, separators=(",", ":"))


async def notify(ctx: AppContext, payload: str) -> None:
    """Tell the other processes (media: take or sync cameras; web: re-read the owners)."""
    async with ctx.db.session() as session:
        await session.execute(text("SELECT pg_notify(:c, :p)"), {"c": CHANNEL, "p": payload})
        await session.commit()


class Listener:
    """A LISTEN connection of its own (asyncpg), calling `on_payload` for each NOTIFY on CHANNEL."""

    def __init__(self, dsn: str, on_payload: Callable[[str], None]) -> None:
        self.dsn = dsn
        self.on_payload = on_payload
        self._conn: Any = None

    async def start(self) -> None:
        import asyncpg  # type: ignore[import-untyped]

        self._conn = await asyncpg.connect(self.dsn)
        await self._conn.add_listener(CHANNEL, lambda _c, _p, _ch, payload: self.on_payload(payload))

    async def stop(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.close()
            self._conn = None


class LeaseManager:
    """Runs in each media process on PostgreSQL: keeps this process's fair share of cameras, renews
    its leases, releases before another acquires, and stops any camera whose lease it lost."""

    def __init__(
        self,
        ctx: AppContext,
        plane: MediaPlane,
        *,
        name: str,
        url: str,
        ttl: float = 5.0,
        every: float = 1.0,
    ) -> None:
        self.ctx = ctx
        self.plane = plane
        self.name = name
        self.url = url
        self.ttl = ttl
        self.every = every
        self.owned: dict[int, int] = {}  # camera id -> epoch of our lease
        self.last_renewed = time.monotonic()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._listener: Listener | None = None
        self._synced: set[int] = set()  # cameras changed by an admin elsewhere, to re-sync
        self._lock = asyncio.Lock()

    # -- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> None:
        self.plane.owns = self.owns
        self.plane.on_status = self._status
        await beat(self.ctx, self.name, "media", self.url, process_stats())
        from xueliang.notify.pg import asyncpg_dsn

        self._listener = Listener(asyncpg_dsn(self.ctx.db.url), self._received)
        await self._listener.start()
        await notify(self.ctx, "joined")  # owners above the new fair share release their surplus now
        await self.tick()
        self._task = asyncio.create_task(self._run(), name="media-leases")

    async def stop(self) -> None:
        """Stop pulling, then hand every camera back at once (others need not wait for expiry)."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._listener is not None:
            await self._listener.stop()
        async with self._lock:
            held = sorted(self.owned.items())
            self.owned.clear()  # first: the plane asks `owns` while it drops each camera
            for camera_id, _ in held:
                await self._drop(camera_id, "media process stopping")
            try:
                await self._release_rows(held)
                await leave(self.ctx, self.name)
                await notify(self.ctx, "released")
            except Exception:  # the database is gone too: the leases simply expire
                log.warning("could not hand the camera leases back; they expire in %.0f s", self.ttl)

    def owns(self, camera_id: int) -> bool:
        return camera_id in self.owned

    def ready(self) -> str | None:
        """None when this media process takes part in the lease rounds (started, its last round within
        the lease time); else why not, for /readyz (ops/metrics.py)."""
        if self._task is None or self._task.done():
            return "camera leases not started"
        late = time.monotonic() - self.last_renewed
        if late > self.ttl:
            return f"camera leases not renewed for {late:.0f} s"
        return None

    def _received(self, payload: str) -> None:
        if payload.startswith("camera:"):  # "camera:<id>:<process that changed it>"
            with contextlib.suppress(ValueError):
                self._synced.add(int(payload.split(":")[1]))
        self._wake.set()

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.every):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.tick()
            except Exception as exc:
                log.warning("camera leases: %s", exc)
                if self.owned and time.monotonic() - self.last_renewed > self.ttl * 0.6:
                    log.error("camera leases not renewed for %.1f s: stopping every camera", self.ttl * 0.6)
                    async with self._lock:
                        held = sorted(self.owned)
                        self.owned.clear()
                        for camera_id in held:
                            await self._drop(camera_id, "lease not renewed (database unreachable)")

    # -- one pass ------------------------------------------------------------------------------------

    async def tick(self) -> None:
        async with self._lock:
            await self._tick()

    async def _tick(self) -> None:
        db = self.ctx.db
        params = {"me": self.name, "ttl": self.ttl}
        async with db.session() as session:
            await session.execute(
                text(
                    "INSERT INTO node_processes (name, role, url, started_at, seen_at, stats) "
                    "VALUES (:me, 'media', :url, now(), now(), CAST(:stats AS JSON)) "
                    "ON CONFLICT (name) DO UPDATE SET seen_at = now(), stats = EXCLUDED.stats"
                ),
                {"me": self.name, "url": self.url, "stats": _json(self._stats())},
            )
            renewed = (
                await session.execute(
                    text(
                        "UPDATE camera_leases SET expires_at = now() + make_interval(secs => :ttl) "
                        "WHERE owner = :me RETURNING camera_id, epoch"
                    ),
                    params,
                )
            ).all()
            await session.execute(
                text(
                    "INSERT INTO camera_leases (camera_id, epoch, status, reason) "
                    "SELECT id, 0, '', '' FROM cameras WHERE enabled "
                    "ON CONFLICT (camera_id) DO NOTHING"
                )
            )
            members = (
                await session.execute(
                    text(
                        "SELECT count(*) FROM node_processes WHERE role = 'media' "
                        "AND seen_at > now() - make_interval(secs => :ttl)"
                    ),
                    params,
                )
            ).scalar_one()
            enabled = set(
                (await session.execute(text("SELECT id FROM cameras WHERE enabled"))).scalars().all()
            )
            await session.execute(
                text("DELETE FROM node_processes WHERE seen_at < now() - make_interval(secs => :old)"),
                {"old": self.ttl * 20},
            )
            await session.commit()
        self.last_renewed = time.monotonic()
        held = {int(cid): int(epoch) for cid, epoch in renewed}
        for camera_id, epoch in list(self.owned.items()):
            if held.get(camera_id) != epoch:  # fenced: someone else holds it now
                log.warning("camera %s: lease lost (epoch %s); stopping it", camera_id, epoch)
                del self.owned[camera_id]
                await self._drop(camera_id, "lease lost to another media process")
        for camera_id in sorted(self._synced & set(self.owned)):
            await self.plane.sync_camera(camera_id)
        self._synced.clear()
        gone = [(c, e) for c, e in self.owned.items() if c not in enabled]
        share = math.ceil(len(enabled) / max(1, int(members)))
        surplus = max(0, len(self.owned) - len(gone) - share)
        release = (
            gone + sorted(((c, e) for c, e in self.owned.items() if c in enabled), reverse=True)[:surplus]
        )
        if release:
            for camera_id, _ in release:
                del self.owned[camera_id]
                await self._drop(camera_id, "handed over to another media process")
            await self._release_rows(release)
            await notify(self.ctx, "released")
        want = share - len(self.owned)
        if want > 0:
            await self._acquire(want)

    async def _acquire(self, want: int) -> None:
        async with self.ctx.db.session() as session:
            got = (
                await session.execute(
                    text(
                        "UPDATE camera_leases SET owner = :me, epoch = epoch + 1, acquired_at = now(), "
                        "expires_at = now() + make_interval(secs => :ttl), status = 'starting', reason = '' "
                        "WHERE camera_id IN (SELECT l.camera_id FROM camera_leases l "
                        "JOIN cameras c ON c.id = l.camera_id WHERE c.enabled "
                        "AND (l.owner IS NULL OR l.expires_at < now()) "
                        "ORDER BY l.camera_id LIMIT :want FOR UPDATE OF l SKIP LOCKED) "
                        "RETURNING camera_id, epoch"
                    ),
                    {"me": self.name, "ttl": self.ttl, "want": want},
                )
            ).all()
            if got:
                await session.execute(text("SELECT pg_notify(:c, 'acquired')"), {"c": CHANNEL})
            await session.commit()
        for camera_id, epoch in sorted(got):
            self.owned[int(camera_id)] = int(epoch)
            self.plane.notes[int(camera_id)] = "taken over by this media process"
            await self.plane.sync_camera(int(camera_id))

    async def _release_rows(self, rows: list[tuple[int, int]]) -> None:
        if not rows:
            return
        async with self.ctx.db.session() as session:
            for camera_id, epoch in rows:
                await session.execute(
                    text(
                        "UPDATE camera_leases SET owner = NULL, expires_at = NULL, status = '', "
                        "reason = :why WHERE camera_id = :cid AND owner = :me AND epoch = :epoch"
                    ),
                    {"cid": camera_id, "me": self.name, "epoch": epoch, "why": "released"},
                )
            await session.commit()

    async def _drop(self, camera_id: int, reason: str) -> None:
        """Stop pulling and recording the camera here (the recorder closes its segment, opens a gap)."""
        self.plane.notes[camera_id] = reason
        try:
            await self.plane.sync_camera(camera_id)
        except Exception:
            log.exception("camera %s: could not stop it cleanly", camera_id)

    # -- status for the system page ------------------------------------------------------------------

    def _stats(self) -> dict[str, Any]:
        return {**process_stats(), "cameras": len(self.owned)}

    async def _status(self, camera_id: int, status: str, reason: str) -> None:
        """The owner writes its camera's health into the lease row, so every process sees it."""
        epoch = self.owned.get(camera_id)
        if epoch is None:
            return
        with contextlib.suppress(Exception):
            async with self.ctx.db.session() as session:
                await session.execute(
                    text(
                        "UPDATE camera_leases SET status = :s, reason = :r "
                        "WHERE camera_id = :cid AND owner = :me AND epoch = :epoch"
                    ),
                    {"s": status, "r": reason[:200], "cid": camera_id, "me": self.name, "epoch": epoch},
                )
                await session.commit()
