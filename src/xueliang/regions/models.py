"""The administrative tree (province > county > township > village > grid), its places and households."""

from __future__ import annotations

import enum
from typing import Any

from sqlalchemy import JSON, Enum, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from xueliang.core.db import Base


class RegionLevel(enum.StrEnum):
    province = "province"
    county = "county"
    township = "township"
    village = "village"
    grid = "grid"


LEVEL_ORDER = [
    RegionLevel.province,
    RegionLevel.county,
    RegionLevel.township,
    RegionLevel.village,
    RegionLevel.grid,
]


class Region(Base):
    """A node of the tree. `path` is the materialized path of codes ("513223/513223101/"), so a
    subtree is one indexed prefix match instead of a recursive query."""

    __tablename__ = "regions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    level: Mapped[RegionLevel] = mapped_column(Enum(RegionLevel, native_enum=False, length=16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    path: Mapped[str] = mapped_column(String(255), index=True)
    households: Mapped[int] = mapped_column(Integer, default=0)
    population: Mapped[int] = mapped_column(Integer, default=0)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    boundary: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    parent: Mapped[Region | None] = relationship(remote_side=[id])


class Place(Base):
    """A named point inside a region: settlement, village exit, key place."""

    __tablename__ = "places"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    households: Mapped[int] = mapped_column(Integer, default=0)


class Household(Base):
    """A registered household; residents log in on its behalf. Counts per village live on Region."""

    __tablename__ = "households"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    head_name: Mapped[str] = mapped_column(String(64))
    members: Mapped[int] = mapped_column(Integer, default=1)
    address: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(32), default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
