"""Coverage and blind spots (盲区分析, issue 16): a hand-made village whose figures were worked out by
hand, degenerate input, the cache, and the seeded demo county on the selected database."""

from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any, cast

import numpy as np
import pytest
import shapely
from shapely.geometry import mapping, shape
from sqlalchemy import func, select, update

from xueliang.cameras.events import CameraChanged
from xueliang.core.context import AppContext
from xueliang.core.db import Database
from xueliang.core.events import EventBus
from xueliang.core.services import Services
from xueliang.grid import coverage_service
from xueliang.grid.coverage import (
    CameraView,
    LocalProjection,
    PointInput,
    RouteLine,
    VillageInput,
    compute,
    route_line,
    wedge,
)
from xueliang.grid.coverage_cache import CoverageCache, install_coverage
from xueliang.grid.coverage_service import NoBoundary, VillageNotFound
from xueliang.regions.models import Household, Place, Region, RegionLevel

LAT0, LON0 = 31.7, 103.8
PROJ = LocalProjection(LAT0, LON0)


def ll(x: float, y: float) -> tuple[float, float]:
    """(lon, lat) of the point x metres east and y metres north of (LAT0, LON0), unrounded."""
    return LON0 + x / PROJ.kx, LAT0 + y / PROJ.ky


def pt(pid: int, x: float, y: float) -> PointInput:
    lon, lat = ll(x, y)
    return PointInput(pid, lat, lon)


def cam(cid: int, x: float, y: float, heading: float, angle: float, rng: float) -> CameraView:
    lon, lat = ll(x, y)
    return CameraView(cid, lat, lon, heading, angle, rng)


def rectangle(w: float, h: float) -> dict[str, Any]:
    ring = [ll(-w / 2, -h / 2), ll(w / 2, -h / 2), ll(w / 2, h / 2), ll(-w / 2, h / 2), ll(-w / 2, -h / 2)]
    return {"type": "Polygon", "coordinates": [ring]}


# The hand-made village: a 200 m (east-west) x 100 m rectangle, x in [-100, 100], y in [-50, 50];
# area 20,000 m².
# - Camera 1 at (-100, 0) on the west edge, heading 90 (east), 90°, 40 m: a quarter disc pointing
#   east, wholly inside (its arc reaches y = ±28.3): π·40²/4 = 1,256.64 m².
# - Camera 2 at (60, 30), heading 0 (north), 180°, 40 m: the northern half disc, y from 30 to 70;
#   the boundary clips it at y = 50, leaving the segment 0 <= v <= 20 of a 40 m disc:
#   ∫0..20 2·√(1600 − v²) dv = 20·√1200 + 1600·asin(1/2) = 692.82 + 837.76 = 1,530.58 m².
#   Cameras: 2,787.22 m² = 13.94 %.
# - Route from (-20, -20) to (40, -20), 30 m buffer: a 60 x 60 rectangle plus two half discs of 30 m,
#   y from -50 (the south edge) to 10, x from -50 to 70: 3,600 + π·900 = 6,427.43 m² = 32.14 %. It
#   meets neither wedge (camera 1's apex is 82.5 m from the cap's centre at (-20, -20), more than
#   40 + 30; camera 2's wedge starts at y = 30). Either: 9,214.65 m² = 46.07 %.
# Settlements: S1 (-80, 5) in camera 1 (20.6 m away, bearing 76°, inside 45°..135°); S2 (0, -20) on
#   the route; S3 (0, 40) in neither (60.8 m from camera 2). Cameras 1/3, routes 1/3, either 2/3.
# Households: H1 (-70, 0) camera 1; H2 (70, 45) camera 2, clipped part (18 m away, y <= 50);
#   H3 (10, -40) the route; H4 (60, 60) seen by camera 2 but outside the boundary, so not covered;
#   H5 (-90, 40) in neither (41.2 m from camera 1). Cameras 2/5, routes 1/5, either 3/5;
#   uncovered: H4, H5.
CAM_AREA = math.pi * 1600 / 4 + (20 * math.sqrt(1200) + 1600 * math.asin(0.5))
ROUTE_AREA = 60 * 60 + math.pi * 900
VILLAGE = VillageInput(
    region_id=7,
    boundary=rectangle(200, 100),
    cameras=[cam(1, -100, 0, 90, 90, 40), cam(2, 60, 30, 0, 180, 40)],
    routes=[RouteLine((ll(-20, -20), ll(40, -20)))],
    settlements=[pt(1, -80, 5), pt(2, 0, -20), pt(3, 0, 40)],
    households=[pt(1, -70, 0), pt(2, 70, 45), pt(3, 10, -40), pt(4, 60, 60), pt(5, -90, 40)],
)
# Polygons approximate the arcs: a wedge's 2° chords lose 0.02 % of its area, a route's round caps
# (8 segments a quarter) 0.6 % of theirs (18 m² here), so areas are compared to 0.5 %.
AREA_REL = 5e-3


