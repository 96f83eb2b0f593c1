"""Which client opens a camera URL: rtsps:// must reach our RTSP client (it verifies the camera's
certificate; FFmpeg's RTSP-over-TLS does not)."""

from __future__ import annotations

from xueliang.media.rtsp.client import RtspSource
from xueliang.media.sources import AvSource, open_source


def test_rtsp_and_rtsps_use_our_client_and_files_use_pyav() -> None:
    assert isinstance(open_source("rtsp://cam.example/stream"), RtspSource)
    assert isinstance(open_source("RTSPS://cam.example/stream"), RtspSource)
    assert isinstance(open_source("/tmp/clip.mp4"), AvSource)
