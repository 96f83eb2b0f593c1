"""Every role x several regions x every camera route: exactly the cameras the rules allow, no leaks.

Expected sets come from the demo county's own data (village codes and public flags), not from the
policy module, so a policy bug cannot hide behind itself."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx
import pytest
from sqlalchemy import select

from xueliang.accounts import service as accounts
from xueliang.accounts.policy import Permission
from xueliang.cameras import service as cameras
from xueliang.cameras.models import Camera
from xueliang.core.db import Database
from xueliang.seed.demo import build

COUNTY = build()
ALL = {c.gb_id for c in COUNTY.cameras}


def under(prefix: str, public_only: bool = False) -> set[str]:
    return {
        c.gb_id
        for c in COUNTY.cameras
        if c.region_code.startswith(prefix) and (c.public_view or not public_only)
    }


# username -> (cameras listed and viewable, whether the list route is allowed at all)
EXPECTED: dict[str, tuple[set[str], bool]] = {
    "admin": (ALL, True),
    "auditor": (set(), False),
    "op-qingxi": (under("513223101"), True),
    "op-shimen": (under("513223102"), True),
    "duty-v01": (under("513223101201"), True),
    "duty-v07": (under("513223102202"), True),
    "gw-03": (under("513223101203"), True),
    "vol-v01-1": (set(), False),
    "res-v01": (under("513223101201", public_only=True), True),
    "res-v06": (under("513223102201", public_only=True), True),
    "res-v10": (under("513223102205", public_only=True), True),
}

Login = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def id_of(login: Login) -> dict[str, int]:
    admin = await login("admin")
    return {c["gb_id"]: c["id"] for c in (await admin.get("/api/v1/cameras")).json()}


def test_expected_sets_are_not_trivial() -> None:
    assert len(ALL) == 59
    residents = EXPECTED["res-v01"][0]
    assert 0 < len(residents) < len(EXPECTED["duty-v01"][0]), "village 1 needs public and private cameras"


async def test_camera_routes(login: Login, id_of: dict[str, int]) -> None:
    """Every role of the matrix against one app (an app per role cost more than its 177 requests)."""
    for username in sorted(EXPECTED):
        await _camera_routes_of(username, login, id_of)


async def _camera_routes_of(username: str, login: Login, id_of: dict[str, int]) -> None:
    visible, may_list = EXPECTED[username]
    c = await login(username)

    listed = await c.get("/api/v1/cameras")
    if may_list:
        assert listed.status_code == 200, username
        assert {cam["gb_id"] for cam in listed.json()} == visible, username
    else:
        assert listed.status_code == 403, username
        assert listed.json()["code"] == "forbidden", username

    for gb, cam_id in id_of.items():
        detail = await c.get(f"/api/v1/cameras/{cam_id}")
        opened = await c.post(f"/api/v1/cameras/{cam_id}/open")
        still = await c.get(f"/api/v1/cameras/{cam_id}/still.jpg")
        if gb in visible:
            assert detail.status_code == 200, (username, gb)
            assert opened.status_code == 200, (username, gb, opened.text)
            # Allowed, but the tests' app runs no media engine: a clear 503, never "not found".
            assert still.json()["code"] == "media_disabled", (username, gb, still.text)
        else:
            # Out of scope looks exactly like missing: same status, same body.
            assert detail.status_code == 404, (username, gb)
            assert detail.json() == {"code": "not_found", "message": "camera not found"}
            assert opened.status_code == 404, (username, gb)
            assert still.status_code == 404 and still.json() == detail.json(), (username, gb)

    missing = await c.get("/api/v1/cameras/999999")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found", username


@pytest.mark.parametrize("username", ["res-v01", "op-qingxi"])
async def test_region_filter_cannot_widen_scope(username: str, login: Login) -> None:
    c = await login(username)
    regions = {r["code"]: r["id"] for r in (await c.get("/api/v1/regions")).json()}
    county = regions["513223"]  # an ancestor: visible in the tree, but not a scope
    widened = await c.get("/api/v1/cameras", params={"region_id": county})
    assert {cam["gb_id"] for cam in widened.json()} == EXPECTED[username][0]


async def test_regions_show_subtree_and_ancestors_only(login: Login) -> None:
    c = await login("op-shimen")
    regions = (await c.get("/api/v1/regions")).json()
    codes = {r["code"] for r in regions}
    assert "513223" in codes and "513223102" in codes
    assert not any(code.startswith("513223101") for code in codes)
    assert {r["code"] for r in regions if not r["in_scope"]} == {"513223"}
    other = await (await login("admin")).get("/api/v1/regions")
    qingxi = next(r["id"] for r in other.json() if r["code"] == "513223101")
    assert (await c.get(f"/api/v1/regions/{qingxi}")).status_code == 404


async def test_resident_never_sees_stream_source(login: Login, id_of: dict[str, int]) -> None:
    c = await login("res-v01")
    for cam in (await c.get("/api/v1/cameras")).json():
        assert "stream_url" not in cam


@pytest.mark.parametrize("username", ["op-qingxi", "res-v01", "auditor", "duty-v01"])
async def test_non_admins_cannot_manage(username: str, login: Login, id_of: dict[str, int]) -> None:
    c = await login(username)
    some_id = next(iter(id_of.values()))
    assert (await c.get("/api/v1/users")).status_code == 403
    assert (await c.patch(f"/api/v1/cameras/{some_id}", json={"name": "x"})).status_code == 403
    assert (await c.delete(f"/api/v1/cameras/{some_id}")).status_code == 403


@pytest.mark.parametrize("username", sorted(EXPECTED))
async def test_allowed_camera_ids_for_periodic_rechecks(username: str, seeded_url: str) -> None:
    """The one-query answer for many cameras (what open live streams are re-checked with)."""
    db = Database(seeded_url)
    try:
        async with db.session() as s:
            gb_of = {i: gb for i, gb in (await s.execute(select(Camera.id, Camera.gb_id))).all()}
            user = await accounts.find_user(s, username)
            assert user is not None
            p = await accounts.principal_for(s, user)
            allowed = await cameras.allowed_camera_ids(s, p, gb_of, Permission.view_live)
            assert {gb_of[i] for i in allowed} == EXPECTED[username][0]
            some = sorted(gb_of)[::7]
            assert await cameras.allowed_camera_ids(s, p, some, Permission.view_live) == allowed & set(some)
            assert await cameras.allowed_camera_ids(s, p, [], Permission.view_live) == frozenset()
    finally:
        await db.dispose()
