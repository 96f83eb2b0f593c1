"""The HLS audio rendition of a camera's sound: the AudioChannel's fragments grouped into whole segments
of about `segment_target` seconds (AAC frames all decode on their own, so any fragment may start one),
a sliding window kept in memory, and the media playlist that lists them.

A separate rendition (`EXT-X-MEDIA:TYPE=AUDIO` in a master playlist) rather than audio muxed into the
video segments: the video's segments stay byte for byte what they are without sound, and a camera whose
sound breaks off leaves the picture alone. No LL-HLS parts: the players this serves (FFmpeg, set-top
boxes) read whole segments; the console listens over its WebSocket."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from xueliang.media.audio.channel import AudioFragment, AudioItem
from xueliang.media.audio.fmp4 import AudioInit


@dataclass(slots=True)
class AudioSegment:
    msn: int
    epoch: int
    start: int  # samples
    discontinuity: bool
    chunks: list[bytes] = field(default_factory=list)
    duration: int = 0  # samples
    data: bytes = b""


class AudioHlsPackager:
    """A listener of one AudioChannel (`on_item`); `detach` stops listening (and any G.711 transcoding)."""

    def __init__(self, segment_target: float = 2.0, window: int = 6) -> None:
        self.segment_target = segment_target
        self.window = window
        self.inits: dict[int, AudioInit] = {}
        self.epoch = -1
        self.segments: list[AudioSegment] = []  # complete, oldest first
        self.current: AudioSegment | None = None
        self.next_msn = 0
        self.discontinuity_sequence = 0
        self.target_duration = max(1, math.ceil(segment_target))
        self.last_used = time.monotonic()
        self.detach: Callable[[], None] = lambda: None
        self._changed = asyncio.Event()

    def on_item(self, item: AudioItem) -> None:
        """AudioChannel listener: a new init starts a new epoch; fragments fill segments."""
        if isinstance(item, AudioInit):
            if self.current is not None and self.current.chunks:
                self._close()
            self.current = None
            self.epoch += 1
            self.inits[self.epoch] = item
            return
        self._fragment(item)

    def _fragment(self, item: AudioFragment) -> None:
        if self.epoch < 0:
            return
        segment = self.current
        if segment is None:
            discontinuity = bool(self.segments) and self.segments[-1].epoch != self.epoch
            segment = self.current = AudioSegment(self.next_msn, self.epoch, item.decode_time, discontinuity)
            self.next_msn += 1
        segment.chunks.append(item.data)
        segment.duration = item.decode_time + item.duration - segment.start
        rate = self.inits[self.epoch].config.sample_rate
        if segment.duration >= self.segment_target * rate * 0.9:
            self._close()

    def _close(self) -> None:
        segment = self.current
        assert segment is not None
        segment.data = b"".join(segment.chunks)
        segment.chunks = []
        self.segments.append(segment)
        self.current = None
        rate = self.inits[segment.epoch].config.sample_rate
        self.target_duration = max(self.target_duration, math.ceil(segment.duration / rate))
        while len(self.segments) > self.window:
            self.segments.pop(0)
            if self.segments[0].discontinuity:
                self.discontinuity_sequence += 1
        live = {s.epoch for s in self.segments} | {self.epoch}
        for epoch in [e for e in self.inits if e not in live]:
            del self.inits[epoch]
        self._changed.set()
        self._changed = asyncio.Event()

    def segment_data(self, msn: int) -> bytes | None:
        if self.segments:
            offset = msn - self.segments[0].msn
            if 0 <= offset < len(self.segments):
                return self.segments[offset].data
        return None

    async def wait_for_segment(self, within: float) -> bool:
        """Block until one whole segment is listed (a plain player gives up on an empty playlist)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not self.segments:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                async with asyncio.timeout(remaining):  # not wait_for: 3.11's can eat a cancel
                    await self._changed.wait()
            except TimeoutError:
                break
        return bool(self.segments)

    def render(self, query: str = "") -> str:
        """The audio media playlist; `query` (the stream token) goes on every URI."""
        first = self.segments[0].msn if self.segments else self.next_msn
        lines = [
            "#EXTM3U",
            "#EXT-X-VERSION:7",
            f"#EXT-X-TARGETDURATION:{self.target_duration}",
            f"#EXT-X-MEDIA-SEQUENCE:{first}",
            f"#EXT-X-DISCONTINUITY-SEQUENCE:{self.discontinuity_sequence}",
            "#EXT-X-INDEPENDENT-SEGMENTS",
        ]
        epoch: int | None = None
        for index, segment in enumerate(self.segments):
            if segment.epoch != epoch:
                if index > 0:
                    lines.append("#EXT-X-DISCONTINUITY")
                lines.append(f'#EXT-X-MAP:URI="audio-init{segment.epoch}.mp4{query}"')
                epoch = segment.epoch
            rate = self.inits[segment.epoch].config.sample_rate
            lines.append(f"#EXTINF:{segment.duration / rate:.5f},")
            lines.append(f"audio-seg{segment.msn}.m4s{query}")
        return "\n".join(lines) + "\n"


def render_master(video_codec: str, audio_codec: str, channels: int, bandwidth: int, query: str = "") -> str:
    """The master playlist of a camera with sound: the video playlist and its one audio rendition."""
    return "\n".join([
        "#EXTM3U",
        "#EXT-X-VERSION:7",
        "#EXT-X-INDEPENDENT-SEGMENTS",
        f'#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="sound",NAME="camera",DEFAULT=YES,AUTOSELECT=YES,'
        f'CHANNELS="{channels}",URI="audio.m3u8{query}"',
        f'#EXT-X-STREAM-INF:BANDWIDTH={bandwidth},CODECS="{video_codec},{audio_codec}",AUDIO="sound"',
        f"video.m3u8{query}",
    ]) + "\n"  # fmt: skip
