"""Which mask set a PTZ camera's picture gets: the set of the preset it was sent to, the whole picture
while we cannot say where it points, and the default set for a fixed camera or one we never moved.

Pure and shared by live video (the plane asks at each frame) and recordings (asked at each frame's
recorded time), so live and playback can never disagree. Times are Unix seconds. Fail closed: a camera
moved by hand, still on its way to a preset, or at a preset without a set in force is filled whole
(ADR 0012, addendum)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from xueliang.media.mask.raster import Polygons, normalise

FULL_FRAME: Polygons = (((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)),)
SETTLE_SECONDS = 2.0  # after a preset call is taken: a dome may still be turning, the picture still old


@dataclass(frozen=True, slots=True)
class Position:
    """Where one of our PTZ commands left the camera, from `at` on (`preset` None: moved by hand, or
    on its way to a preset the device has not yet taken). `id` orders positions of the same time."""

    at: float
    preset: int | None
    id: int = 0


@dataclass(frozen=True, slots=True)
class MaskSets:
    """A camera's masks: the default set and, for a PTZ camera, the preset sets in force (a preset
    missing here has no set, or one drawn before the preset was saved again). `masked`: whether it
    has any area to hide in any set, in force or not (then masked viewers get the masked variant)."""

    default: Polygons = ()
    presets: Mapping[int, Polygons] = field(default_factory=dict)
    ptz: bool = False
    masked: bool = False

    def __hash__(self) -> int:
        return hash((self.default, tuple(sorted(self.presets.items())), self.ptz, self.masked))


def mask_sets(
    default: Iterable[Any], presets: Mapping[int, Iterable[Any]], ptz: bool, masked: bool
) -> MaskSets:
    """MaskSets from stored polygons (lists of [x, y]); raises ValueError for a malformed polygon."""
    sets = {n: normalise(polys) for n, polys in presets.items()} if ptz else {}
    return MaskSets(normalise(default), sets, ptz, masked)


def polygons_for(
    sets: MaskSets, position: Position | None, now: float, settle: float = SETTLE_SECONDS
) -> Polygons:
    """What to fill in a picture taken at `now`, the camera last positioned at `position`."""
    if not sets.ptz or position is None:
        return sets.default  # a fixed camera, or a dome none of our commands has moved
    if position.preset is None or now < position.at + settle:
        return FULL_FRAME
    return sets.presets.get(position.preset, FULL_FRAME)


@dataclass(frozen=True, slots=True)
class MaskTimeline:
    """A camera's masks over a span of recorded time: its sets and the positions recorded in the span
    (the last one before it first). Hashable, so masked chunks can be cached per timeline."""

    sets: MaskSets
    positions: tuple[Position, ...] = ()
    settle: float = SETTLE_SECONDS

    def at(self, when: float) -> Polygons:
        """The polygons in force at `when` (Unix seconds)."""
        index = bisect_right([p.at for p in self.positions], when)
        return polygons_for(self.sets, self.positions[index - 1] if index else None, when, self.settle)


def latest(positions: Sequence[Position]) -> Position | None:
    """The newest of some positions (by time, then id), or None."""
    return max(positions, key=lambda p: (p.at, p.id), default=None)