def test_projection_matches_the_ellipsoid() -> None:
    # Metres per degree at 31.7° N from the usual series for WGS 84 (independent of our formula):
    # latitude 111,132.954 − 559.822·cos 2φ + 1.175·cos 4φ; longitude 111,412.84·cos φ − 93.5·cos 3φ.
    phi = math.radians(LAT0)
    assert PROJ.ky == pytest.approx(
        111_132.954 - 559.822 * math.cos(2 * phi) + 1.175 * math.cos(4 * phi), abs=1
    )
    assert PROJ.kx == pytest.approx(111_412.84 * math.cos(phi) - 93.5 * math.cos(3 * phi), abs=1)
    # the stated bound: 1.2 km north of the centre at 31.7° N, about tan φ0 · Δφ = 0.012 %
    assert PROJ.scale_error(LAT0, LAT0 + 1200 / PROJ.ky) == pytest.approx(1.16e-4, rel=0.05)


def test_hand_made_village() -> None:
    result = compute(VILLAGE)
    assert result.area_m2 == pytest.approx(20_000, rel=1e-6)
    assert result.cameras.area.covered_m2 == pytest.approx(CAM_AREA, rel=AREA_REL)
    assert result.routes.area.covered_m2 == pytest.approx(ROUTE_AREA, rel=AREA_REL)
    assert result.either.area.covered_m2 == pytest.approx(CAM_AREA + ROUTE_AREA, rel=AREA_REL)
    assert result.cameras.area.ratio == pytest.approx(0.1394, abs=1e-3)
    assert result.routes.area.ratio == pytest.approx(0.3214, abs=2e-3)
    assert result.either.area.ratio == pytest.approx(0.4607, abs=2e-3)

    assert (result.cameras.settlements.covered, result.cameras.settlements.total) == (1, 3)
    assert (result.routes.settlements.covered, result.either.settlements.covered) == (1, 2)
    assert (result.cameras.households.covered, result.cameras.households.total) == (2, 5)
    assert (result.routes.households.covered, result.either.households.covered) == (1, 3)
    assert result.either.households.ratio == pytest.approx(0.6)
    assert result.uncovered_households == (4, 5)
    assert result.uncovered_settlements == (3,)
    assert result.cameras_used == 2

    # the blind spots, back in WGS 84: the rest of the rectangle, inside it, away from what is covered
    uncovered = shape(result.uncovered)
    assert shapely.transform(uncovered, PROJ.forward).area == pytest.approx(
        20_000 - CAM_AREA - ROUTE_AREA, rel=AREA_REL
    )
    assert shape(VILLAGE.boundary).buffer(2e-7).contains(uncovered)  # output rounded to 1e-7°
    assert uncovered.contains(shapely.Point(ll(0, 40)))  # S3
    assert not uncovered.contains(shapely.Point(ll(-80, 5)))  # S1
    body = result.to_json()
    assert body["either"]["households_pct"] == 60.0 and body["uncovered_households"] == [4, 5]
    assert body["cameras"]["area_pct"] == pytest.approx(13.94, abs=0.1)


def test_a_wedge_across_the_boundary_is_clipped() -> None:
    # A camera outside the rectangle, 20 m west of its west edge, looking east with 120 m of range:
    # only the part inside counts, and nothing it sees outside.
    outside = VillageInput(1, rectangle(200, 100), cameras=[cam(1, -120, 0, 90, 60, 120)])
    x, y = PROJ.forward(np.array([ll(-120, 0)]))[0]
    raw = wedge(float(x), float(y), 90, 60, 120)
    assert raw is not None
    inside = raw.intersection(shapely.box(-100, -50, 100, 50))
    result = compute(outside)
    assert 0 < result.cameras.area.covered_m2 < raw.area
    assert result.cameras.area.covered_m2 == pytest.approx(inside.area, rel=1e-3)
    # A full-circle camera of 1 km covers the whole village and no more.
    everything = compute(VillageInput(1, rectangle(200, 100), cameras=[cam(1, 0, 0, 0, 360, 1000)]))
    assert everything.cameras.area.ratio == pytest.approx(1.0)
    assert everything.uncovered == {"type": "MultiPolygon", "coordinates": []}


