"""G.711 → AAC with PyAV (FFmpeg's pcm_alaw/pcm_mulaw decoders, its native AAC-LC encoder), for players
and MP4 files, which take AAC but not G.711. It runs only while someone wants AAC from the camera
(`OnDemandTranscoder`: a listener or the recorder holds it), and in a worker thread, never on the
event loop: the media process's loop only moves packets (docs/media-audio.md)."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from typing import Any

from xueliang.media.audio.aac import FRAME_SAMPLES, build_asc
from xueliang.media.audio.frames import AudioCodec, AudioConfig, AudioFrame

_DECODERS = {AudioCodec.pcma: "pcm_alaw", AudioCodec.pcmu: "pcm_mulaw"}


class G711ToAac:
    """Synchronous and not thread-safe: one call at a time (OnDemandTranscoder serializes them)."""

    def __init__(self, source: AudioConfig, bitrate: int = 32_000) -> None:
        import av  # here: a node that never transcodes does not load FFmpeg for it
        from av.audio.fifo import AudioFifo

        if source.codec not in _DECODERS:
            raise ValueError(f"not G.711: {source.codec}")
        layout = "mono" if source.channels == 1 else "stereo"
        self.config = AudioConfig(
            AudioCodec.aac,
            source.sample_rate,
            source.channels,
            build_asc(source.sample_rate, source.channels),
        )
        decoder: Any = av.CodecContext.create(_DECODERS[source.codec], "r")
        decoder.sample_rate = source.sample_rate
        decoder.layout = layout
        encoder: Any = av.CodecContext.create("aac", "w")
        encoder.sample_rate = source.sample_rate
        encoder.layout = layout
        encoder.format = "fltp"
        encoder.bit_rate = bitrate
        encoder.time_base = Fraction(1, source.sample_rate)
        self._decoder, self._encoder = decoder, encoder
        self._resampler = av.AudioResampler(format="fltp", layout=layout, rate=source.sample_rate)
        self._fifo = AudioFifo()
        self._packet = av.Packet
        self._origin: int | None = None  # pts (samples) of the first AAC frame
        self._count = 0
        self._expected: int | None = None  # pts the next G.711 frame should have

    def push(self, frame: AudioFrame) -> list[AudioFrame]:
        """AAC frames completed by this G.711 frame (1024 samples each; AAC-LC's encoder delay is at
        the start of the stream, as every AAC encoder's)."""
        if self._expected is not None and abs(frame.pts - self._expected) > frame.samples:
            self._restart(frame.pts)  # a hole or a reconnect: keep AAC time on the G.711 time
        elif self._origin is None:
            self._origin = frame.pts
        self._expected = frame.pts + frame.samples
        packet = self._packet(frame.data)
        out: list[AudioFrame] = []
        for decoded in self._decoder.decode(packet):
            decoded.pts = None
            for resampled in self._resampler.resample(decoded):
                self._fifo.write(resampled)
        while self._fifo.samples >= FRAME_SAMPLES:
            chunk = self._fifo.read(FRAME_SAMPLES)
            assert chunk is not None
            chunk.pts = self._count * FRAME_SAMPLES
            chunk.time_base = self._encoder.time_base
            for encoded in self._encoder.encode(chunk):
                out.append(self._frame(bytes(encoded)))
        return out

    def _frame(self, data: bytes) -> AudioFrame:
        assert self._origin is not None
        pts = self._origin + self._count * FRAME_SAMPLES
        self._count += 1
        return AudioFrame(data, pts, FRAME_SAMPLES, self.config)

    def _restart(self, pts: int) -> None:
        self._fifo = type(self._fifo)()
        self._origin, self._count = pts, 0


class OnDemandTranscoder:
    """Transcodes only while held (`acquire`/`release` by listeners and the recorder), in one worker
    thread; with nobody holding it, G.711 frames are dropped at no cost."""

    def __init__(self, source: AudioConfig) -> None:
        self.source = source
        self.holders = 0
        self._codec: G711ToAac | None = None
        self._pool: ThreadPoolExecutor | None = None

    def acquire(self) -> None:
        self.holders += 1

    def release(self) -> None:
        self.holders = max(0, self.holders - 1)
        if not self.holders:
            self.close()

    async def push(self, frame: AudioFrame) -> list[AudioFrame]:
        if not self.holders:
            return []
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audio-aac")
        if self._codec is None:
            self._codec = await asyncio.get_running_loop().run_in_executor(self._pool, G711ToAac, self.source)
        codec = self._codec
        return await asyncio.get_running_loop().run_in_executor(self._pool, codec.push, frame)

    def close(self) -> None:
        """Forget the codec (the next holder starts a fresh stream) and let the thread go."""
        self._codec = None
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None
