"""RTSP re-serve: every live channel pulled again over authenticated RTSP (parents, VLC, ffmpeg)."""

from xueliang.media.restream.access import Denied, RestreamAccess
from xueliang.media.restream.server import RestreamConfig, RtspRestreamer

__all__ = ["Denied", "RestreamAccess", "RestreamConfig", "RtspRestreamer"]
