"""Baidu's own plane (BD09MC) and tile numbering against Baidu's published figures: the JavaScript API's
`BMap.MercatorProjection().lngLatToPoint` gives (12958175, 4825923.77) for Tian'anmen at BD-09
(116.404, 39.915) (quoted in the leaflet-baidu README); at zoom 18 a pixel is one metre, tiles are
256 px counted from (0 °E, equator) with y north, so that point lies in tile (50617, 18851) at zoom 18
and (3163, 1178) at zoom 14; the southern and western hemispheres count negative. The map's copy of
the arithmetic (static/js/grid/coords.js) is checked on the same figures in tests/browser/test_grid_web.py."""

from __future__ import annotations

import pytest

from xueliang.grid import bd09mc, coords
from xueliang.grid.config import GridSettings
from xueliang.grid.tiles import layers, tile_hosts

TIANANMEN_BD09 = (116.404, 39.915)
TIANANMEN_MC = (12958175.0, 4825923.77)


def test_published_point_and_its_tiles() -> None:
    assert bd09mc.bd09_to_metres(*TIANANMEN_BD09) == pytest.approx(TIANANMEN_MC, abs=0.01)
    assert bd09mc.tile_of_metres(*TIANANMEN_MC, 18) == (50617, 18851)
    assert bd09mc.tile_of_metres(*TIANANMEN_MC, 14) == (3163, 1178)
    assert bd09mc.tile_of_metres(-1.0, -1.0, 10) == (-1, -1)  # west of 0° / south of the equator
    # Baidu's inverse polynomials bring the point back to within about a centimetre (2e-7° ≈ 2 cm)
    assert bd09mc.metres_to_bd09(*TIANANMEN_MC) == pytest.approx(TIANANMEN_BD09, abs=2e-7)


def test_bands_and_our_wgs84_positions() -> None:
    # over China (below 54°N) each latitude band meets the next within half a metre of northing
    # (Baidu's own polynomials step by ~15 m at 60°N, far north of any county)
    for edge in (15.0, 30.0, 45.0):
        below = bd09mc.bd09_to_metres(110.0, edge - 1e-9)[1]
        above = bd09mc.bd09_to_metres(110.0, edge)[1]
        assert abs(above - below) < 0.5, edge
    # latitudes past 74° are clamped, as Baidu does; longitudes wrap
    assert bd09mc.bd09_to_metres(100.0, 80.0) == bd09mc.bd09_to_metres(100.0, 74.0)
    assert bd09mc.bd09_to_metres(-250.0, 30.0) == pytest.approx(bd09mc.bd09_to_metres(110.0, 30.0))
    # a demo-county position goes WGS 84 → BD-09 → metres → tile, and back within 0.1 m (1e-6°)
    lon, lat = 103.84, 31.7
    x, y = bd09mc.bd09_to_metres(*coords.wgs84_to_bd09(lon, lat))
    assert bd09mc.tile_of_wgs84(lon, lat, 15) == bd09mc.tile_of_metres(x, y, 15)
    assert coords.bd09_to_wgs84(*bd09mc.metres_to_bd09(x, y)) == pytest.approx((lon, lat), abs=1e-6)


def test_baidu_tile_source() -> None:
    baidu = layers(GridSettings(basemap="baidu"))
    assert baidu["crs"] == "bd09mc" and baidu["source"] == "baidu"
    assert "x={x}&y={y}&z={z}" in baidu["layers"][0]["url"]
    assert tile_hosts(GridSettings(basemap="baidu")) == ["https://*.bdimg.com"]
    url = "https://tiles.example.cn/bd/{z}/{x}/{y}.png"
    own = GridSettings(basemap="xyz", basemap_url=url, basemap_crs="bd09mc")
    assert layers(own)["crs"] == "bd09mc" and layers(own)["layers"][0]["url"].startswith(
        "https://tiles.example.cn/"
    )
