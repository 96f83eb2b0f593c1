"""Privacy masks in the plane: which cameras have masks, their masked variants in the engine while
someone who must see them masked watches, and masked stills.

A masked variant is an engine camera of its own, `masked_id(camera)` (the camera's id plus 900,000,000:
nine digits, what the RTSP re-serve's URLs take; camera ids stay far below it),
whose source is `mask://<camera>` (media/mask): a listener on the camera's channel, a worker thread
that decodes, fills and re-encodes. Being an engine camera gives it a channel with a GOP cache, and the
live WebSocket, LL-HLS and RTSP re-serve serve it without knowing masks exist. Stream tokens are
bound to the id they were issued for, so a token for the masked variant never opens the original. The
variant is added when a masked viewer is given URLs, and removed once nobody has used it for
`idle_seconds` (its worker thread and decoder go with it).

A PTZ camera's variant fills the set of the preset our last PTZ command sent it to, and the whole
picture while it was moved by hand (media/mask/presets.py decides at each frame); the PTZ routes'
`PtzMoved` reaches `_moved` before the device is told to move."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from xueliang.accounts.policy import Principal
from xueliang.cameras import masks as camera_masks
from xueliang.cameras.masks import MasksChanged, PtzMoved
from xueliang.cameras.models import Camera
from xueliang.media.engine import CameraSpec, MediaEngine
from xueliang.media.errors import MediaError
from xueliang.media.mask import MaskedSource, MaskedSourceConfig, Polygons
from xueliang.media.mask.presets import FULL_FRAME, MaskSets, Position, mask_sets, polygons_for
from xueliang.media.mask.source import SCHEME
from xueliang.media.mask.transcode import masked_still
from xueliang.media.still import NoPicture, Still, latest_keyframe

if TYPE_CHECKING:
    from xueliang.media.plane.plane import MediaPlane

log = logging.getLogger(__name__)

MASKED_BASE = 900_000_000  # variant ids: 9 digits at most, as RTSP URLs take (restream parse_target)


def masked_id(camera_id: int) -> int:
    return MASKED_BASE + camera_id


def is_masked_id(engine_id: int) -> bool:
    return engine_id >= MASKED_BASE


def original_id(engine_id: int) -> int:
    """The camera an engine id stands for (itself, or the camera a masked variant is made from)."""
    return engine_id - MASKED_BASE if engine_id >= MASKED_BASE else engine_id


def _in_use(engine: MediaEngine, engine_id: int) -> bool:
    """Whether anyone consumes the variant: a WebSocket or RTSP viewer, or an HLS packager (the engine
    drops an HLS packager `hls_idle` seconds after its last request)."""
    if engine.health(engine_id).viewers > 0:
        return True
    camera = engine._cameras.get(engine_id)
    return camera is not None and camera.hls is not None


class PlaneMasks:
    """Installed by the plane (`plane.masks`): a plane hook (loads masks at start, drops a re-synced
    camera's variant, stops every variant at shutdown) and the `mask://` source scheme."""

    def __init__(self, plane: MediaPlane, *, idle_seconds: float = 30.0, sweep_every: float = 5.0) -> None:
        self.plane = plane
        self.idle_seconds = idle_seconds
        self.sweep_every = sweep_every
        self.config = MaskedSourceConfig()
        self._sets: dict[int, MaskSets] = {}
        self._positions: dict[int, Position] = {}  # where our last PTZ command left each camera
        self._used: dict[int, float] = {}  # masked engine id -> monotonic time of the last URL handed out
        self._sweeper: asyncio.Task[None] | None = None
        self._reloads: set[asyncio.Task[None]] = set()
        self._stills: dict[int, tuple[tuple[int, int, Polygons], Still]] = {}
        self._pool: ThreadPoolExecutor | None = None
        plane.hooks.append(self)
        plane.schemes.register(SCHEME, self._source)
        plane.ctx.events.subscribe(MasksChanged, self._changed)
        plane.ctx.events.subscribe(PtzMoved, self._moved)

    # -- polygons ------------------------------------------------------------------------------------

    def polygons(self, camera_id: int) -> Polygons:
        """What the camera's masked pictures fill now (empty: nothing, or no masks known here)."""
        sets = self._sets.get(camera_id)
        if sets is None:
            return ()
        now = self.plane.ctx.clock.now().timestamp()
        return polygons_for(sets, self._positions.get(camera_id), now)

    def has_masks(self, camera_id: int) -> bool:
        sets = self._sets.get(camera_id)
        return sets is not None and sets.masked

    def _position(self, camera_id: int, position: Position) -> None:
        """Keep the newer of what we know and `position` (an event and a re-read may cross)."""
        known = self._positions.get(camera_id)
        if known is None or (position.at, position.id) >= (known.at, known.id):
            self._positions[camera_id] = position

    async def reload(self, camera_ids: Sequence[int] | None = None) -> None:
        """Re-read masks and PTZ positions from the database (all cameras, or the given ones)."""
        async with self.plane.ctx.db.read_session() as session:
            found = await camera_masks.stored_sets(session, camera_ids)
            positions = await camera_masks.latest_positions(session, camera_ids)
        fresh: dict[int, MaskSets] = {}
        for camera_id, stored in found.items():
            if stored.ptz and stored.relayed and stored.masked:
                # Where a child's dome points is known at the child only (its positions stay there, and
                # its own viewers get its preset's set): filled whole here, never a stale default set.
                fresh[camera_id] = MaskSets(FULL_FRAME, {}, False, True)
                continue
            try:
                fresh[camera_id] = mask_sets(stored.default, stored.presets, stored.ptz, stored.masked)
            except ValueError:  # a malformed stored polygon: hide everything rather than nothing
                log.warning("camera %s: unreadable privacy masks, the whole picture is filled", camera_id)
                fresh[camera_id] = MaskSets(FULL_FRAME, {}, False, True)
        if camera_ids is None:
            self._sets = fresh
        else:
            for camera_id in camera_ids:
                if camera_id in fresh:
                    self._sets[camera_id] = fresh[camera_id]
                else:
                    self._sets.pop(camera_id, None)
        for camera_id, (at, preset, row_id) in positions.items():
            self._position(camera_id, Position(at.timestamp(), preset, row_id))
        for camera_id in list(self._stills):
            if camera_ids is None or camera_id in camera_ids:
                self._stills.pop(camera_id, None)

    async def _changed(self, event: MasksChanged) -> None:
        await self.reload([event.camera_id])

    async def _moved(self, event: PtzMoved) -> None:
        """A PTZ command of this process: the variant's next frame gets the new position's set."""
        self._position(event.camera_id, Position(event.at.timestamp(), event.preset, event.position_id))
        self._stills.pop(event.camera_id, None)

    # -- who gets what --------------------------------------------------------------------------------

    def filter_allowed(
        self, principal: Principal, requested: frozenset[int], allowed: frozenset[int]
    ) -> frozenset[int]:
        """`requested` engine ids the user may watch, given the cameras the policy allows: a masked
        variant when its camera is allowed; a camera itself only when it has no masks or the user
        may see it unmasked (so a mask drawn while someone watches ends their unmasked stream at the
        next re-check)."""
        out: set[int] = set()
        for engine_id in requested:
            camera_id = original_id(engine_id)
            if camera_id not in allowed:
                continue
            if is_masked_id(engine_id) or not (
                self.has_masks(camera_id) and camera_masks.sees_masked(principal)
            ):
                out.add(engine_id)
        return frozenset(out)

    def ensure(self, camera_id: int) -> int:
        """The engine id of the camera's masked variant, added to the engine if it is not there."""
        if camera_id >= MASKED_BASE:
            raise ValueError(f"camera id {camera_id} is in the range of masked variants")
        engine_id = masked_id(camera_id)
        engine = self.plane.engine
        self._used[engine_id] = time.monotonic()
        if not engine.has_camera(engine_id) and engine.has_camera(camera_id):
            if not self.has_masks(camera_id):
                self._reload_soon(camera_id)  # drawn through another process since the last sweep
            engine.add_camera(CameraSpec(engine_id, f"{SCHEME}://{camera_id}", f"masked {camera_id}"))
        return engine_id

    def _reload_soon(self, camera_id: int) -> None:
        """Read one camera's masks now rather than at the next sweep (the variant fills the whole
        picture until they are known)."""

        async def reload() -> None:
            try:
                await self.reload([camera_id])
            except Exception:  # the sweep tries again
                log.exception("camera %s: reading its privacy masks failed", camera_id)

        try:
            task = asyncio.get_running_loop().create_task(reload())
        except RuntimeError:  # no loop (a synchronous caller): the sweep reads them
            return
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    def _variant_polygons(self, camera_id: int) -> Polygons:
        """What the masked variant fills: the set in force for where the camera points, or the whole
        picture while its masks are not known here yet (fail closed: a variant exists only because
        the database said it has masks)."""
        sets = self._sets.get(camera_id)
        if sets is None or not sets.masked:
            return FULL_FRAME
        return self.polygons(camera_id)

    def _source(self, url: str, read_timeout: float) -> MaskedSource:
        return MaskedSource(url, self.plane.engine.channel, self._variant_polygons, self.config)

    # -- stills --------------------------------------------------------------------------------------

    async def still(self, camera_id: int, width: int = 320) -> Still:
        """The camera's latest keyframe with its masks filled, as a small JPEG; raises NoPicture."""
        try:
            channel = self.plane.engine.channel(camera_id)
        except KeyError:
            raise NoPicture("the camera is not pulled by the media engine") from None
        found = latest_keyframe(channel)
        if found is None:
            raise NoPicture("no keyframe yet (the camera is offline or starting)")
        init, frag = found
        if not self.has_masks(camera_id):
            await self.reload([camera_id])  # drawn in another process since the last sweep
        polygons = self._variant_polygons(camera_id)
        key = (frag.epoch, frag.index, polygons)  # a PTZ move changes the polygons: a fresh still
        cached = self._stills.get(camera_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mask-still")
        loop = asyncio.get_running_loop()
        try:
            jpeg, w, h = await loop.run_in_executor(
                self._pool, masked_still, init.data + frag.data, polygons, width
            )
        except MediaError as exc:
            raise NoPicture(str(exc)) from None
        still = Still(jpeg, w, h, channel.last_keyframe_at)
        self._stills[camera_id] = (key, still)
        return still

    # -- plane hook ----------------------------------------------------------------------------------

    async def plane_started(self, plane: MediaPlane, cameras: Sequence[Camera]) -> None:
        await self.reload()
        self._sweeper = asyncio.create_task(self._sweep(), name="media-mask-sweeper")

    async def camera_changed(self, plane: MediaPlane, camera_id: int, camera: Camera | None) -> None:
        """The camera was re-synced (its channel replaced or gone): its variant starts again on demand."""
        await self._drop(masked_id(camera_id))

    async def plane_stopping(self, plane: MediaPlane) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
        for engine_id in list(self._used):
            await self._drop(engine_id)
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    async def _drop(self, engine_id: int) -> None:
        self._used.pop(engine_id, None)
        if self.plane.engine.has_camera(engine_id):
            await self.plane.engine.remove_camera(engine_id)

    async def sweep_once(self) -> None:
        """Remove variants nobody watches; re-read masks (another process may have changed them)."""
        now = time.monotonic()
        engine = self.plane.engine
        for engine_id, used in list(self._used.items()):
            if not engine.has_camera(engine_id):
                self._used.pop(engine_id, None)
                continue
            if now - used >= self.idle_seconds and not _in_use(engine, engine_id):
                log.info("camera %s: masked variant stopped (no viewer)", original_id(engine_id))
                await self._drop(engine_id)
        try:
            await self.reload()
        except Exception:
            log.exception("re-reading privacy masks failed")

    async def _sweep(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_every)
            await self.sweep_once()
