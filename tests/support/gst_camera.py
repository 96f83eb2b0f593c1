"""Debian's GStreamer RTSP server as an outside camera: it encodes live (x264 with B-frames, x265,
G.711 or AAC audio) and speaks RTSP its own way, so the node meets a server it was not written against.

The server runs under the system python3 (python3-gi, gir1.2-gst-rtsp-server-1.0; scripts/system-deps.sh
installs them), in a subprocess of its own; `gst_cameras()` starts it with one mount per camera and
yields the URL of each. Tests skip when the packages are missing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import pytest

SYSTEM_PYTHON = "/usr/bin/python3"

_VIDEO = "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=180,framerate=25/1"
H264_BFRAMES = (
    f"{_VIDEO} ! x264enc speed-preset=superfast bframes=2 b-adapt=false key-int-max=25 "
    "! video/x-h264,profile=main ! rtph264pay name=pay0 pt=96 config-interval=-1"
)
"""H.264 Main with two B-frames between references (IBBP), a keyframe a second."""
H265_BFRAMES = (
    f"{_VIDEO} ! x265enc speed-preset=superfast key-int-max=25 option-string=bframes=2:b-adapt=0 "
    "! rtph265pay name=pay0 pt=96 config-interval=-1"
)
"""H.265 Main with two B-frames (x265's open GOPs left as they are: what x265 cameras send)."""
H264_PLAIN = (
    f"{_VIDEO} ! x264enc speed-preset=superfast bframes=0 key-int-max=25 "
    "! video/x-h264,profile=main ! rtph264pay name=pay0 pt=96 config-interval=-1"
)
_TONE = "audiotestsrc is-live=true wave=sine freq=440"
PCMA = f"{_TONE} ! audio/x-raw,rate=8000,channels=1 ! alawenc ! rtppcmapay name=pay1 pt=8"
"""G.711 A-law at 8 kHz, as most cameras send."""
AAC = f"{_TONE} ! audio/x-raw,rate=16000,channels=1 ! voaacenc bitrate=32000 ! rtpmp4gpay name=pay1 pt=97"
"""AAC-LC in RFC 3640 (mpeg4-generic), as cameras with AAC send."""

_SERVER = r"""
import json, sys
import gi
gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer
Gst.init(None)
server = GstRtspServer.RTSPServer()
server.set_address("127.0.0.1")
server.set_service("0")
for path, launch in json.loads(sys.argv[1]).items():
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch("( " + launch + " )")
    factory.set_shared(True)
    server.get_mount_points().add_factory("/" + path, factory)
server.attach(None)
print("READY", server.get_bound_port(), flush=True)
loop = GLib.MainLoop()
GLib.io_add_watch(sys.stdin.fileno(), GLib.IO_HUP | GLib.IO_IN, lambda *a: loop.quit())
loop.run()
"""


def available() -> bool:
    """Whether the system python3 has GStreamer's RTSP server and the encoders."""
    if not os.access(SYSTEM_PYTHON, os.X_OK) or shutil.which("dpkg-query") is None:
        return False
    probe = (
        "import gi; gi.require_version('Gst','1.0'); gi.require_version('GstRtspServer','1.0');"
        "from gi.repository import Gst, GstRtspServer; Gst.init(None);"
        "import sys; sys.exit(0 if all(Gst.ElementFactory.find(e) for e in "
        "('x264enc','x265enc','alawenc','voaacenc','rtpmp4gpay')) else 1)"
    )
    return subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True, timeout=30).returncode == 0


@contextmanager
def gst_cameras(mounts: Mapping[str, str]) -> Iterator[dict[str, str]]:
    """Serve each `mounts` launch line (pay0 video, pay1 audio) at rtsp://127.0.0.1:PORT/NAME; the
    server encodes a mount once however many clients (shared media) and stops with the context."""
    if not available():
        pytest.skip("GStreamer RTSP server not installed (scripts/system-deps.sh)")
    proc = subprocess.Popen(
        [SYSTEM_PYTHON, "-c", _SERVER, json.dumps(dict(mounts))],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # the server prints READY at once, or dies
        if not line.startswith("READY"):
            raise RuntimeError(f"GStreamer RTSP server did not start: {line!r}")
        port = int(line.split()[1])
        yield {name: f"rtsp://127.0.0.1:{port}/{name}" for name in mounts}
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
