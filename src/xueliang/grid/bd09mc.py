"""Baidu's own map plane (BD09MC) and tile numbering, for a base layer of Baidu tiles.

Baidu tiles are not on the web-Mercator XYZ grid. Positions are BD-09 degrees (grid/coords.py),
projected to "Mercator metres" by Baidu's published piecewise polynomials: one set of coefficients per
latitude band (75°, 60°, 45°, 30°, 15°, 0°), easting linear in longitude, northing a degree-6
polynomial in |lat| / scale. Latitude is clamped to ±74°. At zoom 18 one pixel is one metre, so at
zoom z a pixel is 2^(18-z) m. Tiles are 256 px, counted from the origin (0 °E, equator), x east and
y **north**: tile = floor(metres · 2^(z-18) / 256), negative west and south. static/js/grid/coords.js
holds the same arithmetic for the map (a Leaflet CRS); both are tested on Baidu's published points.

Baidu's own inverse (metres → degrees) is a second published polynomial set, not an exact inverse:
a round trip agrees to about a centimetre, which a base layer does not notice."""

from __future__ import annotations

import math

from xueliang.grid import coords

LAT_BANDS = (75.0, 60.0, 45.0, 30.0, 15.0, 0.0)
NORTHING_BANDS = (12890594.86, 8362377.87, 5591021.0, 3481989.83, 1678043.12, 0.0)
MAX_LAT = 74.0
TILE = 256
# Per band: easting = c0 + c1·|lon|; t = |lat| / c9; northing = c2 + c3·t + … + c8·t⁶ (signs restored).
TO_METRES: tuple[tuple[float, ...], ...] = (
    (-0.0015702102444, 111320.7020616939, 1704480524535203.0, -10338987376042340.0, 26112667856603880.0,
     -35149669176653700.0, 26595700718403920.0, -10725012454188240.0, 1800819912950474.0, 82.5),
    (0.0008277824516172526, 111320.7020463578, 647795574.6671607, -4082003173.641316, 10774905663.51142,
     -15171875531.51559, 12053065338.62167, -5124939663.577472, 913311935.9512032, 67.5),
    (0.00337398766765, 111320.7020202162, 4481351.045890365, -23393751.19931662, 79682215.47186455,
     -115964993.2797253, 97236711.15602145, -43661946.33752821, 8477230.501135234, 52.5),
    (0.00220636496208, 111320.7020209128, 51751.86112841131, 3796837.749470245, 992013.7397791013,
     -1221952.21711287, 1340652.697009075, -620943.6990984312, 144416.9293806241, 37.5),
    (-0.0003441963504368392, 111320.7020576856, 278.2353980772752, 2485758.690035394, 6070.750963243378,
     54821.18345352118, 9540.606633304236, -2710.55326746645, 1405.483844121726, 22.5),
    (-0.0003218135878613132, 111320.7020701615, 0.00369383431289, 823725.6402795718, 0.46104986909093,
     2351.343141331292, 1.58060784298199, 8.77738589078284, 0.37238884252424, 7.45),
)  # fmt: skip
TO_DEGREES: tuple[tuple[float, ...], ...] = (
    (1.410526172116255e-8, 0.00000898305509648872, -1.9939833816331, 200.9824383106796, -187.2403703815547,
     91.6087516669843, -23.38765649603339, 2.57121317296198, -0.03801003308653, 17337981.2),
    (-7.435856389565537e-9, 0.000008983055097726239, -0.78625201886289, 96.32687599759846, -1.85204757529826,
     -59.36935905485877, 47.40033549296737, -16.50741931063887, 2.28786674699375, 10260144.86),
    (-3.030883460898826e-8, 0.00000898305509983578, 0.30071316287616, 59.74293618442277, 7.357984074871,
     -25.38371002664745, 13.45380521110908, -3.29883767235584, 0.32710905363475, 6856817.37),
    (-1.981981304930552e-8, 0.000008983055099779535, 0.03278182852591, 40.31678527705744, 0.65659298677277,
     -4.44255534477492, 0.85341911805263, 0.12923347998204, -0.04625736007561, 4482777.06),
    (3.09191371068437e-9, 0.000008983055096812155, 0.00006995724062, 23.10934304144901, -0.00023663490511,
     -0.6321817810242, -0.00663494467273, 0.03430082397953, -0.00466043876332, 2555164.4),
    (2.890871144776878e-9, 0.000008983055095805407, -3.068298e-8, 7.47137025468032, -0.00000353937994,
     -0.02145144861037, -0.00001234426596, 0.00010322952773, -0.00000323890364, 826088.5),
)  # fmt: skip


def _apply(c: tuple[float, ...], x: float, y: float) -> tuple[float, float]:
    east = c[0] + c[1] * abs(x)
    t = abs(y) / c[9]
    north = 0.0
    for k in range(8, 1, -1):  # Horner: c2 + t·(c3 + t·(… + t·c8))
        north = north * t + c[k]
    return math.copysign(east, x), math.copysign(north, y)


def bd09_to_metres(lon: float, lat: float) -> tuple[float, float]:
    """BD-09 degrees → BD09MC metres (Baidu's band polynomials; south of the equator Baidu uses the
    equator band, and so do we)."""
    lon = (lon + 180.0) % 360.0 - 180.0
    lat = max(-MAX_LAT, min(MAX_LAT, lat))
    band = next((i for i, edge in enumerate(LAT_BANDS) if lat >= edge), len(LAT_BANDS) - 1)
    return _apply(TO_METRES[band], lon, lat)


def metres_to_bd09(x: float, y: float) -> tuple[float, float]:
    band = next(i for i, edge in enumerate(NORTHING_BANDS) if abs(y) >= edge)
    return _apply(TO_DEGREES[band], x, y)


def tile_of_metres(x: float, y: float, z: int) -> tuple[int, int]:
    """Baidu's tile (x, y) at zoom z holding the point: y counts north from the equator."""
    scale = 2.0 ** (z - 18) / TILE
    return math.floor(x * scale), math.floor(y * scale)


def tile_of_wgs84(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The Baidu tile over one of our (WGS 84) positions: WGS 84 → GCJ-02 → BD-09 → metres → tile."""
    return tile_of_metres(*bd09_to_metres(*coords.wgs84_to_bd09(lon, lat)), z)
