"""Stills for the camera tiles: real H.264 and H.265 keyframes (libx264/libx265 at test time) decoded to
small JPEGs, the per-camera cache and its coalescing, the "no picture" answers, and the route's rule,
answers and throttled audit (with a channel fed in process standing in for the engine)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import av
import httpx
import numpy.typing as npt
import pytest
from fastapi import FastAPI

from tests.support.clips import encode_clip, marker_level
from xueliang.core.context import AppContext
from xueliang.media.channel import Channel
from xueliang.media.frames import AccessUnit, Codec
from xueliang.media.plane.plane import MediaPlane
from xueliang.media.still import NoPicture, StillCache, decode_still, latest_keyframe

Login = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture(scope="module")
def clip_640() -> dict[Codec, list[AccessUnit]]:
    """One 640×360 clip per codec, keyframe every 10 frames, marker of camera index 2."""
    return {
        codec: encode_clip(codec=codec, frames=20, gop=10, width=640, height=360, camera_index=2)
        for codec in (Codec.h264, Codec.h265)
    }


def luma_of(jpeg: bytes) -> npt.NDArray[Any]:
    with av.open(io.BytesIO(jpeg), mode="r") as container:
        frame = next(iter(container.decode(video=0)))
        assert container.streams.video[0].codec_context.name == "mjpeg"
        return frame.to_ndarray(format="gray")


class Ticks:
    """A settable monotonic clock for the cache."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def fed(clip: list[AccessUnit], frames: int, camera_id: int = 1) -> Channel:
    channel = Channel(camera_id)
    for au in clip[:frames]:
        channel.push(au)
    return channel


@pytest.mark.parametrize("codec", [Codec.h264, Codec.h265])
async def test_the_latest_keyframe_decodes_to_a_small_jpeg(
    codec: Codec, clip_640: dict[Codec, list[AccessUnit]]
) -> None:
    channel = fed(clip_640[codec], 15)  # the second GOP's keyframe (frame 10) and 4 frames after it
    found = latest_keyframe(channel)
    assert found is not None and found[1].keyframe and found[1].index == 10
    cache = StillCache(lambda _id: channel)
    try:
        still = await cache.get(1)
    finally:
        cache.close()
    assert (still.width, still.height) == (320, 180)
    assert still.jpeg[:2] == b"\xff\xd8" and len(still.jpeg) < 20_000
    luma = luma_of(still.jpeg)
    assert luma.shape == (180, 320)
    # The clip's 32 px marker block is 16 px after scaling; its level names camera index 2.
    assert abs(float(luma[3:13, 3:13].mean()) - marker_level(2)) < 12


async def test_one_decode_per_keyframe_however_many_ask(clip_640: dict[Codec, list[AccessUnit]]) -> None:
    clip = clip_640[Codec.h264]
    channel = fed(clip, 5)
    ticks = Ticks()
    cache = StillCache(lambda _id: channel, max_age=5.0, clock=ticks)
    try:
        stills = await asyncio.gather(*(cache.get(1) for _ in range(20)))
        assert cache.decodes == 1 and cache.coalesced == 19
        assert all(s is stills[0] for s in stills)

        ticks.now += 1  # within max_age: the cache answers without looking at the channel
        assert await cache.get(1) is stills[0] and cache.hits == 1

        ticks.now += 10  # expired, but the channel still holds the same keyframe: no new decode
        assert await cache.get(1) is stills[0] and cache.decodes == 1

        for au in clip[5:12]:  # a new keyframe (frame 10) arrives
            channel.push(au)
        assert await cache.get(1) is stills[0]  # the cached one is fresh for max_age again
        ticks.now += 10
        newer = await cache.get(1)
        assert newer is not stills[0] and cache.decodes == 2
    finally:
        cache.close()


