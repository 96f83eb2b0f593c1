"""RTSP re-serve: every live channel pulled again over authenticated RTSP (parents, VLC, ffmpeg)."""

from xueliang.media.reserve.access import Denied, ReServeAccess
from xueliang.media.reserve.server import ReServeConfig, RtspReServer

__all__ = ["Denied", "ReServeAccess", "ReServeConfig", "RtspReServer"]
