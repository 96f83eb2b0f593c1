"""The status of cameras the plane pulls only on demand (cameras hosted by a child node, `node://`):
while nobody watches, nothing is pulled, so the engine alone would show such a camera as "starting"
for ever. The owner's reported status (it travels up with the catalog; the federation keeps the last
one, `RemoteCameras.statuses`) stands in while the camera is idle; while it is pulled the engine's own
status is the live one (`MediaEngine.report_status` ignores reports then)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from xueliang.cameras.events import CameraStatusChanged
from xueliang.cameras.models import Camera
from xueliang.cameras.remote import RemoteCameras
from xueliang.media.engine import CameraStatus, HealthEvent

if TYPE_CHECKING:
    from xueliang.media.plane.plane import MediaPlane

log = logging.getLogger(__name__)
REPORTED = "reported by the owner node"


class RelayedStatus:
    """A plane hook: applies reported statuses at start, when a camera is (re)added, and as they come."""

    def __init__(self, plane: MediaPlane) -> None:
        self.plane = plane
        self._known: dict[int, tuple[str, str]] = {}  # camera id -> (status, who said it)
        self._echo: set[tuple[int, str]] = set()  # engine events that only repeat a report
        plane.hooks.append(self)
        plane.ctx.events.subscribe(CameraStatusChanged, self._reported)

    def echo(self, event: HealthEvent) -> bool:
        """Whether this engine event is a report we applied (already announced: not announced again)."""
        key = (event.camera_id, event.status.value)
        if key in self._echo:
            self._echo.discard(key)
            return True
        return False

    def _apply(self, camera_id: int) -> None:
        found = self._known.get(camera_id)
        engine = self.plane.engine
        if found is None or not engine.has_camera(camera_id):
            return
        status, source = found
        if engine.health(camera_id).status.value == status:
            return
        if engine.report_status(camera_id, CameraStatus(status), f"{source}: {REPORTED}"):
            self._echo.add((camera_id, status))  # announced already (by whoever reported it)

    async def _reported(self, event: CameraStatusChanged) -> None:
        if not event.reported or event.status not in ("online", "offline"):
            return
        spec = self.plane.engine.spec(event.camera_id)
        if spec is None or not spec.on_demand:
            return
        self._known[event.camera_id] = (event.status, event.reason)
        self._apply(event.camera_id)

    async def _load(self, camera_ids: Sequence[int]) -> None:
        remote = self.plane.ctx.services.get(RemoteCameras)
        if remote is None or not camera_ids:
            return
        try:
            found = await remote.statuses(camera_ids)
        except Exception:
            log.exception("reading the reported status of relayed cameras failed")
            return
        for camera_id, (status, source) in found.items():
            self._known[camera_id] = (status, source)
            self._apply(camera_id)

    # -- plane hook ----------------------------------------------------------------------------------

    async def plane_started(self, plane: MediaPlane, cameras: Sequence[Camera]) -> None:
        await self._load([c.id for c in cameras if plane.schemes.on_demand(c.stream_url)])

    async def camera_changed(self, plane: MediaPlane, camera_id: int, camera: Camera | None) -> None:
        spec = plane.engine.spec(camera_id)
        if spec is None or not spec.on_demand:
            self._known.pop(camera_id, None)
            return
        if camera_id in self._known:
            self._apply(camera_id)
        else:
            await self._load([camera_id])

    async def plane_stopping(self, plane: MediaPlane) -> None:
        return None
