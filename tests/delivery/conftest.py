"""Clips are encoded once per session: real libx264/libx265 output, small enough to stay fast."""

from __future__ import annotations

import pytest

from xueliang.media.frames import AccessUnit, Codec

from .clips import encode_clip


@pytest.fixture(scope="session")
def h264_clip() -> list[AccessUnit]:
    """2 s at 25 fps, keyframe every second, camera marker 0."""
    return encode_clip(frames=50, gop=25)


@pytest.fixture(scope="session")
def clips() -> dict[int, list[AccessUnit]]:
    """One clip per camera id 1..3, each showing its own marker (index = id)."""
    return {i: encode_clip(frames=50, gop=25, camera_index=i) for i in (1, 2, 3)}


@pytest.fixture(scope="session")
def h265_clip() -> list[AccessUnit]:
    return encode_clip(codec=Codec.h265, frames=30, gop=15, fill_size=False)