@pytest.mark.parametrize(
    "boundary",
    [
        None,
        {},
        {"type": "Polygon", "coordinates": []},
        {"type": "Point", "coordinates": [LON0, LAT0]},
        {"type": "Polygon", "coordinates": [[ll(0, 0), ll(10, 0), ll(20, 0), ll(0, 0)]]},  # no area
        {"type": "Polygon", "coordinates": "nonsense"},
    ],
)
def test_an_unusable_boundary_is_a_value_error(boundary: dict[str, Any] | None) -> None:
    with pytest.raises(ValueError, match="boundary"):
        compute(VillageInput(1, cast("dict[str, Any]", boundary)))


def test_degenerate_cameras_routes_and_points_cover_nothing() -> None:
    village = VillageInput(
        1,
        rectangle(200, 100),
        cameras=[
            cam(1, 0, 0, 0, 90, 0),  # zero range
            cam(2, 0, 0, 0, 0, 50),  # zero angle
            cam(3, 0, 0, math.nan, 90, 50),  # no heading
            CameraView(4, math.inf, LON0, 0, 90, 50),  # nowhere
        ],
        routes=[
            RouteLine(()),
            RouteLine((ll(0, 0),), buffer_m=0),
            RouteLine((ll(0, 0), ll(5, 0)), buffer_m=-1),
        ],
        households=[pt(1, 0, 0), PointInput(2, math.nan, math.nan)],
    )
    result = compute(village)
    assert result.either.area.ratio == 0 and result.cameras_used == 0
    assert (result.either.households.covered, result.either.households.total) == (0, 2)
    assert result.uncovered_households == (1, 2)
    assert result.either.settlements.ratio == 0 and result.either.settlements.total == 0
    assert shapely.transform(shape(result.uncovered), PROJ.forward).area == pytest.approx(20_000, rel=1e-4)
    assert route_line([[1.0, 2.0], [3.0], [4.0, 5.0, 0.0]], route_id=9) == RouteLine(
        ((1.0, 2.0), (4.0, 5.0)), 30.0, 9
    )
    # a one-point route is a disc around it
    disc = compute(VillageInput(1, rectangle(200, 100), routes=[RouteLine((ll(0, 0),), buffer_m=10)]))
    assert disc.routes.area.covered_m2 == pytest.approx(math.pi * 100, rel=1e-2)


def test_a_self_intersecting_boundary_is_repaired() -> None:
    bowtie = {
        "type": "Polygon",
        "coordinates": [[ll(-50, -50), ll(50, 50), ll(50, -50), ll(-50, 50), ll(-50, -50)]],
    }
    result = compute(VillageInput(1, bowtie))
    assert result.area_m2 == pytest.approx(5_000, rel=1e-3)  # two triangles of 2,500 m²


async def test_cache_follows_versions_and_camera_changes(seeded_url: str) -> None:
    db = Database(seeded_url)
    try:
        ctx = cast("AppContext", SimpleNamespace(services=Services(), events=EventBus()))
        install_coverage(ctx)
        cache = ctx.services.require(CoverageCache)
        async with db.read_session() as s:
            village = await s.scalar(select(Region).where(Region.level == RegionLevel.village).limit(1))
            assert village is not None
            first = await cache.get(s, village.id)
            assert await cache.get(s, village.id) is first
            route = RouteLine(
                ((village.lon or 0.0, village.lat or 0.0), (village.lon or 0.0, (village.lat or 0.0) + 0.001))
            )
            with_route = await cache.get(s, village.id, [route])
            assert with_route is not first and with_route.routes.area.covered_m2 > 0
            assert await cache.get(s, village.id, [route]) is with_route
            cache.invalidate(village.id)
            assert await cache.get(s, village.id, [route]) is not with_route
            kept = await cache.get(s, village.id, [route])
            await ctx.events.emit(CameraChanged(camera_id=1))
            assert await cache.get(s, village.id, [route]) is not kept
            county = await s.scalar(select(Region).where(Region.level == RegionLevel.county))
            assert county is not None
            with pytest.raises(VillageNotFound):
                await cache.get(s, county.id)
            with pytest.raises(VillageNotFound):
                await cache.get(s, 2**31 - 1)
    finally:
        await db.dispose()