async def test_a_caller_that_leaves_does_not_cancel_the_decode_of_the_others(
    clip_640: dict[Codec, list[AccessUnit]],
) -> None:
    channel = fed(clip_640[Codec.h265], 3)
    cache = StillCache(lambda _id: channel)
    try:
        first = asyncio.ensure_future(cache.get(1))
        second = asyncio.ensure_future(cache.get(1))
        await asyncio.sleep(0)
        first.cancel()
        still = await second
        assert still.width == 320 and cache.decodes == 1
    finally:
        cache.close()


async def test_no_keyframe_offline_or_unknown_is_no_picture(clip_640: dict[Codec, list[AccessUnit]]) -> None:
    clip = clip_640[Codec.h264]
    channels = {1: Channel(1), 2: fed(clip, 5, 2)}
    for au in clip[1:5]:  # no keyframe: nothing cached
        channels[1].push(au)

    def channel_of(camera_id: int) -> Channel:
        return channels[camera_id]  # KeyError for a camera the engine does not pull

    cache = StillCache(channel_of, max_age=0.0)
    try:
        for camera_id in (1, 3):
            with pytest.raises(NoPicture):
                await cache.get(camera_id)
        assert (await cache.get(2)).width == 320
        channels[2].set_online(False, "no data for 10 s")  # the GOP cache goes with the camera
        with pytest.raises(NoPicture, match="no keyframe"):
            await cache.get(2)
    finally:
        cache.close()
    with pytest.raises(NoPicture):
        decode_still(b"\x00\x00\x00\x08free" + b"garbage" * 10)


# -- the route ------------------------------------------------------------------------------------


@dataclass
class StubPlane:
    """What the still route needs of the plane: its stills and its audit memory."""

    stills: StillCache
    still_audits: dict[tuple[int, int], datetime] = field(default_factory=dict)


async def camera_ids(c: httpx.AsyncClient) -> dict[str, int]:
    return {cam["gb_id"]: cam["id"] for cam in (await c.get("/api/v1/cameras")).json()}


async def test_still_route_rule_answers_and_throttled_audit(
    app: FastAPI, login: Login, clip_640: dict[Codec, list[AccessUnit]]
) -> None:
    ctx: AppContext = app.state.ctx
    admin, resident, auditor = await login("admin"), await login("res-v01"), await login("auditor")
    every = await camera_ids(admin)
    public = await camera_ids(resident)
    private_id = next(i for gb, i in every.items() if gb not in public)
    public_id = next(iter(public.values()))

    # Without the media engine (the tests' default app): a clear 503 in scope, 404 out of scope.
    off = await resident.get(f"/api/v1/cameras/{public_id}/still.jpg")
    assert off.status_code == 503 and off.json()["code"] == "media_disabled"

    channel = fed(clip_640[Codec.h264], 5, public_id)
    empty = Channel(private_id)
    cache = StillCache(lambda cid: {public_id: channel, private_id: empty}[cid])
    ctx.services.add(cast(MediaPlane, StubPlane(cache)), MediaPlane)
    try:
        for _ in range(3):
            got = await resident.get(f"/api/v1/cameras/{public_id}/still.jpg")
            assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
            assert got.headers["cache-control"].startswith("private, max-age=")
            assert luma_of(got.content).shape == (180, 320)
        hidden = await resident.get(f"/api/v1/cameras/{private_id}/still.jpg")
        missing = await resident.get("/api/v1/cameras/999999/still.jpg")
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json() == missing.json() == {"code": "not_found", "message": "camera not found"}
        assert (await auditor.get(f"/api/v1/cameras/{public_id}/still.jpg")).status_code == 404
        none_yet = await admin.get(f"/api/v1/cameras/{private_id}/still.jpg")
        assert none_yet.status_code == 404 and none_yet.json()["code"] == "no_picture"
    finally:
        cache.close()  # the app (and the stub registered in it) is this test's alone
    rows = (await auditor.get("/api/v1/audit", params={"action": "camera.still"})).json()
    mine = [r for r in rows if r["actor"] == "res-v01"]
    assert [(r["target_id"], r["action"]) for r in mine] == [(str(public_id), "camera.still")]
