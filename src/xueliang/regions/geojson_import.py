"""Import of the region tree from GeoJSON: all features checked first, then written in one transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.regions.models import LEVEL_ORDER, Place, Region, RegionLevel

PLACE_KINDS = {"settlement", "exit", "key_place"}


class ImportError_(Exception):
    """A list of problems, each naming the feature (1-based) it was found in."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class ImportResult:
    regions_created: int = 0
    regions_updated: int = 0
    places: int = 0


def _check_region(idx: int, props: dict[str, Any], geom: dict[str, Any] | None, problems: list[str]) -> None:
    where = f"feature {idx}"
    for key in ("code", "name", "level"):
        if not props.get(key):
            problems.append(f"{where}: property '{key}' is required")
    level = props.get("level")
    if level and level not in RegionLevel.__members__:
        problems.append(f"{where}: unknown level {level!r}")
    code = str(props.get("code", ""))
    if code and (not code.isdigit() or len(code) > 20):
        problems.append(f"{where}: code must be up to 20 digits, got {code!r}")
    for key in ("households", "population"):
        value = props.get(key, 0)
        if not isinstance(value, int) or value < 0:
            problems.append(f"{where}: '{key}' must be a non-negative integer")
    if geom is not None:
        from shapely.geometry import shape  # here: shapely and numpy are 12 MB a running node rarely needs
        from shapely.validation import explain_validity

        try:
            shp = shape(geom)
        except Exception as exc:  # shapely raises several types for bad geometry
            problems.append(f"{where}: bad geometry: {exc}")
            return
        if shp.geom_type not in ("Polygon", "MultiPolygon"):
            problems.append(f"{where}: a region's geometry must be a Polygon or MultiPolygon")
        elif not shp.is_valid:
            problems.append(f"{where}: invalid polygon: {explain_validity(shp)}")


def parse(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ImportError_([f"{path}: no such file"]) from exc
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ImportError_([f"{path}: not valid JSON: {exc}"]) from exc
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise ImportError_([f"{path}: expected a GeoJSON FeatureCollection"])
    return data


async def import_features(session: AsyncSession, data: dict[str, Any]) -> ImportResult:
    """Regions (features with a 'level') in tree order, then places (features with a 'place' kind).
    Nothing is written if any feature is wrong; the caller commits."""
    problems: list[str] = []
    regions: list[tuple[int, dict[str, Any], dict[str, Any] | None]] = []
    places: list[tuple[int, dict[str, Any], dict[str, Any]]] = []
    for idx, feat in enumerate(data.get("features") or [], start=1):
        props = feat.get("properties") or {} if isinstance(feat, dict) else {}
        geom = feat.get("geometry") if isinstance(feat, dict) else None
        if "place" in props:
            if props["place"] not in PLACE_KINDS:
                problems.append(f"feature {idx}: unknown place kind {props['place']!r}")
            elif not isinstance(geom, dict) or geom.get("type") != "Point":
                problems.append(f"feature {idx}: a place needs a Point geometry")
            elif not props.get("region_code") or not props.get("name"):
                problems.append(f"feature {idx}: a place needs 'name' and 'region_code'")
            else:
                places.append((idx, props, geom))
        else:
            _check_region(idx, props, geom, problems)
            regions.append((idx, props, geom))
    if problems:
        raise ImportError_(problems)

    from shapely.geometry import shape

    existing = {r.code: r for r in (await session.scalars(select(Region))).all()}
    known = dict(existing)
    result = ImportResult()
    regions.sort(key=lambda item: LEVEL_ORDER.index(RegionLevel(item[1]["level"])))
    for idx, props, geom in regions:
        code, level = str(props["code"]), RegionLevel(props["level"])
        parent_code = str(props.get("parent_code") or "")
        parent = known.get(parent_code) if parent_code else None
        if parent_code and parent is None:
            problems.append(f"feature {idx}: parent region {parent_code!r} not found")
            continue
        if parent is not None and LEVEL_ORDER.index(parent.level) >= LEVEL_ORDER.index(level):
            problems.append(f"feature {idx}: a {level.value} cannot sit under a {parent.level.value}")
            continue
        centroid = shape(geom).representative_point() if geom else None
        region = known.get(code)
        if region is None:
            region = Region(code=code)
            session.add(region)
            result.regions_created += 1
        else:
            result.regions_updated += 1
        region.name, region.name_en, region.level = props["name"], props.get("name_en", ""), level
        region.parent_id = parent.id if parent else None
        region.path = (parent.path if parent else "") + code + "/"
        region.households = int(props.get("households", 0))
        region.population = int(props.get("population", 0))
        region.boundary = geom
        if centroid is not None:
            region.lon, region.lat = round(centroid.x, 6), round(centroid.y, 6)
        await session.flush()
        known[code] = region
    for idx, props, geom in places:
        owner = known.get(str(props["region_code"]))
        if owner is None:
            problems.append(f"feature {idx}: region {props['region_code']!r} not found")
            continue
        lon, lat = geom["coordinates"][:2]
        session.add(
            Place(
                region_id=owner.id,
                kind=props["place"],
                name=props["name"],
                name_en=props.get("name_en", ""),
                lat=float(lat),
                lon=float(lon),
                households=int(props.get("households", 0)),
            )
        )
        result.places += 1
    if problems:
        raise ImportError_(problems)
    await session.flush()
    return result
