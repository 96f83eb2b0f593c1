"""WGS 84 ⇄ GCJ-02 ⇄ BD-09 against published reference points: googollee/eviltransform's test table
(Shanghai, Shenzhen, Beijing; WGS 84 → GCJ-02) and wandergis/coordtransform's README example
(116.404, 39.915 through each transform). The same points are checked in the browser against
static/js/grid/coords.js (tests/browser/test_grid_web.py), so the map and the server agree."""

from __future__ import annotations

import pytest

from xueliang.grid import coords

# (wgs lon, wgs lat, gcj lon, gcj lat) — eviltransform's TESTS
WGS_GCJ = [
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),  # Shanghai
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),  # Shenzhen
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),  # Beijing
    (116.404, 39.915, 116.41024449916938, 39.91640428150164),  # coordtransform wgs84togcj02
]
GCJ_BD = [(116.404, 39.915, 116.41036949371029, 39.92133699351021)]  # coordtransform gcj02tobd09
BD_GCJ = [(116.404, 39.915, 116.39762729119315, 39.90865673957631)]  # coordtransform bd09togcj02
EPS = 1e-9  # degrees: the formulas are the same, the figures agree to rounding


@pytest.mark.parametrize(("lon", "lat", "glon", "glat"), WGS_GCJ)
def test_wgs84_to_gcj02_and_back(lon: float, lat: float, glon: float, glat: float) -> None:
    assert coords.wgs84_to_gcj02(lon, lat) == pytest.approx((glon, glat), abs=EPS)
    # the inverse has no closed form: iterated to well under a millimetre (1e-8° ≈ 1 mm)
    assert coords.gcj02_to_wgs84(glon, glat) == pytest.approx((lon, lat), abs=1e-8)
    assert coords.to_wgs84("gcj02", *coords.from_wgs84("gcj02", lon, lat)) == pytest.approx(
        (lon, lat), abs=1e-8
    )


def test_bd09() -> None:
    for lon, lat, blon, blat in GCJ_BD:
        assert coords.gcj02_to_bd09(lon, lat) == pytest.approx((blon, blat), abs=EPS)
    for lon, lat, glon, glat in BD_GCJ:
        assert coords.bd09_to_gcj02(lon, lat) == pytest.approx((glon, glat), abs=EPS)
    # the demo county: WGS 84 → BD-09 → WGS 84 within 1e-6° (≈ 0.1 m: Baidu's published inverse is
    # itself approximate), and the offset is the several hundred metres Baidu maps show
    lon, lat = 103.84, 31.7
    blon, blat = coords.from_wgs84("bd09", lon, lat)
    assert 0.005 < blon - lon < 0.02 and 0.001 < blat - lat < 0.01
    assert coords.to_wgs84("bd09", blon, blat) == pytest.approx((lon, lat), abs=1e-6)


def test_no_offset_outside_china_or_for_wgs84() -> None:
    assert coords.wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)  # Paris
    assert coords.bd09_to_wgs84(-74.0, 40.7) == (-74.0, 40.7)
    assert coords.from_wgs84("wgs84", 103.84, 31.7) == (103.84, 31.7)
