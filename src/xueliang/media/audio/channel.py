"""One camera's sound for its listeners, beside (never inside) the video channel: AAC frames cut into
fragments of a one-track audio fMP4 (fmp4.py), G.711 made into AAC first, but only while a listener
is attached (OnDemandTranscoder). The video channel, its GOP cache and its viewers' queues never see
an audio byte, so sound cannot stall, delay or shift the picture.

Fed by the RTSP session's `audio_sink` (synchronous, on the event loop); listeners are synchronous too
and get the AudioInit first, then each AudioFragment (a live audio socket, an HLS audio rendition or
the recorder's audio file attach here)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

from xueliang.media.audio.fmp4 import AudioFragmentWriter, AudioInit, build_audio_init
from xueliang.media.audio.frames import AudioCodec, AudioConfig, AudioFrame
from xueliang.media.audio.transcode import OnDemandTranscoder

log = logging.getLogger(__name__)

_BACKLOG = 64  # G.711 frames waiting for the transcoder; more means it cannot keep up: drop


@dataclass(frozen=True, slots=True)
class AudioFragment:
    data: bytes  # moof + mdat
    decode_time: int  # samples at the init's sample rate
    duration: int  # samples
    arrived_ns: int


AudioItem = AudioInit | AudioFragment
AudioListener = Callable[[AudioItem], None]


class AudioChannel:
    """`push` frames in; `add_listener` to get the track. `frames_per_fragment` AAC frames make one
    fragment (5 at 16 kHz: 320 ms; a fragment per frame would be 15-47 tiny boxes a second)."""

    def __init__(self, camera_id: int, frames_per_fragment: int = 5) -> None:
        self.camera_id = camera_id
        self.frames_per_fragment = frames_per_fragment
        self.init: AudioInit | None = None
        self._writer = AudioFragmentWriter()
        self._run: list[AudioFrame] = []
        self._listeners: list[AudioListener] = []
        self._source: AudioConfig | None = None
        self._transcoder: OnDemandTranscoder | None = None
        self._queue: asyncio.Queue[AudioFrame] | None = None
        self._task: asyncio.Task[None] | None = None
        self.frames_in = 0
        self.dropped = 0  # G.711 the transcoder could not keep up with
        self.fragments = 0

    @property
    def listening(self) -> bool:
        return bool(self._listeners)

    def push(self, frame: AudioFrame) -> None:
        """Take one frame from the camera; with nobody listening it is dropped at once."""
        self.frames_in += 1
        if not self._listeners:
            return
        if frame.config.codec is AudioCodec.aac:
            self._take(frame)
            return
        if frame.config != self._source:
            self._restart_transcoder(frame.config)
        assert self._queue is not None
        if self._queue.qsize() >= _BACKLOG:
            self.dropped += 1
            return
        self._queue.put_nowait(frame)

    def add_listener(self, listener: AudioListener) -> Callable[[], None]:
        """Attach; returns the function that detaches. The last listener leaving stops any transcoding."""
        self._listeners.append(listener)
        if self.init is not None:
            listener(self.init)

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)
            if not self._listeners:
                self._stop_transcoder()
                self._run = []

        return remove

    def close(self) -> None:
        self._listeners.clear()
        self._stop_transcoder()

    async def aclose(self) -> None:
        """`close`, then wait for a cancelled transcoding task to finish (tidy shutdowns and tests)."""
        task = self._task
        self.close()
        if task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # -- inside ------------------------------------------------------------------------------------

    def _take(self, frame: AudioFrame) -> None:
        """One AAC frame (as the camera sent it or as the transcoder made it) into the current run."""
        if self.init is None or self.init.config != frame.config:
            self.init = build_audio_init(frame.config)
            self._run = []
            self._notify(self.init)
        run = self._run
        if run and frame.pts != run[-1].pts + run[-1].samples:  # a hole: the run ends before it
            self._flush()
        self._run.append(frame)
        if len(self._run) >= self.frames_per_fragment:
            self._flush()

    def _flush(self) -> None:
        run, self._run = self._run, []
        if not run:
            return
        samples = run[0].samples
        data = self._writer.write(run[0].pts, [f.data for f in run], samples)
        self.fragments += 1
        self._notify(AudioFragment(data, run[0].pts, samples * len(run), run[-1].arrived_ns))

    def _notify(self, item: AudioItem) -> None:
        for listener in list(self._listeners):
            try:
                listener(item)
            except Exception:
                log.exception("camera %s: audio listener %r failed and was removed", self.camera_id, listener)
                self._listeners.remove(listener)

    def _restart_transcoder(self, source: AudioConfig) -> None:
        self._stop_transcoder()
        self._source = source
        self._transcoder = OnDemandTranscoder(source)
        self._transcoder.acquire()
        self._queue = asyncio.Queue()
        self._task = asyncio.get_running_loop().create_task(
            self._transcode(self._transcoder, self._queue), name=f"audio-aac-{self.camera_id}"
        )

    async def _transcode(self, transcoder: OnDemandTranscoder, queue: asyncio.Queue[AudioFrame]) -> None:
        while True:
            frame = await queue.get()
            try:
                made = await transcoder.push(frame)
            except Exception:
                log.exception("camera %s: G.711 to AAC failed; audio stops", self.camera_id)
                return
            arrived = frame.arrived_ns
            for out in made:
                out.arrived_ns = arrived
                self._take(out)

    def _stop_transcoder(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        if self._transcoder is not None:
            self._transcoder.release()
            self._transcoder = None
        self._source, self._queue = None, None
