"""The offline base layer's file: written TMS-style, read XYZ (row flipped), read-only, None for a
missing tile; and Pillow's drawing of a small hand-made county lands its village where web Mercator
puts it (the tile holding the village's centre is not bare land)."""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
from PIL import Image

from xueliang.grid import basemap, mbtiles


def test_write_flip_read(tmp_path: Path) -> None:
    path = tmp_path / "m.mbtiles"
    count = mbtiles.write(
        path, {"name": "t", "format": "png"}, [(3, 5, 1, b"a"), (3, 5, 6, b"b"), (0, 0, 0, b"w")]
    )
    assert count == 3
    raw = sqlite3.connect(path)
    # MBTiles rows are TMS: XYZ row 1 at zoom 3 is stored as 8 - 1 - 1 = 6
    assert raw.execute("SELECT tile_data FROM tiles WHERE zoom_level=3 AND tile_row=6").fetchone()[0] == b"a"
    raw.close()
    tiles = mbtiles.MBTiles(path)
    assert tiles.tile(3, 5, 1) == b"a" and tiles.tile(3, 5, 6) == b"b" and tiles.tile(0, 0, 0) == b"w"
    assert tiles.tile(3, 4, 1) is None and tiles.tile(3, 8, 1) is None and tiles.tile(31, 0, 0) is None
    assert tiles.metadata()["name"] == "t"
    with pytest.raises(sqlite3.OperationalError):  # opened read-only
        tiles._db.execute("DELETE FROM tiles")
    tiles.close()
    assert not list(tmp_path.glob(".*.tmp"))  # written aside, renamed over


def test_render_a_village(tmp_path: Path) -> None:
    lon, lat = 103.84, 31.7
    d = 0.01
    ring = [
        (lon - d, lat - d),
        (lon + d, lat - d),
        (lon + d, lat + d),
        (lon - d, lat + d),
        (lon - d, lat - d),
    ]
    sketch = basemap.Sketch(
        areas=[("village", [ring])],
        points=[("settlement", lon, lat), ("household", lon, lat)],
        labels=[("village", "上坪村", lon, lat - 0.004)],
    )
    path = tmp_path / "b.mbtiles"
    n = basemap.build(path, sketch, zooms=(12, 14))
    tiles = mbtiles.MBTiles(path)
    assert n == len(list(sqlite3.connect(path).execute("SELECT 1 FROM tiles")))
    for z in (12, 14):
        px, py = basemap.world_px(lon, lat, z)
        x, y = int(px // 256), int(py // 256)
        data = tiles.tile(z, x, y)
        assert data is not None
        img = Image.open(io.BytesIO(data)).convert("RGB")
        assert img.size == (256, 256)
        assert img.getpixel((int(px % 256), int(py % 256))) == basemap.PLACE["settlement"]
        # a tile two tiles' margin away is not in the file: the layer covers the county, not the world
        assert tiles.tile(z, x + 4, y) is None
    assert tiles.metadata()["maxzoom"] == "14"
    if basemap._font_file() is not None:  # the village's name, written in a CJK font where one is installed
        px, py = basemap.world_px(lon, lat - 0.004, 14)
        img = Image.open(io.BytesIO(tiles.tile(14, int(px // 256), int(py // 256)) or b"")).convert("RGB")
        assert basemap.TEXT in {c for _, c in img.getcolors(256) or []}
