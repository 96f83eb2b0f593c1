"""Program streams written by FFmpeg, once per test session (each is well under a second to make)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.media.ps.ffmpeg_ps import ffmpeg_ps
from xueliang.media.frames import Codec


@pytest.fixture(scope="session")
def ps_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("ps")


@pytest.fixture(scope="session")
def h264_mpeg1(ps_dir: Path) -> bytes:
    """H.264 and MPEG audio in an MPEG-1 system stream (`ffmpeg -f mpeg`): 50 frames, GOP 25."""
    return ffmpeg_ps(ps_dir / "h264.mpg").read_bytes()


@pytest.fixture(scope="session")
def h264_vob_bframes(ps_dir: Path) -> bytes:
    """H.264 with B-frames and MPEG audio in an MPEG-2 program stream (`ffmpeg -f vob`)."""
    return ffmpeg_ps(ps_dir / "h264b.vob", fmt="vob", bframes=2).read_bytes()


@pytest.fixture(scope="session")
def h265_vob(ps_dir: Path) -> bytes:
    """H.265 in an MPEG-2 program stream, no audio: 50 frames, GOP 25."""
    return ffmpeg_ps(ps_dir / "h265.vob", fmt="vob", codec=Codec.h265, audio=None).read_bytes()
