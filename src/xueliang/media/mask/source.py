"""The masked variant of a camera as a source for the engine (`mask://<camera id>`): a listener on the
camera's own channel hands each frame to a worker thread that masks and re-encodes it, and the session
yields the results, so the derived channel gets health, GOP cache, live WebSocket, HLS and RTSP like
any camera. Nothing is decoded while no derived session is open: the plane opens one only while
someone who must see the camera masked watches it.

The listener runs inside the camera channel's `push` and only queues (bounded): when the worker falls
behind, frames are dropped up to the next keyframe, so the camera's other viewers never wait on it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from xueliang.media.channel import Channel, Fragment, InitSegment
from xueliang.media.errors import MediaError
from xueliang.media.fmp4 import read_sample
from xueliang.media.frames import AccessUnit, CodecParams
from xueliang.media.mask.raster import Polygons
from xueliang.media.mask.transcode import EncodeConfig, MaskTranscoder

log = logging.getLogger(__name__)
SCHEME = "mask"


@dataclass(frozen=True, slots=True)
class MaskedSourceConfig:
    encode: EncodeConfig = field(default_factory=EncodeConfig)
    backlog: int = 8  # frames queued for the worker before it is skipped to the next keyframe


def camera_of(url: str) -> int:
    """The camera id of `mask://<id>`; raises ValueError for anything else."""
    scheme, _, rest = url.partition("://")
    if scheme.lower() != SCHEME or not rest.isdigit():
        raise ValueError(f"not a masked-source URL: {url!r}")
    return int(rest)


class MaskedSource:
    """`open()` gives one session of the masked variant of camera `camera_id`."""

    def __init__(
        self,
        url: str,
        channel_of: Callable[[int], Channel],
        polygons_of: Callable[[int], Polygons],
        config: MaskedSourceConfig | None = None,
    ) -> None:
        self.url = url
        self.camera_id = camera_of(url)
        self._channel_of = channel_of
        self._polygons_of = polygons_of
        self.config = config or MaskedSourceConfig()

    def open(self) -> MaskedSession:
        return MaskedSession(self)


_STOP = object()


class MaskedSession:
    """An async iterator of masked access units; `aclose()` detaches from the camera and ends the thread."""

    def __init__(self, source: MaskedSource) -> None:
        self._source = source
        self._out: asyncio.Queue[AccessUnit | BaseException] | None = None
        self._in: queue.Queue[object] = queue.Queue(maxsize=source.config.backlog)
        self._detach: Callable[[], None] | None = None
        self._thread: threading.Thread | None = None
        self._params: CodecParams | None = None
        self._skipping = True  # start at a keyframe
        self._closed = False
        self.dropped = 0
        self.transcoder = MaskTranscoder(lambda: source._polygons_of(source.camera_id), source.config.encode)

    @property
    def params(self) -> CodecParams | None:
        return self._params

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        self._out = asyncio.Queue()
        out = self._out

        def deliver(item: AccessUnit | BaseException) -> None:
            if not self._closed:
                out.put_nowait(item)

        def work() -> None:
            while True:
                au = self._in.get()
                if au is _STOP:
                    return
                assert isinstance(au, AccessUnit)
                try:
                    for unit in self.transcoder.push(au):
                        loop.call_soon_threadsafe(deliver, unit)
                except Exception as exc:
                    err = exc if isinstance(exc, MediaError) else MediaError(f"masking failed: {exc}")
                    with contextlib.suppress(RuntimeError):  # the loop is gone: nobody to tell
                        loop.call_soon_threadsafe(deliver, err)
                    return

        try:
            channel = self._source._channel_of(self._source.camera_id)
        except KeyError:
            raise MediaError("the camera is not pulled by this node") from None
        self._thread = threading.Thread(target=work, name=f"mask-{self._source.camera_id}", daemon=True)
        self._thread.start()
        self._detach = channel.add_listener(self._on_item)

    def _on_item(self, item: InitSegment | Fragment) -> None:
        """Runs inside the camera channel's `push`: only turns the fragment back into an access unit
        and queues it."""
        if isinstance(item, InitSegment):
            self._params = item.params
            self._skipping = True  # a new configuration starts at its keyframe
            return
        params = self._params
        if params is None:
            return
        if self._skipping:
            if not item.keyframe:
                self.dropped += 1
                return
            self._skipping = False
        nalus, cts = read_sample(item.data)
        au = AccessUnit(
            nalus=nalus,
            pts=item.decode_time + (cts or 0),
            keyframe=item.keyframe,
            params=params,
            dts=item.decode_time if cts is not None else None,
        )
        try:
            self._in.put_nowait(au)
        except queue.Full:
            self.dropped += 1
            self._skipping = True

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> AccessUnit:
        if self._closed:
            raise StopAsyncIteration
        if self._out is None:
            self._start()
        assert self._out is not None
        item = await self._out.get()
        if isinstance(item, BaseException):
            raise item
        return item

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def close(self) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Detach from the camera's channel and let the worker finish its frame; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._detach is not None:
            self._detach()
        thread = self._thread
        if thread is not None:
            while True:  # make room for the stop mark: the frames still queued are not wanted
                try:
                    self._in.put_nowait(_STOP)
                    break
                except queue.Full:
                    with contextlib.suppress(queue.Empty):
                        self._in.get_nowait()
            await asyncio.to_thread(thread.join, 5.0)
