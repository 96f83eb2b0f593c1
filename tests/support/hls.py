"""A plain HLS client, as a set-top box player is: it reads only `#EXT-X-MAP` and `#EXTINF` segments and
ignores every low-latency tag (parts, preload hints, blocking reload), so a playlist that lists only
parts gives it nothing to play."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

import httpx


@dataclass(frozen=True)
class PlainPlaylist:
    init_uri: str | None
    segments: list[tuple[float, str]]  # (duration from #EXTINF, absolute URI)


def parse_plain(text: str, base: str) -> PlainPlaylist:
    init_uri: str | None = None
    segments: list[tuple[float, str]] = []
    duration: float | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#EXT-X-MAP:"):
            uri = line.split('URI="', 1)[1].split('"', 1)[0]
            init_uri = urljoin(base, uri)
        elif line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:") :].split(",", 1)[0])
        elif line and not line.startswith("#") and duration is not None:
            segments.append((duration, urljoin(base, line)))
            duration = None
    return PlainPlaylist(init_uri, segments)


def first_segment(playlist_url: str, timeout: float = 15.0) -> tuple[PlainPlaylist, bytes]:
    """One playlist request, as a player makes it, then the init segment and the first whole segment
    concatenated (a playable fMP4). Fails if the first playlist lists no whole segment."""
    with httpx.Client(timeout=timeout) as client:
        response = client.get(playlist_url)
        response.raise_for_status()
        playlist = parse_plain(response.text, playlist_url)
        assert playlist.segments, f"the first playlist lists no whole segment:\n{response.text}"
        assert playlist.init_uri is not None, "no #EXT-X-MAP in the playlist"
        init = client.get(playlist.init_uri)
        segment = client.get(playlist.segments[0][1])
        init.raise_for_status()
        segment.raise_for_status()
        return playlist, init.content + segment.content
