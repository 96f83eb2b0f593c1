"""Polygons in picture-relative coordinates (0..1 from the top-left) and the pixel masks they cover.

A pixel is masked when its centre is inside a polygon (even-odd rule), and a chroma sample when any of
the luma pixels it spans is: the masked region is never smaller than the polygon, so no colour of a
masked pixel survives in its neighbour's chroma."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy.typing as npt

Point = tuple[float, float]
Polygon = tuple[Point, ...]
Polygons = tuple[Polygon, ...]

MAX_POINTS = 64
MAX_POLYGONS = 32


def normalise(polygons: Iterable[Sequence[Sequence[float]]]) -> Polygons:
    """Hashable polygons with every coordinate clamped to 0..1; raises ValueError for fewer than three
    points, more than `MAX_POINTS`, or a coordinate that is not a finite number."""
    out: list[Polygon] = []
    for polygon in polygons:
        points: list[Point] = []
        for point in polygon:
            if len(point) != 2:
                raise ValueError("a point is [x, y]")
            x, y = float(point[0]), float(point[1])
            if not (x == x and y == y) or abs(x) == float("inf") or abs(y) == float("inf"):
                raise ValueError("coordinates must be finite numbers")
            points.append((min(1.0, max(0.0, x)), min(1.0, max(0.0, y))))
        if not 3 <= len(points) <= MAX_POINTS:
            raise ValueError(f"a polygon has 3..{MAX_POINTS} points")
        out.append(tuple(points))
    if len(out) > MAX_POLYGONS:
        raise ValueError(f"at most {MAX_POLYGONS} polygons per camera")
    return tuple(out)


@lru_cache(maxsize=64)
def luma_mask(polygons: Polygons, width: int, height: int) -> npt.NDArray[Any]:
    """Boolean (height, width): the pixels whose centre lies inside any polygon. Cached: a camera's
    masks and picture size change rarely, so the raster is computed once per stream."""
    import numpy as np

    ys = (np.arange(height, dtype=np.float64)[:, None] + 0.5) / height
    xs = (np.arange(width, dtype=np.float64)[None, :] + 0.5) / width
    covered = np.zeros((height, width), dtype=bool)
    for polygon in polygons:
        inside = np.zeros((height, width), dtype=bool)
        count = len(polygon)
        for i in range(count):
            x1, y1 = polygon[i]
            x2, y2 = polygon[(i + 1) % count]
            if y1 == y2:
                continue  # a horizontal edge never crosses a ray along x
            crosses = (y1 > ys) != (y2 > ys)  # (height, 1)
            x_at = x1 + (ys - y1) * (x2 - x1) / (y2 - y1)  # (height, 1)
            inside ^= crosses & (xs < x_at)
        covered |= inside
    covered.setflags(write=False)
    return covered


@lru_cache(maxsize=64)
def chroma_mask(polygons: Polygons, width: int, height: int) -> npt.NDArray[Any]:
    """Boolean (ceil(height/2), ceil(width/2)): a 4:2:0 chroma sample is masked when any luma pixel it
    spans is."""
    import numpy as np

    luma = luma_mask(polygons, width, height)
    padded = np.zeros((height + height % 2, width + width % 2), dtype=bool)
    padded[:height, :width] = luma
    out = padded[0::2, 0::2] | padded[1::2, 0::2] | padded[0::2, 1::2] | padded[1::2, 1::2]
    out.setflags(write=False)
    return out
