"""The offline base layer drawn from the county's own data, so the demo (and a node with no internet
and no map file of its own) shows something under the routes: village and township areas, grid lines,
settlements, village exits and households, and their names where a CJK font is installed, as
web-Mercator PNG tiles in an MBTiles file (grid/mbtiles.py). Pillow draws them; a few zoom levels
only (Leaflet scales the last one up), so a county takes about a second. It runs in a thread, once,
when a node with the "offline" source has no file yet; the file is never committed."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.grid import mbtiles
from xueliang.regions.models import Household, Place, Region, RegionLevel

TILE = 256
LAND = (242, 239, 233)
FILL = {"county": (236, 233, 224), "township": (233, 238, 226), "village": (220, 236, 214), "grid": None}
EDGE = {
    "county": (150, 140, 120),
    "township": (130, 150, 120),
    "village": (107, 143, 113),
    "grid": (170, 190, 170),
}
PLACE = {"settlement": (150, 105, 60), "exit": (112, 72, 232)}
HOUSE = (190, 175, 160)

Ring = list[tuple[float, float]]  # (lon, lat)
# names on the map where a CJK font is installed (fonts-noto-cjk, wqy); without one, no labels
FONTS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
# which names show from which zoom, and their size in pixels
LABEL_ZOOM = {"township": (10, 13), "village": (12, 14), "settlement": (15, 12)}
TEXT = (60, 70, 60)


@dataclass
class Sketch:
    """What the base layer shows, in WGS 84: areas by level (each a list of rings, outer first) and
    points by kind."""

    areas: list[tuple[str, list[Ring]]] = field(default_factory=list)
    points: list[tuple[str, float, float]] = field(default_factory=list)
    labels: list[tuple[str, str, float, float]] = field(default_factory=list)  # (kind, name, lon, lat)

    def bounds(self) -> tuple[float, float, float, float] | None:
        lons = [lon for _, rings in self.areas for ring in rings for lon, _ in ring]
        lats = [lat for _, rings in self.areas for ring in rings for _, lat in ring]
        lons += [lon for _, lon, _ in self.points]
        lats += [lat for _, _, lat in self.points]
        if not lons:
            return None
        return min(lons), min(lats), max(lons), max(lats)


def world_px(lon: float, lat: float, z: int) -> tuple[float, float]:
    """Web-Mercator pixel of a WGS 84 position at zoom z (the whole world is 256·2^z pixels)."""
    n = TILE * (1 << z)
    lat = max(-85.05112878, min(85.05112878, lat))
    s = math.sin(math.radians(lat))
    return (lon + 180.0) / 360.0 * n, (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * n


def rings_of(geometry: dict[str, Any] | None) -> list[list[Ring]]:
    """GeoJSON Polygon / MultiPolygon -> polygons as lists of rings."""
    if not geometry:
        return []
    coords = geometry.get("coordinates") or []
    polygons = (
        [coords]
        if geometry.get("type") == "Polygon"
        else coords
        if geometry.get("type") == "MultiPolygon"
        else []
    )
    return [[[(float(p[0]), float(p[1])) for p in ring] for ring in poly] for poly in polygons]


def _font_file() -> str | None:
    return next((f for f in FONTS if Path(f).is_file()), None)


def render(sketch: Sketch, zooms: Sequence[int] = range(10, 16)) -> Iterator[tuple[int, int, int, bytes]]:
    """XYZ tiles (z, x, y, PNG) covering the sketch's bounds (plus a tile's margin) at each zoom."""
    from PIL import Image, ImageDraw, ImageFont  # Pillow only where tiles are drawn

    font_file = _font_file()
    fonts = (
        {size: ImageFont.truetype(font_file, size) for _, size in LABEL_ZOOM.values()} if font_file else {}
    )

    box = sketch.bounds()
    if box is None:
        return
    order = {"county": 0, "township": 1, "village": 2, "grid": 3}
    areas = sorted(sketch.areas, key=lambda a: order.get(a[0], 9))
    # a palette image: colours are indexes, no quantizing, small PNGs
    colours = [
        LAND,
        *(c for c in FILL.values() if c),
        *EDGE.values(),
        *PLACE.values(),
        HOUSE,
        (120, 120, 120),
        TEXT,
    ]
    index = {c: i for i, c in reversed(list(enumerate(colours)))}
    palette = [v for c in colours for v in c]
    # households under the named places
    ordered = sorted(sketch.points, key=lambda p: p[0] != "household")
    for z in zooms:
        x0, y0 = world_px(box[0], box[3], z)
        x1, y1 = world_px(box[2], box[1], z)
        tx0, ty0 = int(x0 // TILE) - 1, int(y0 // TILE) - 1
        tx1, ty1 = int(x1 // TILE) + 1, int(y1 // TILE) + 1
        projected = []
        for level, rings in areas:
            pr = [[world_px(lon, lat, z) for lon, lat in ring] for ring in rings]
            xs = [x for ring in pr for x, _ in ring]
            ys = [y for ring in pr for _, y in ring]
            if pr and len(pr[0]) >= 3:
                projected.append((level, pr, (min(xs), min(ys), max(xs), max(ys))))
        pts = [(kind, *world_px(lon, lat, z)) for kind, lon, lat in ordered]
        names = []
        for kind, name, lon, lat in sketch.labels if fonts else ():
            from_zoom, size = LABEL_ZOOM.get(kind, (99, 0))
            if z >= from_zoom:
                font = fonts[size]
                width = draw_width(font, name)
                px, py = world_px(lon, lat, z)
                dy = size if kind == "settlement" else -size / 2  # a settlement's name under its square
                names.append((name, font, px - width / 2, py + dy, width, size))
        limit = (1 << z) - 1
        for tx in range(max(tx0, 0), min(tx1, limit) + 1):
            for ty in range(max(ty0, 0), min(ty1, limit) + 1):
                ox, oy = tx * TILE, ty * TILE
                img = Image.new("P", (TILE, TILE), 0)
                img.putpalette(palette)
                draw = ImageDraw.Draw(img)
                for level, rings, (bx0, by0, bx1, by1) in projected:
                    if bx1 < ox - 2 or by1 < oy - 2 or bx0 > ox + TILE + 2 or by0 > oy + TILE + 2:
                        continue  # not on this tile
                    shifted = [[(x - ox, y - oy) for x, y in ring] for ring in rings]
                    fill = FILL.get(level)
                    if fill is not None:
                        draw.polygon(shifted[0], fill=index[fill])
                        for hole in shifted[1:]:
                            draw.polygon(hole, fill=0)
                    width = 1 if level == "grid" or z < 12 else 2
                    edge = index[EDGE.get(level, (120, 120, 120))]
                    for ring in shifted:
                        draw.line([*ring, ring[0]], fill=edge, width=width)
                for kind, px, py in pts:
                    x, y = px - ox, py - oy
                    if not (-8 <= x <= TILE + 8 and -8 <= y <= TILE + 8):
                        continue
                    if kind == "household":
                        if z >= 14:
                            r = 1 if z < 15 else 2
                            draw.rectangle((x - r, y - r, x + r, y + r), fill=index[HOUSE])
                    else:
                        r = 2 + max(0, z - 12)
                        colour = index[PLACE.get(kind, (120, 120, 120))]
                        draw.rectangle((x - r, y - r, x + r, y + r), fill=colour)
                for name, font, lx, ly, width, size in names:
                    x, y = lx - ox, ly - oy
                    if -width <= x <= TILE and -size * 2 <= y <= TILE:
                        draw.text((x, y), name, font=font, fill=index[TEXT], stroke_width=2, stroke_fill=0)
                buf = io.BytesIO()
                img.save(buf, format="PNG", compress_level=6)
                yield z, tx, ty, buf.getvalue()


def draw_width(font: Any, text: str) -> float:
    left, _, right, _ = font.getbbox(text)
    return float(right - left)


async def county_sketch(session: AsyncSession) -> Sketch:
    """The whole tree's boundaries, places and household points as they are in the database."""
    sketch = Sketch()
    regions = await session.execute(
        select(Region.level, Region.boundary, Region.name, Region.lon, Region.lat)
    )
    for level, boundary, r_name, r_lon, r_lat in regions.all():
        name = level.value if isinstance(level, RegionLevel) else str(level)
        for rings in rings_of(boundary):
            sketch.areas.append((name, rings))
        if name in LABEL_ZOOM and r_lon is not None and r_lat is not None:
            sketch.labels.append((name, str(r_name), float(r_lon), float(r_lat)))
    places = await session.execute(select(Place.kind, Place.lon, Place.lat, Place.name))
    for kind, lon, lat, p_name in places.all():
        sketch.points.append((str(kind), float(lon), float(lat)))
        if kind in LABEL_ZOOM:
            sketch.labels.append((str(kind), str(p_name), float(lon), float(lat)))
    rows = await session.execute(
        select(Household.lon, Household.lat).where(Household.lon.is_not(None), Household.lat.is_not(None))
    )
    for h_lon, h_lat in rows.all():
        if h_lon is not None and h_lat is not None:
            sketch.points.append(("household", float(h_lon), float(h_lat)))
    return sketch


def build(path: Path, sketch: Sketch, zooms: Sequence[int] = range(10, 16)) -> int:
    """Draws and writes the file (blocking: run it in a thread); the number of tiles."""
    box = sketch.bounds()
    meta = {
        "name": "Xueliang county base map",
        "format": "png",
        "type": "baselayer",
        "version": "1",
        "minzoom": str(min(zooms)),
        "maxzoom": str(max(zooms)),
        "attribution": "County base map (own data)",
    }
    if box is not None:
        meta["bounds"] = ",".join(f"{v:.6f}" for v in box)
        meta["center"] = f"{(box[0] + box[2]) / 2:.6f},{(box[1] + box[3]) / 2:.6f},{min(zooms) + 3}"
    return mbtiles.write(path, meta, render(sketch, zooms))
