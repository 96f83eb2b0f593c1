"""The demo county: fictional people and places shaped like a real pilot (county 513223).

Generated deterministically, so every run and every test sees the same county."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from xueliang.accounts.models import Role
from xueliang.cameras.models import CameraKind
from xueliang.core.ids import TYPE_CAMERA, TYPE_PLATFORM, gb_id

if TYPE_CHECKING:
    from shapely.geometry import Polygon

COUNTY_CODE = "513223"
COUNTY = ("雪梁示范县", "Xueliang Demo County")
TOWNSHIPS = [
    ("513223101", "清溪镇", "Qingxi Town", (31.705, 103.815)),
    ("513223102", "石门乡", "Shimen Township", (31.655, 103.905)),
]
VILLAGES = [  # code, name, name_en, township code, cameras, households, people
    ("513223101201", "上坪村", "Shangping Village", "513223101", 7, 612, 2087),
    ("513223101202", "河坝村", "Heba Village", "513223101", 6, 548, 1874),
    ("513223101203", "桃园村", "Taoyuan Village", "513223101", 6, 577, 1960),
    ("513223101204", "松林村", "Songlin Village", "513223101", 6, 503, 1702),
    ("513223101205", "龙洞村", "Longdong Village", "513223101", 6, 489, 1655),
    ("513223102201", "石门村", "Shimen Village", "513223102", 6, 601, 2049),
    ("513223102202", "杨柳村", "Yangliu Village", "513223102", 6, 566, 1928),
    ("513223102203", "白岩村", "Baiyan Village", "513223102", 6, 522, 1776),
    ("513223102204", "核桃村", "Hetao Village", "513223102", 5, 533, 1812),
    ("513223102205", "红光村", "Hongguang Village", "513223102", 5, 492, 1648),
]
NODE_REGIONS = ["513223", "513223101", "513223102", "513223101201", "513223102201"]
DEMO_PASSWORD = "xueliang-demo"  # noqa: S105 - demo only; printed by `xueliang demo`, never used by `serve`

SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何罗高林"
GIVEN = [
    "建国",
    "秀英",
    "桂兰",
    "德明",
    "春花",
    "志强",
    "玉梅",
    "永福",
    "海燕",
    "文华",
    "国平",
    "红梅",
    "小军",
    "丽华",
    "明亮",
    "淑芬",
    "金山",
    "晓东",
    "翠兰",
    "光荣",
]
GROUPS = ["一组", "二组", "三组"]
CAMERA_PLACES = {
    CameraKind.key_place: ["村委会", "小学门口", "卫生室", "文化广场", "河堤", "便民超市"],
    CameraKind.intersection: ["村口路口", "桥头", "三岔路口", "国道路口"],
    CameraKind.settlement: ["聚居点", "新村安置点", "老街"],
}
KIND_EN = {
    CameraKind.key_place: "key place",
    CameraKind.intersection: "intersection",
    CameraKind.settlement: "settlement",
}


@dataclass
class DemoCamera:
    number: int
    gb_id: str
    name: str
    name_en: str
    region_code: str
    kind: CameraKind
    lat: float
    lon: float
    heading: float
    fov_angle: float
    fov_range: float
    ptz: bool
    public_view: bool


@dataclass
class DemoUser:
    username: str
    display_name: str
    role: Role
    region_code: str
    household: bool = False


@dataclass
class DemoCounty:
    geojson: dict[str, Any]
    cameras: list[DemoCamera]
    users: list[DemoUser]
    nodes: list[tuple[str, str, str, str | None]]  # gb_id, name, region code, parent gb_id


def _blob(rng: random.Random, lat: float, lon: float, radius_m: float, corners: int = 9) -> Polygon:
    """An irregular polygon around a point: a plausible village outline without real survey data."""
    from shapely.geometry import Polygon

    pts = []
    for i in range(corners):
        angle = 2 * math.pi * i / corners
        r = radius_m * rng.uniform(0.75, 1.15)
        pts.append(
            (
                lon + r * math.cos(angle) / (111_320 * math.cos(math.radians(lat))),
                lat + r * math.sin(angle) / 110_540,
            )
        )
    return Polygon(pts)


def _offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    return (
        round(lat + north_m / 110_540, 6),
        round(lon + east_m / (111_320 * math.cos(math.radians(lat))), 6),
    )


def _name(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def build() -> DemoCounty:
    # shapely (and numpy under it, 12 MB) only when a county is built, not in every server that
    # imports the demo's constants
    from shapely.geometry import mapping
    from shapely.ops import unary_union

    rng = random.Random(513223)
    features: list[dict[str, Any]] = []
    cameras: list[DemoCamera] = []
    village_shapes: dict[str, list[Polygon]] = {}
    number = 0
    for v_idx, (code, name, name_en, township, n_cams, households, people) in enumerate(VILLAGES):
        t_lat, t_lon = next(t[3] for t in TOWNSHIPS if t[0] == township)
        angle = 2 * math.pi * (v_idx % 5) / 5 + 0.3
        lat, lon = _offset(t_lat, t_lon, 2600 * math.sin(angle), 2600 * math.cos(angle))
        outline = _blob(rng, lat, lon, 1100)
        village_shapes.setdefault(township, []).append(outline)
        features.append(
            {
                "type": "Feature",
                "geometry": mapping(outline),
                "properties": {
                    "code": code,
                    "name": name,
                    "name_en": name_en,
                    "level": "village",
                    "parent_code": township,
                    "households": households,
                    "population": people,
                },
            }
        )
        features.append(
            {
                "type": "Feature",
                "geometry": mapping(outline.buffer(-0.0025)),
                "properties": {
                    "code": code + "01",
                    "name": f"{name}第一网格",
                    "name_en": f"{name_en} grid 1",
                    "level": "grid",
                    "parent_code": code,
                },
            }
        )
        shares = [rng.uniform(0.8, 1.2) for _ in GROUPS]
        left = households
        settlements = []
        for g_idx, group in enumerate(GROUPS):
            count = left if g_idx == len(GROUPS) - 1 else round(households * shares[g_idx] / sum(shares))
            left -= count
            s_lat, s_lon = _offset(lat, lon, rng.uniform(-500, 500), rng.uniform(-500, 500))
            settlements.append((s_lat, s_lon))
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [s_lon, s_lat]},
                    "properties": {
                        "place": "settlement",
                        "name": f"{name}{group}",
                        "name_en": f"{name_en} group {g_idx + 1}",
                        "region_code": code,
                        "households": count,
                    },
                }
            )
        exits = []
        for e_idx, (dn, de) in enumerate(((1000, 0), (0, 1000), (-1000, 0), (0, -1000))):
            e_lat, e_lon = _offset(lat, lon, dn * rng.uniform(0.85, 0.95), de * rng.uniform(0.85, 0.95))
            exits.append((e_lat, e_lon))
            features.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [e_lon, e_lat]},
                    "properties": {
                        "place": "exit",
                        "name": f"{name}{'北东南西'[e_idx]}路口",
                        "name_en": f"{name_en} {('north', 'east', 'south', 'west')[e_idx]} exit",
                        "region_code": code,
                    },
                }
            )
        kinds = [
            CameraKind.intersection,
            CameraKind.key_place,
            CameraKind.settlement,
            CameraKind.intersection,
            CameraKind.key_place,
            CameraKind.settlement,
            CameraKind.settlement,
        ]
        for c_idx in range(n_cams):
            number += 1
            kind = kinds[c_idx]
            if kind is CameraKind.intersection:
                c_lat, c_lon = exits[c_idx % 4]
            elif kind is CameraKind.settlement:
                s_lat, s_lon = settlements[c_idx % 3]
                c_lat, c_lon = _offset(s_lat, s_lon, rng.uniform(-40, 40), rng.uniform(-40, 40))
            else:
                c_lat, c_lon = _offset(lat, lon, rng.uniform(-150, 150), rng.uniform(-150, 150))
            place = CAMERA_PLACES[kind][(c_idx + v_idx) % len(CAMERA_PLACES[kind])]
            if any(c.name == f"{name}{place}" for c in cameras):
                place += "二号"  # two cameras at the same kind of place: tell them apart
            cameras.append(
                DemoCamera(
                    number=number,
                    gb_id=gb_id(COUNTY_CODE + "00", TYPE_CAMERA, number),
                    name=f"{name}{place}",
                    name_en=f"{name_en} {KIND_EN[kind]} {c_idx + 1}",
                    region_code=code,
                    kind=kind,
                    lat=c_lat,
                    lon=c_lon,
                    heading=float(rng.randrange(0, 360, 5)),
                    fov_angle=float(rng.choice([60, 75, 90, 100])),
                    fov_range=float(rng.choice([40, 60, 80, 120])),
                    ptz=c_idx == 1 or (v_idx == 0 and c_idx == 0),  # 上坪村's entrance turns 360°
                    public_view=kind is not CameraKind.key_place or c_idx == 1,
                )
            )
    for code, name, name_en, _centre in TOWNSHIPS:
        outline = unary_union(village_shapes[code]).convex_hull.buffer(0.004)
        members = [v for v in VILLAGES if v[3] == code]
        features.append(
            {
                "type": "Feature",
                "geometry": mapping(outline),
                "properties": {
                    "code": code,
                    "name": name,
                    "name_en": name_en,
                    "level": "township",
                    "parent_code": COUNTY_CODE,
                    "households": sum(v[5] for v in members),
                    "population": sum(v[6] for v in members),
                },
            }
        )
    county_outline = unary_union(
        [shape for shapes in village_shapes.values() for shape in shapes]
    ).convex_hull
    features.append(
        {
            "type": "Feature",
            "geometry": mapping(county_outline.buffer(1500 / 111_000)),
            "properties": {
                "code": COUNTY_CODE,
                "name": COUNTY[0],
                "name_en": COUNTY[1],
                "level": "county",
                "households": sum(v[5] for v in VILLAGES),
                "population": sum(v[6] for v in VILLAGES),
            },
        }
    )
    return DemoCounty({"type": "FeatureCollection", "features": features}, cameras, _users(rng), _nodes())


def _users(rng: random.Random) -> list[DemoUser]:
    users = [
        DemoUser("admin", "县平台管理员", Role.admin, COUNTY_CODE),
        DemoUser("auditor", "县审计员", Role.auditor, COUNTY_CODE),
        DemoUser("op-qingxi", "清溪派出所值班员", Role.operator, "513223101"),
        DemoUser("op-shimen", "石门派出所值班员", Role.operator, "513223102"),
    ]
    for v_idx, (code, name, *_rest) in enumerate(VILLAGES, start=1):
        users.append(DemoUser(f"duty-v{v_idx:02d}", f"{name}值班员{_name(rng)}", Role.duty_officer, code))
        users.append(DemoUser(f"gw-{v_idx:02d}", f"{name}网格员{_name(rng)}", Role.grid_worker, code))
        for k in (1, 2):
            users.append(
                DemoUser(f"vol-v{v_idx:02d}-{k}", f"{name}联防队员{_name(rng)}", Role.volunteer, code)
            )
        users.append(
            DemoUser(f"res-v{v_idx:02d}", f"{name}村民{_name(rng)}", Role.resident, code, household=True)
        )
    return users


def _nodes() -> list[tuple[str, str, str, str | None]]:
    nodes: list[tuple[str, str, str, str | None]] = []
    by_code: dict[str, str] = {}
    names = {COUNTY_CODE: COUNTY[0], **{t[0]: t[1] for t in TOWNSHIPS}, **{v[0]: v[1] for v in VILLAGES}}
    for serial, code in enumerate(NODE_REGIONS, start=1):
        node_id = gb_id(COUNTY_CODE + "00", TYPE_PLATFORM, serial)
        by_code[code] = node_id
        parent = (
            by_code.get(code[:9]) if len(code) == 12 else by_code.get(COUNTY_CODE) if len(code) == 9 else None
        )
        nodes.append((node_id, f"{names[code]}平台", code, parent))
    return nodes
