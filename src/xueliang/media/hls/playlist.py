"""The LL-HLS media playlist text for a packager's current window.

Every URI carries the caller's query (the stream token), because the token is checked on every request
and players resolve segment URIs relative to the playlist without its query string."""

from __future__ import annotations

from xueliang.media.fmp4 import TIMESCALE
from xueliang.media.hls.packager import HlsPackager, Segment


def _seconds(ticks: int) -> str:
    return f"{ticks / TIMESCALE:.5f}"


def render_playlist(packager: HlsPackager, query: str = "") -> str:
    """Playlist with EXT-X-MAP per codec configuration, parts of the newest segments and a preload hint.

    `query` is appended to every URI as is (e.g. "?token=..."); it must already be URL-safe."""
    config = packager.config
    listed: list[Segment] = list(packager.segments)
    if packager.current is not None:
        listed.append(packager.current)
    first = listed[0].msn if listed else packager.next_msn
    part_hold = 3 * config.part_target
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:9",
        f"#EXT-X-TARGETDURATION:{packager.target_duration}",
        f"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK={part_hold:.3f},"
        f"HOLD-BACK={3 * packager.target_duration:.3f}",
        f"#EXT-X-PART-INF:PART-TARGET={config.part_target:.3f}",
        f"#EXT-X-MEDIA-SEQUENCE:{first}",
        f"#EXT-X-DISCONTINUITY-SEQUENCE:{packager.discontinuity_sequence}",
        "#EXT-X-INDEPENDENT-SEGMENTS",
    ]
    with_parts = {s.msn for s in listed[-(config.parts_shown + 1) :]}
    epoch: int | None = None
    for index, segment in enumerate(listed):
        if segment.epoch != epoch:
            if index > 0:
                lines.append("#EXT-X-DISCONTINUITY")
            lines.append(f'#EXT-X-MAP:URI="init{segment.epoch}.mp4{query}"')
            epoch = segment.epoch
        if segment.msn in with_parts:
            for part in segment.parts:
                independent = ",INDEPENDENT=YES" if part.independent else ""
                lines.append(
                    f"#EXT-X-PART:DURATION={_seconds(part.duration)},"
                    f'URI="part{segment.msn}.{part.index}.m4s{query}"{independent}'
                )
        if segment.complete:
            lines.append(f"#EXTINF:{_seconds(segment.duration)},")
            lines.append(f"seg{segment.msn}.m4s{query}")
    if packager.current is not None and not packager.closed:
        hint = f"part{packager.current.msn}.{len(packager.current.parts)}.m4s{query}"
        lines.append(f'#EXT-X-PRELOAD-HINT:TYPE=PART,URI="{hint}"')
    return "\n".join(lines) + "\n"
