"""One interface for every camera source: `source.open()` gives a session that is an async iterator
of AccessUnits and an async context manager. RTSP URLs go to our own client (marker-bit frame
emission, no FFmpeg delay); anything else (a file, RTMP, HTTP, RTSPS) goes through PyAV in a thread.

    source = open_source(url)
    async with source.open() as session:
        async for au in session: ...
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from types import TracebackType
from typing import Any, Protocol, Self

from xueliang.media.codecs.annexb import split_annexb, split_length_prefixed
from xueliang.media.codecs.config_record import parse_avcc, parse_hvcc
from xueliang.media.codecs.params import ParamSetTracker, is_keyframe
from xueliang.media.errors import MediaConnectionError, MediaError, MediaProtocolError
from xueliang.media.frames import AccessUnit, Codec, CodecParams
from xueliang.media.rtp.timeline import Timeline
from xueliang.media.rtsp.client import RtspSource, Transport

_CODECS = {"h264": Codec.h264, "hevc": Codec.h265}
_QUEUE = 64  # access units the reader thread may run ahead of the consumer


class FrameSession(Protocol):
    """What every source's `open()` returns."""

    @property
    def params(self) -> CodecParams | None: ...

    def __aiter__(self) -> Self: ...

    async def __anext__(self) -> AccessUnit: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    async def close(self) -> None: ...

    async def aclose(self) -> None: ...


class FrameSource(Protocol):
    url: str

    def open(self) -> FrameSession: ...


class SourceSchemes:
    """URL schemes served by another part of the node (`gb28181://device/channel`: the SIP platform
    INVITEs the device), tried before our RTSP client and PyAV. The library knows no domain; the domain
    registers its factory when the node starts (gb28181/runtime.py)."""

    def __init__(self) -> None:
        self._factories: dict[str, Callable[[str, float], FrameSource]] = {}
        self._on_demand: set[str] = set()

    def register(
        self, scheme: str, factory: Callable[[str, float], FrameSource], *, on_demand: bool = False
    ) -> None:
        """`on_demand`: the scheme's cameras are opened only while someone watches (`node://`: a
        camera of a child node, which costs the link's bandwidth)."""
        self._factories[scheme.lower()] = factory
        if on_demand:
            self._on_demand.add(scheme.lower())

    def on_demand(self, url: str) -> bool:
        return "://" in url and url.split("://", 1)[0].lower() in self._on_demand

    def open(self, url: str, *, read_timeout: float = 5.0) -> FrameSource:
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        factory = self._factories.get(scheme)
        if factory is not None:
            return factory(url, read_timeout)
        return open_source(url, read_timeout=read_timeout)


def open_source(
    url: str,
    *,
    transport: Transport = "tcp",
    username: str | None = None,
    password: str | None = None,
    read_timeout: float = 5.0,
) -> RtspSource | AvSource:
    """The right source for a URL: our RTSP client for rtsp:// and rtsps:// (which verifies the camera's
    certificate, unlike FFmpeg's), PyAV for everything else."""
    if url.lower().startswith(("rtsp://", "rtsps://")):
        return RtspSource(
            url, transport=transport, username=username, password=password, read_timeout=read_timeout
        )
    return AvSource(url, read_timeout=read_timeout)


class AvSource:
    """A source read by FFmpeg through PyAV, in a thread; H.264/H.265 video only, no transcoding.

    `realtime` paces a file at its frame rate (default: on for local files); `loop` replays a file
    forever with timestamps that keep running forward.
    """

    def __init__(
        self,
        url: str,
        *,
        options: dict[str, str] | None = None,
        realtime: bool | None = None,
        loop: bool = False,
        open_timeout: float = 10.0,
        read_timeout: float = 10.0,
    ) -> None:
        self.url = url
        self.options = {"analyzeduration": "0", "probesize": "32768", **(options or {})}
        local = "://" not in url or url.lower().startswith("file:")
        self.realtime = local if realtime is None else realtime
        self.loop = loop
        self.open_timeout = open_timeout
        self.read_timeout = read_timeout
        self.timeline = Timeline()

    def open(self) -> AvSession:
        return AvSession(self)


class _Stop(Exception):
    """Raised inside the reader thread when the session is closed."""


