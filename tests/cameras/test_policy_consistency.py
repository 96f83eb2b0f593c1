"""The policy's two faces agree: `may_camera` (one object) and `camera_filter` (SQL for lists)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from xueliang.accounts import service as accounts
from xueliang.accounts.models import User
from xueliang.cameras.models import Camera
from xueliang.cameras.policy import CAMERA_PERMISSIONS, camera_filter, may_camera
from xueliang.core.db import Database
from xueliang.regions.models import Region


@pytest.mark.parametrize("permission", sorted(CAMERA_PERMISSIONS))
async def test_object_and_sql_decisions_agree(seeded_url: str, permission: str) -> None:
    from xueliang.accounts.policy import Permission

    perm = Permission(permission)
    db = Database(seeded_url)
    try:
        async with db.session() as s:
            cameras = (
                await s.execute(select(Camera, Region.path).join(Region, Region.id == Camera.region_id))
            ).all()
            users = (await s.scalars(select(User))).all()
            checked = 0
            for user in users:
                p = await accounts.principal_for(s, user)
                by_sql = set(
                    (
                        await s.scalars(
                            select(Camera.id)
                            .join(Region, Region.id == Camera.region_id)
                            .where(camera_filter(p, perm))
                        )
                    ).all()
                )
                by_object = {cam.id for cam, path in cameras if may_camera(p, perm, cam, path)}
                assert by_sql == by_object, (user.username, permission)
                checked += len(by_object)
            assert checked > 0 or permission in (
                "export_video",
                "manage_cameras",
                "control_ptz",
                "view_recording",
            )
    finally:
        await db.dispose()
