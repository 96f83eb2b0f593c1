"""Which mask set a PTZ camera's picture gets (media/mask/presets.py), what a PTZ command does to it
(gb28181/ptz.py `effect`), and the stored side (cameras/masks.py): preset sets per camera, a set that
is no longer in force once its preset is saved again, and the recorded positions playback reads."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import delete, update

from tests.support.alarms import Login
from xueliang.cameras import masks
from xueliang.cameras.mask_models import CameraMask, CameraMaskSet, CameraPtzPosition
from xueliang.cameras.models import Camera
from xueliang.core.clock import ManualClock
from xueliang.core.context import AppContext
from xueliang.gb28181.ptz import ACTIONS, effect, ptz_cmd
from xueliang.media.mask.presets import (
    FULL_FRAME,
    SETTLE_SECONDS,
    MaskSets,
    MaskTimeline,
    Position,
    mask_sets,
    polygons_for,
)

A = (((0.1, 0.1), (0.3, 0.1), (0.3, 0.3)),)
B = (((0.6, 0.6), (0.9, 0.6), (0.9, 0.9)),)
D = (((0.0, 0.0), (0.2, 0.0), (0.2, 0.2)),)
PTZ = MaskSets(D, {6: A, 7: B, 8: ()}, ptz=True, masked=True)


def test_a_fixed_camera_always_gets_its_default_set() -> None:
    fixed = MaskSets(D, {6: A}, ptz=False, masked=True)
    assert polygons_for(fixed, None, 100.0) == D
    assert polygons_for(fixed, Position(0.0, None), 100.0) == D
    assert polygons_for(fixed, Position(0.0, 6), 100.0) == D


def test_a_dome_gets_its_presets_set_after_settling_and_the_whole_picture_otherwise() -> None:
    assert polygons_for(PTZ, None, 100.0) == D  # never moved by us: as installed
    assert polygons_for(PTZ, Position(90.0, None), 100.0) == FULL_FRAME  # moved by hand
    assert polygons_for(PTZ, Position(90.0, 6), 100.0) == A
    assert polygons_for(PTZ, Position(90.0, 7), 100.0) == B
    assert polygons_for(PTZ, Position(90.0, 8), 100.0) == ()  # an empty set drawn on purpose
    assert polygons_for(PTZ, Position(90.0, 9), 100.0) == FULL_FRAME  # no set in force for it
    arrived = 100.0 - SETTLE_SECONDS / 2  # the dome may still be turning
    assert polygons_for(PTZ, Position(arrived, 6), 100.0) == FULL_FRAME
    assert polygons_for(PTZ, Position(arrived, 6), 100.0, settle=0) == A


def test_stored_sets_become_mask_sets_and_a_fixed_camera_ignores_preset_sets() -> None:
    sets = mask_sets(
        [[[0, 0], [0.2, 0], [0.2, 0.2]]], {6: [[[0.1, 0.1], [0.3, 0.1], [0.3, 0.3]]]}, True, True
    )
    assert sets.default == D and sets.presets == {6: A}
    assert mask_sets([], {6: [[[0.1, 0.1], [0.3, 0.1], [0.3, 0.3]]]}, False, False).presets == {}
    assert hash(sets) == hash(
        mask_sets([[[0, 0], [0.2, 0], [0.2, 0.2]]], {6: [list(map(list, A[0]))]}, True, True)
    )


def test_a_timeline_gives_each_recorded_moment_the_set_then_in_force() -> None:
    timeline = MaskTimeline(
        PTZ,
        (Position(100.0, None, 1), Position(101.0, 6, 2), Position(200.0, None, 3), Position(200.0, 7, 4)),
        settle=2.0,
    )
    assert timeline.at(50.0) == D  # before any recorded move
    assert timeline.at(100.5) == FULL_FRAME  # on its way
    assert timeline.at(102.0) == FULL_FRAME  # arrived, settling
    assert timeline.at(150.0) == A
    assert timeline.at(201.0) == FULL_FRAME  # the later of two positions of one time wins
    assert timeline.at(203.0) == B
    assert MaskTimeline(MaskSets(D)).at(1e9) == D


def test_ptz_commands_are_read_as_moves_calls_saves_or_neither() -> None:
    seen = {action: effect(ptz_cmd(action, 60, 6)) for action in ACTIONS}
    assert seen["preset_call"] == ("call", 6)
    assert seen["preset_set"] == ("save", 6)
    assert seen["preset_delete"] == ("delete", 6)
    assert seen["stop"] == ("keep", 0)
    for action in ("left", "right", "up", "down", "up_left", "down_right", "zoom_in", "zoom_out"):
        assert seen[action] == ("move", 0), action
    assert effect("nonsense") == ("keep", 0)
    assert effect("A50F01") == ("keep", 0)


async def test_preset_sets_are_stored_per_preset_and_lapse_when_the_preset_is_saved_again(
    papp: FastAPI, plogin: Login, clock: ManualClock
) -> None:
    ctx: AppContext = papp.state.ctx
    admin = await plogin("admin")
    camera = (await admin.get("/api/v1/cameras")).json()[-1]["id"]
    area = {"masks": [{"label": "院子", "points": [[0.1, 0.1], [0.3, 0.1], [0.3, 0.3]]}]}
    url = f"/api/v1/cameras/{camera}/masks"

    async def put(preset: int, body: dict[str, object]) -> httpx.Response:
        return await admin.put(url, params={"preset": preset}, json=body)

    r = await put(6, area)
    assert r.status_code == 422 and "PTZ" in r.json()["message"]  # a fixed camera has one set
    for bad in (-1, 256, "x"):
        assert (await admin.get(url, params={"preset": bad})).status_code == 422
    async with ctx.db.session() as session:
        await session.execute(update(Camera).where(Camera.id == camera).values(ptz=True))
        await session.commit()
    try:
        assert (await put(6, area)).status_code == 200
        assert (await put(8, {"masks": []})).status_code == 200  # an empty set, on purpose
        got = (await admin.get(url, params={"preset": 6})).json()
        assert got["ptz"] and got["position"] is None and len(got["masks"]) == 1
        assert [(s["preset"], s["areas"], s["in_force"]) for s in got["sets"]] == [(6, 1, True), (8, 0, True)]
        assert (await admin.get(url)).json()["masks"] == []  # the default set is apart

        async with ctx.db.session() as session:
            stored = (await masks.stored_sets(session, [camera]))[camera]
            assert stored.ptz and stored.masked and set(stored.presets) == {6, 8} and stored.default == []
            assert await masks.has_masks(session, camera)  # only a preset's set: still masked
            clock.advance(5)
            await masks.preset_saved(session, camera, 6, clock.now())  # preset 6 now points elsewhere
            await session.commit()
            stored = (await masks.stored_sets(session, [camera]))[camera]
            assert set(stored.presets) == {8} and stored.masked  # 6 lapsed; still masked viewers
        got = (await admin.get(url, params={"preset": 6})).json()
        assert [(s["preset"], s["in_force"]) for s in got["sets"]] == [(6, False), (8, True)]
        clock.advance(5)
        assert (await put(6, area)).status_code == 200  # drawn again: in force again
        got = (await admin.get(url, params={"preset": 6})).json()
        assert [(s["preset"], s["in_force"]) for s in got["sets"]] == [(6, True), (8, True)]

        # positions: recorded with their times; playback reads the one in force at a range's start
        async with ctx.db.session() as session:
            t0 = clock.now()
            await masks.record_position(session, camera, None, "moving", "admin", t0)
            await masks.record_position(session, camera, 6, "preset_call", "admin", t0 + timedelta(seconds=1))
            await masks.record_position(session, camera, None, "move", "admin", t0 + timedelta(hours=1))
            await session.commit()
            latest = (await masks.latest_positions(session, [camera]))[camera]
            assert latest[1] is None and latest[0] == t0 + timedelta(hours=1)
            rows = await masks.positions_between(
                session, camera, t0 + timedelta(minutes=5), t0 + timedelta(hours=2)
            )
            assert [p for _, p, _ in rows] == [6, None]
            # older than the camera's recordings can be: dropped, but for the one in force then
            far = t0 + timedelta(days=400)
            await masks.record_position(session, camera, 7, "preset_call", "admin", far)
            await session.commit()
            rows = await masks.positions_between(session, camera, t0, far)
            assert [p for _, p, _ in rows] == [None, 7]
        got = (await admin.get(url)).json()
        assert got["position"]["preset"] == 7
    finally:
        async with ctx.db.session() as session:
            await session.execute(update(Camera).where(Camera.id == camera).values(ptz=False))
            for table in (CameraMask, CameraMaskSet, CameraPtzPosition):
                await session.execute(delete(table).where(table.camera_id == camera))
            await session.commit()