class AvSession:
    """A PyAV reader thread feeding an async iterator; the thread runs at most `_QUEUE` frames ahead."""

    def __init__(self, source: AvSource) -> None:
        self.source = source
        self.loop = asyncio.get_running_loop()
        self._frames: collections.deque[AccessUnit] = collections.deque()
        self._waiter: asyncio.Future[None] | None = None
        self._error: MediaError | None = None
        self._ended = False
        self._closed = False
        self._stop = threading.Event()
        self._slots = threading.Semaphore(_QUEUE)
        self._thread: threading.Thread | None = None
        self._params: CodecParams | None = None

    @property
    def params(self) -> CodecParams | None:
        return self._params

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    def __aiter__(self) -> Self:
        return self

    async def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name=f"av-source {self.source.url}", daemon=True
            )
            self._thread.start()

    async def __anext__(self) -> AccessUnit:
        await self.start()
        while not self._frames:
            if self._error is not None:
                raise self._error
            if self._ended or self._closed:
                raise StopAsyncIteration
            self._waiter = self.loop.create_future()
            await self._waiter
        self._slots.release()
        return self._frames.popleft()

    async def aclose(self) -> None:
        await self.close()

    async def close(self) -> None:
        """Stop the reader thread (it notices within one frame or one read timeout)."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._slots.release()
        if self._thread is not None and self._thread.is_alive():
            await asyncio.to_thread(self._thread.join, self.source.read_timeout + 1)
        self._wake()

    # -- loop side ---------------------------------------------------------------------------------

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _deliver(self, item: AccessUnit | MediaError | None) -> None:
        if isinstance(item, AccessUnit):
            self._params = item.params
            self._frames.append(item)
        elif item is None:
            self._ended = True
        elif self._error is None:
            self._error = item
        self._wake()

    # -- thread side -------------------------------------------------------------------------------

    def _post(self, item: AccessUnit | MediaError | None) -> None:
        if isinstance(item, AccessUnit):
            while not self._slots.acquire(timeout=0.5):
                if self._stop.is_set():
                    raise _Stop
            if self._stop.is_set():
                raise _Stop
        try:
            self.loop.call_soon_threadsafe(self._deliver, item)
        except RuntimeError as exc:  # the event loop is gone
            raise _Stop from exc

    def _run(self) -> None:
        import av  # here, not at the top: 15 MB a node with only RTSP cameras never needs

        try:
            while True:
                if self._read_once() == 0:
                    raise MediaProtocolError(f"{self.source.url}: no decodable H.264/H.265 frames")
                if not self.source.loop or self._stop.is_set():
                    self._post(None)
                    return
                self.source.timeline.new_session()
        except _Stop:
            return
        except MediaError as exc:
            self._post_error(exc)
        except av.error.InvalidDataError as exc:
            self._post_error(MediaProtocolError(f"{self.source.url}: {exc}"))
        except (av.error.FFmpegError, OSError) as exc:
            self._post_error(MediaConnectionError(f"{self.source.url}: {exc}"))

    def _post_error(self, error: MediaError) -> None:
        with contextlib.suppress(_Stop):
            self._post(error)

    def _read_once(self) -> int:
        """Read the URL through once; returns the number of access units posted."""
        import av

        src = self.source
        container: Any = av.open(src.url, options=src.options, timeout=(src.open_timeout, src.read_timeout))
        try:
            if not container.streams.video:
                raise MediaProtocolError(f"{src.url}: no video stream")
            stream = container.streams.video[0]
            codec = _CODECS.get(stream.codec_context.name)
            if codec is None:
                raise MediaProtocolError(
                    f"{src.url}: video codec {stream.codec_context.name} is not H.264/H.265"
                )
            tracker = ParamSetTracker(codec)
            length_size = 0
            extradata = bytes(stream.codec_context.extradata or b"")
            if extradata[:1] == b"\x01":
                record = parse_avcc(extradata) if codec is Codec.h264 else parse_hvcc(extradata)
                length_size = record.length_size
                tracker.update(record.vps + record.sps + record.pps)
            elif extradata:
                tracker.update(split_annexb(extradata))
            return self._demux(container, stream, codec, tracker, length_size)
        finally:
            container.close()

    def _demux(
        self, container: Any, stream: Any, codec: Codec, tracker: ParamSetTracker, length_size: int
    ) -> int:
        time_base: Fraction = stream.time_base
        timeline = self.source.timeline
        # Raw Annex-B files carry no timestamps: number their frames at the stream's rate instead.
        raw = container.format.name in ("h264", "hevc")
        rate = stream.guessed_rate or stream.average_rate or 25
        frame_ticks = Fraction(90000) / Fraction(rate)
        count = 0
        waiting = True
        first_dts: int | None = None
        wall_start = 0.0
        for packet in container.demux(stream):
            if self._stop.is_set():
                raise _Stop
            if packet.size == 0 or (packet.pts is None and packet.dts is None and not raw):
                continue  # FFmpeg's RTSP demuxer hands out a first packet without timestamps
            data = bytes(packet)
            nalus = split_length_prefixed(data, length_size) if length_size else split_annexb(data)
            params = tracker.update(nalus)
            keyframe = is_keyframe(codec, nalus)
            if params is None or (waiting and not keyframe):
                continue
            waiting = False
            if raw:
                dts = pts = int(count * frame_ticks)
            else:
                raw_dts = packet.dts if packet.dts is not None else packet.pts
                raw_pts = packet.pts if packet.pts is not None else raw_dts
                dts = int(raw_dts * time_base * 90000)
                pts = int(raw_pts * time_base * 90000)
            if self.source.realtime:
                if first_dts is None:
                    first_dts, wall_start = dts, time.monotonic()
                delay = wall_start + (dts - first_dts) / 90000 - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    raise _Stop
            base = timeline.map(dts & 0xFFFFFFFF)
            self._post(
                AccessUnit(
                    nalus=nalus,
                    pts=base + (pts - dts),
                    keyframe=keyframe,
                    params=params,
                    dts=None if pts == dts else base,
                    arrived_ns=time.monotonic_ns(),
                )
            )
            count += 1
        return count
