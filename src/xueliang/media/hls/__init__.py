"""HLS and LL-HLS built in memory from the channel's fMP4 fragments."""

from xueliang.media.hls.packager import HlsConfig, HlsPackager
from xueliang.media.hls.playlist import render_playlist

__all__ = ["HlsConfig", "HlsPackager", "render_playlist"]