async def test_demo_county_coverage(seeded_url: str) -> None:
    """Every demo village has its households as points, and sane, non-trivial coverage with a route
    through its settlements and exits."""
    db = Database(seeded_url)
    try:
        async with db.read_session() as s:
            villages = (
                await s.scalars(select(Region).where(Region.level == RegionLevel.village).order_by(Region.id))
            ).all()
            assert len(villages) == 10
            located = dict(
                (
                    await s.execute(
                        select(Household.region_id, func.count())
                        .where(Household.lat.is_not(None))
                        .group_by(Household.region_id)
                    )
                ).all()
            )
            places = (await s.scalars(select(Place).where(Place.kind != "key_place"))).all()
            for v in villages:
                assert located[v.id] == v.households  # up to the Region's count, all located
                pts = tuple(
                    (p.lon, p.lat)
                    for p in sorted(places, key=lambda p: (p.kind, p.id))
                    if p.region_id == v.id
                )
                result = await coverage_service.village_coverage(s, v.id, [RouteLine(pts)])
                assert result.either.households.total == v.households
                assert result.either.settlements.total == 3
                assert 0.001 < result.cameras.area.ratio < 0.1, v.name_en
                assert result.cameras.area.ratio < result.either.area.ratio < 0.5, v.name_en
                assert 0 < result.cameras.households.covered < v.households
                assert 0.1 < result.either.households.ratio < 0.9, v.name_en
                assert result.either.settlements.covered == 3  # the route passes every settlement
                assert len(result.uncovered_households) == v.households - result.either.households.covered
                assert result.scale_error < 5e-4
                assert shape(result.uncovered).within(shape(v.boundary or {}).buffer(1e-6))
    finally:
        await db.dispose()


async def test_a_village_without_boundary_is_a_clear_error(seeded_url: str) -> None:
    db = Database(seeded_url)
    try:
        async with db.session() as s:
            village = await s.scalar(select(Region).where(Region.level == RegionLevel.village).limit(1))
            assert village is not None
            village.boundary = None
            await s.flush()
            with pytest.raises(NoBoundary) as err:
                await coverage_service.load_village(s, village.id)
            assert err.value.status == 422
            await s.rollback()
    finally:
        await db.dispose()


async def test_cache_follows_edits_nobody_announced(grid_url: str) -> None:
    """A household moved and a boundary changed by plain SQL (no event, no `invalidate` call): the
    next lookup recomputes, because the village's fingerprint is part of the key. Restored after, as
    the other grid tests share this database."""
    db = Database(grid_url)
    try:
        ctx = cast("AppContext", SimpleNamespace(services=Services(), events=EventBus()))
        install_coverage(ctx)
        cache = ctx.services.require(CoverageCache)
        async with db.read_session() as s:
            village = await s.scalar(select(Region).where(Region.level == RegionLevel.village).limit(1))
            assert village is not None
            house = await s.scalar(
                select(Household)
                .where(Household.region_id == village.id, Household.lat.is_not(None))
                .limit(1)
            )
            assert house is not None and village.boundary is not None
            first = await cache.get(s, village.id)
            assert await cache.get(s, village.id) is first
            vid, hid, lat, boundary = village.id, house.id, house.lat, village.boundary
        async with db.session() as s:
            await s.execute(update(Household).where(Household.id == hid).values(lat=(lat or 0) + 0.0003))
            await s.commit()
        async with db.read_session() as s:
            moved = await cache.get(s, vid)
            assert moved is not first and await cache.get(s, vid) is moved
        half = shape(boundary).buffer(-0.002)  # a smaller village: less area to cover
        async with db.session() as s:
            await s.execute(update(Region).where(Region.id == vid).values(boundary=mapping(half)))
            await s.execute(update(Household).where(Household.id == hid).values(lat=lat))
            await s.commit()
        async with db.read_session() as s:
            smaller = await cache.get(s, vid)
            assert smaller.area_m2 < first.area_m2
        async with db.session() as s:
            await s.execute(update(Region).where(Region.id == vid).values(boundary=boundary))
            await s.commit()
        async with db.read_session() as s:
            assert (await cache.get(s, vid)).area_m2 == pytest.approx(first.area_m2)
    finally:
        await db.dispose()
