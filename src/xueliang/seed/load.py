"""Writes the demo county into an empty database through the same import paths an admin uses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts import service as accounts
from xueliang.accounts.models import Role, User
from xueliang.accounts.policy import Principal
from xueliang.audit import service as audit
from xueliang.audit.service import SYSTEM
from xueliang.cameras import service as cameras
from xueliang.grid import seed as grid_seed
from xueliang.hospital import seed as hospital_seed
from xueliang.nodes.models import Node
from xueliang.portal import seed as portal_seed
from xueliang.regions import geojson_import
from xueliang.regions.models import Household, Region
from xueliang.seed.demo import DEMO_PASSWORD, DemoCounty, build


@dataclass(frozen=True)
class SeedResult:
    created: bool
    county: DemoCounty


async def seed_demo(session: AsyncSession, *, now: datetime, rtsp_base: str) -> SeedResult:
    """Idempotent: a database that already holds regions is left alone."""
    county = build()
    if (await session.execute(select(func.count()).select_from(Region))).scalar_one():
        return SeedResult(False, county)
    await geojson_import.import_features(session, county.geojson)
    regions = {r.code: r for r in (await session.scalars(select(Region))).all()}
    root = regions[county.cameras[0].region_code[:6]]
    system = Principal(0, "system", Role.admin, root.id, root.path)

    node_ids: dict[str, int] = {}
    for gb, name, region_code, parent in county.nodes:
        node = Node(
            gb_id=gb,
            name=name,
            region_id=regions[region_code].id,
            parent_id=node_ids.get(parent) if parent else None,
            is_local=region_code == root.code,
        )
        session.add(node)
        await session.flush()
        node_ids[gb] = node.id

    for cam in county.cameras:
        await cameras.create_camera(
            session,
            system,
            SYSTEM,
            gb_id=cam.gb_id,
            region_id=regions[cam.region_code].id,
            now=now,
            audit_it=False,
            name=cam.name,
            name_en=cam.name_en,
            kind=cam.kind,
            lat=cam.lat,
            lon=cam.lon,
            heading=cam.heading,
            fov_angle=cam.fov_angle,
            fov_range=cam.fov_range,
            ptz=cam.ptz,
            public_view=cam.public_view,
            stream_url=f"{rtsp_base}/cam/{cam.number}",
        )

    for n, user in enumerate(county.users, start=1):
        region = regions[user.region_code]
        household_id = None
        if user.household:
            hh = Household(
                region_id=region.id,
                code=f"{region.code}{n:04d}",
                head_name=user.display_name[-3:],
                members=3,
                address=f"{region.name}一组{n}号",
                lat=region.lat,
                lon=region.lon,
            )
            session.add(hh)
            await session.flush()
            household_id = hh.id
        await accounts.create_user(
            session,
            SYSTEM,
            username=user.username,
            password=DEMO_PASSWORD,
            role=user.role,
            region=region,
            display_name=user.display_name,
            household_id=household_id,
            now=now,
            audit_it=False,
        )
    # Each feature domain's demo data, written from what the database now holds.
    from xueliang.grid import coverage_seed  # shapely and numpy: only when a county is seeded

    for domain_seed in (
        coverage_seed.seed_demo,
        grid_seed.seed_demo,
        portal_seed.seed_demo,
        hospital_seed.seed_demo,
    ):
        await domain_seed(session, now=now)
    await audit.append(
        session,
        SYSTEM,
        "demo.seed",
        at=now,
        detail={"regions": len(regions), "cameras": len(county.cameras), "users": len(county.users)},
    )
    await session.commit()
    return SeedResult(True, county)


async def demo_logins(session: AsyncSession) -> list[tuple[str, str, str]]:
    rows = await session.execute(select(User.username, User.role, User.display_name).order_by(User.id))
    return [(u, r.value, d) for u, r, d in rows.all()]
