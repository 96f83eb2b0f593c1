"""One channel per camera: turns access units into fMP4 fragments once and fans them out.

The channel is the single consumer of its camera's source. It keeps the current init segment and the
fragments since the last keyframe, so a new viewer starts at once, and gives every viewer a bounded
queue: a viewer whose queue overflows loses its queue and resumes at the next keyframe (a `Gap` item
marks the hole); one that overflows too often, or takes nothing for `stall_timeout` seconds, is closed
with a reason. Nothing a viewer does can block `push`.

The channel keeps its own 90 kHz timeline starting at 0: source timestamps give the step between
frames, and a jump backwards or of more than `max_jump` seconds (a reconnect, a camera reboot) is
bridged by one expected frame duration, so players never see time run backwards."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from xueliang.media.fmp4 import TIMESCALE, FragmentWriter, TrackInit, build_init, sample_nalus
from xueliang.media.frames import AccessUnit, CodecParams

log = logging.getLogger(__name__)

DEFAULT_FRAME_TICKS = TIMESCALE // 25


@dataclass(frozen=True, slots=True)
class InitSegment:
    """The ftyp+moov every following fragment needs; `epoch` counts codec configurations."""

    track: TrackInit
    epoch: int
    params: CodecParams

    @property
    def data(self) -> bytes:
        return self.track.data


@dataclass(slots=True)
class Fragment:
    """One frame as moof+mdat, shared read-only by every viewer and sink (read-only by convention: a
    frozen dataclass costs four times as much to build, once per frame)."""

    data: bytes
    keyframe: bool
    decode_time: int  # on the channel timeline, 90 kHz
    duration: int  # as written into trun (an estimate: the next fragment's tfdt is exact)
    index: int  # frame number on this channel
    epoch: int
    arrived_ns: int  # AccessUnit.arrived_ns, for latency measurement


@dataclass(frozen=True, slots=True)
class Gap:
    """The viewer lost `dropped` fragments; the next fragment is a keyframe after a hole in time."""

    dropped: int


@dataclass(frozen=True, slots=True)
class StatusNote:
    """The camera went offline or came back; the stream itself continues on the same timeline."""

    online: bool
    reason: str


Item = InitSegment | Fragment | Gap | StatusNote
Listener = Callable[[InitSegment | Fragment], None]


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    max_queue: int = 100  # fragments per viewer (4 s at 25 fps) before it is skipped to a keyframe
    stall_timeout: float = 10.0  # a viewer that takes nothing this long while data waits is closed
    max_skips: int = 5  # skips within skip_window that make a viewer hopeless
    skip_window: float = 60.0
    gop_frames: int = 750  # GOP cache bounds; a longer GOP is not cached (viewers wait for a keyframe)
    gop_bytes: int = 16 << 20
    stats_window: float = 2.0  # seconds of history behind fps and bitrate
    max_jump: float = 5.0  # source timestamp steps above this (or <= 0) are bridged, not followed


@dataclass(frozen=True, slots=True)
class ChannelStats:
    camera_id: int
    fps: float
    bitrate_bps: float
    last_keyframe_at: float | None  # Unix time
    last_frame_at: float | None
    viewers: int
    frames_in: int
    fragments: int
    frames_out: int
    drops: int  # fragments viewers did not get because they were skipped
    skips: int
    viewers_dropped: int  # closed as hopeless (too slow or stalled)
    codec: str | None
    width: int
    height: int


class ViewerClosed(Exception):
    """The viewer was closed; `reason` says why (client left, too slow, stalled, channel closed)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


DirectSend = Callable[["Fragment"], bool]
"""Sends a fragment at once if it can (True: sent, False: nothing done); must neither block nor raise."""


class Viewer:
    """A consumer's bounded queue on a channel. Read with `await next()`; call `close()` when done.

    A consumer that can write without waiting (the live WebSocket, when its socket takes data) sets
    `direct`: a fragment that finds the queue empty is offered to it first and, when sent, counted as
    taken without passing through the queue. Whatever `direct` declines is queued, so a viewer whose
    socket is backed up still fills its queue, is skipped to a keyframe and dropped as before."""

    def __init__(self, channel: Channel, max_queue: int) -> None:
        self._channel = channel
        self._queue: deque[Item] = deque()
        self._max = max_queue
        self._limit = max_queue
        self._waiter: asyncio.Future[None] | None = None
        self._skipping = False
        self._need_init = False
        self._joining = False
        self._dropped_since_skip = 0
        self._skip_times: deque[float] = deque()
        self._progress_at = channel.clock()  # last take, or when the queue last became non-empty
        self._closed_event: asyncio.Event | None = None
        self.closed_reason: str | None = None
        self.direct: DirectSend | None = None
        self.fragments = 0
        self.bytes = 0
        self.drops = 0
        self.skips = 0

    @property
    def queued(self) -> int:
        return len(self._queue)

    def first_fragment(self) -> Fragment | None:
        """The oldest fragment waiting, left in place (the RTSP re-serve names its time in PLAY)."""
        return next((item for item in self._queue if type(item) is Fragment), None)

    async def next(self) -> Item:
        """The next item; raises ViewerClosed once the viewer is closed."""
        queue = self._queue
        while not queue:
            if self.closed_reason is not None:
                raise ViewerClosed(self.closed_reason)
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self.closed_reason is not None:
            raise ViewerClosed(self.closed_reason)
        item = queue.popleft()
        self._progress_at = self._channel.clock()
        if self._limit != self._max and len(queue) < self._max:
            self._limit = self._max
        if type(item) is Fragment:
            self.fragments += 1
            self.bytes += len(item.data)
            self._channel.frames_out += 1
        elif type(item) is InitSegment:
            self.bytes += len(item.data)
        return item

    def close(self, reason: str = "closed") -> None:
        """Stop delivering; pending items are dropped and a waiting `next()` raises ViewerClosed."""
        if self._shut(reason):
            self._channel._forget(self)

    async def wait_closed(self) -> str:
        """Returns the reason once the viewer is closed, e.g. to abort a send stuck on a dead client."""
        if self.closed_reason is None:
            if self._closed_event is None:
                self._closed_event = asyncio.Event()
            await self._closed_event.wait()
        assert self.closed_reason is not None
        return self.closed_reason

    def _shut(self, reason: str) -> bool:
        if self.closed_reason is not None:
            return False
        self.closed_reason = reason
        self._queue.clear()
        self._wake()
        if self._closed_event is not None:
            self._closed_event.set()
        return True

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _start(self, init: InitSegment | None, gop: list[Fragment] | None) -> None:
        if init is None or gop is None:
            self._skipping = self._need_init = self._joining = True
            return
        self._queue.append(init)
        self._queue.extend(gop)
        self._limit = self._max + len(gop)

    def _offer_init(self, init: InitSegment) -> None:
        if self._skipping:
            self._need_init = True
        else:
            self._append(init, self._channel.clock())

    def _offer_note(self, note: StatusNote) -> None:
        self._append(note, self._channel.clock())

    def _append(self, item: Item, now: float) -> None:
        if not self._queue:
            self._progress_at = now  # an idle viewer is not a stalled one
        self._queue.append(item)
        self._wake()

    def _offer(self, frag: Fragment, now: float, config: ChannelConfig) -> bool:
        """Queue one fragment; False when the viewer turned out hopeless and was closed."""
        queue = self._queue
        if queue and now - self._progress_at > config.stall_timeout:
            self._shut(f"stalled: took nothing for {config.stall_timeout:g} s")
            return False
        if self._skipping:
            if not frag.keyframe:
                if not self._joining:
                    self._drop(1)
                return True
            self._resume(now)
        elif len(queue) >= self._limit:
            dropped = sum(1 for item in queue if type(item) is Fragment)
            self._need_init = any(type(item) is InitSegment for item in queue)
            queue.clear()
            self._limit = self._max
            self._skipping = True
            self._dropped_since_skip = 0
            self._drop(dropped)
            self.skips += 1
            self._channel.skips += 1
            times = self._skip_times
            times.append(now)
            while times and now - times[0] > config.skip_window:
                times.popleft()
            if len(times) >= config.max_skips:
                self._shut(f"too slow: skipped {len(times)} times in {config.skip_window:g} s")
                return False
            if not frag.keyframe:
                self._drop(1)
                return True
            self._resume(now)
        if not queue and self.direct is not None and self.direct(frag):
            self._progress_at = now
            self.fragments += 1
            self.bytes += len(frag.data)
            self._channel.frames_out += 1
            return True
        self._append(frag, now)
        return True

    def _drop(self, count: int) -> None:
        self.drops += count
        self._dropped_since_skip += count
        self._channel.drops += count

    def _resume(self, now: float) -> None:
        self._skipping = self._joining = False
        if not self._queue:
            self._progress_at = now
        if self._dropped_since_skip:
            self._queue.append(Gap(self._dropped_since_skip))
        init = self._channel.init
        if self._need_init and init is not None:
            self._queue.append(init)
        self._need_init = False


class Channel:
    """Fed by exactly one source task through `push`; read by viewers and synchronous listeners."""

    def __init__(
        self,
        camera_id: int,
        config: ChannelConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.camera_id = camera_id
        self.config = config or ChannelConfig()
        self.clock = clock
        self._wall = wall
        self._writer = FragmentWriter()
        self._viewers: dict[int, Viewer] = {}
        self._listeners: list[Listener] = []
        self.init: InitSegment | None = None
        self._params: CodecParams | None = None
        self._gop: list[Fragment] | None = None
        self._gop_size = 0
        self._awaiting_key = True
        self._src_last: int | None = None
        self._t_last = -DEFAULT_FRAME_TICKS
        self._estimate = float(DEFAULT_FRAME_TICKS)
        self._max_jump = int(self.config.max_jump * TIMESCALE)
        self._window: deque[tuple[float, int]] = deque()
        self._window_bytes = 0
        self._closed: str | None = None
        self.frames_in = 0
        self.fragments = 0
        self.frames_out = 0
        self.drops = 0
        self.skips = 0
        self.viewers_dropped = 0
        self.last_keyframe_at: float | None = None
        self.last_frame_at: float | None = None
        # Called when a viewer or listener comes or goes: the engine's on-demand sources (a camera of a
        # child node) start with the first consumer and stop after the last one left.
        self.on_demand_change: Callable[[], None] | None = None

    @property
    def consumers(self) -> int:
        """Viewers and listeners now attached."""
        return len(self._viewers) + len(self._listeners)

    def _demand_changed(self) -> None:
        if self.on_demand_change is not None:
            self.on_demand_change()

    # -- input ---------------------------------------------------------------------------------------

    async def feed(self, au: AccessUnit) -> None:
        """`push` for callers that prefer to await; the work is synchronous and never waits on viewers."""
        self.push(au)

    def push(self, au: AccessUnit) -> None:
        """Take one access unit: fragment it, cache it, offer it to every viewer and listener.

        Raises InitSegmentError when new parameter sets cannot be read (the source session should end)."""
        now = self.clock()
        self.frames_in += 1
        self.last_frame_at = self._wall()
        params = au.params
        if params is not self._params and params != self._params:
            if not au.keyframe:
                return  # new configuration without its keyframe yet: nothing decodable
            self._new_epoch(params)
        elif self._awaiting_key and not au.keyframe:
            return
        init = self.init
        if init is None:
            return
        nalus = sample_nalus(params.codec, au.nalus)
        if not nalus:
            return  # parameter sets or delimiters only
        self._awaiting_key = False
        dts = au.dts
        if dts is None:
            t, cts = self._timeline(au.pts), None
        else:
            t, cts = self._timeline(dts), au.pts - dts
        duration = round(self._estimate)
        data = self._writer.write(t, duration, au.keyframe, nalus, cts)
        frag = Fragment(data, au.keyframe, t, duration, self.fragments, init.epoch, au.arrived_ns)
        self.fragments += 1
        self._account(now, len(data))
        self._cache(frag)
        config = self.config
        hopeless: list[Viewer] | None = None
        for viewer in self._viewers.values():
            if not viewer._offer(frag, now, config):
                hopeless = hopeless or []
                hopeless.append(viewer)
        if hopeless:
            for viewer in hopeless:
                self._forget(viewer)
                self.viewers_dropped += 1
                log.info("camera %s: viewer dropped (%s)", self.camera_id, viewer.closed_reason)
        for listener in self._listeners:
            self._notify(listener, frag)

    def set_online(self, online: bool, reason: str) -> None:
        """Tell viewers the camera went away or came back. Offline drops the GOP cache (it is stale) and
        makes the next frame start a fresh step on the timeline."""
        if not online:
            self._gop, self._gop_size = None, 0
            self._awaiting_key = True
            self._src_last = None
        note = StatusNote(online, reason)
        for viewer in self._viewers.values():
            viewer._offer_note(note)

    def _new_epoch(self, params: CodecParams) -> None:
        track = build_init(params)
        self._params = params
        epoch = 0 if self.init is None else self.init.epoch + 1
        self.init = InitSegment(track, epoch, params)
        self._gop, self._gop_size = None, 0
        for viewer in self._viewers.values():
            viewer._offer_init(self.init)
        for listener in self._listeners:
            self._notify(listener, self.init)

    def _timeline(self, decode_ts: int) -> int:
        last = self._src_last
        self._src_last = decode_ts
        if last is not None:
            step = decode_ts - last
            if 0 < step <= self._max_jump:
                self._estimate += (step - self._estimate) * 0.125
                self._t_last += step
                return self._t_last
        self._t_last += round(self._estimate)
        return self._t_last

    def _account(self, now: float, size: int) -> None:
        window = self._window
        window.append((now, size))
        self._window_bytes += size
        horizon = now - self.config.stats_window
        while window[0][0] < horizon:
            self._window_bytes -= window.popleft()[1]

    def _cache(self, frag: Fragment) -> None:
        if frag.keyframe:
            self._gop, self._gop_size = [frag], len(frag.data)
            self.last_keyframe_at = self._wall()
        elif self._gop is not None:
            self._gop.append(frag)
            self._gop_size += len(frag.data)
            if len(self._gop) > self.config.gop_frames or self._gop_size > self.config.gop_bytes:
                self._gop, self._gop_size = None, 0

    def _notify(self, listener: Listener, item: InitSegment | Fragment) -> None:
        try:
            listener(item)
        except Exception:
            log.exception("camera %s: listener %r failed and was removed", self.camera_id, listener)
            self._listeners.remove(listener)
            self._demand_changed()

    # -- output --------------------------------------------------------------------------------------

    def open_viewer(self, max_queue: int | None = None) -> Viewer:
        """A new viewer, primed with the init segment and the GOP so far (or waiting for a keyframe)."""
        if self._closed is not None:
            raise ViewerClosed(self._closed)
        viewer = Viewer(self, max_queue or self.config.max_queue)
        viewer._start(self.init, self._gop)
        self._viewers[id(viewer)] = viewer
        self._demand_changed()
        return viewer

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call `listener` synchronously with the init segment and every fragment, starting with the cached
        GOP; returns the function that detaches it. Listeners must be cheap: they run inside `push`."""
        if self.init is not None and self._gop is not None:
            listener(self.init)
            for frag in self._gop:
                listener(frag)
        self._listeners.append(listener)
        self._demand_changed()

        def remove() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)
                self._demand_changed()

        return remove

    def close(self, reason: str) -> None:
        """Close every viewer and detach every listener; the channel takes no new viewers."""
        self._closed = reason
        for viewer in list(self._viewers.values()):
            viewer.close(reason)
        self._listeners.clear()

    def _forget(self, viewer: Viewer) -> None:
        if self._viewers.pop(id(viewer), None) is not None:
            self._demand_changed()

    # -- health --------------------------------------------------------------------------------------

    def stats(self) -> ChannelStats:
        now = self.clock()
        window = self._window
        horizon = now - self.config.stats_window
        while window and window[0][0] < horizon:
            self._window_bytes -= window.popleft()[1]
        fps = bitrate = 0.0
        if len(window) >= 2:
            span = window[-1][0] - window[0][0]
            if span > 0:
                fps = (len(window) - 1) / span
                bitrate = (self._window_bytes - window[0][1]) * 8 / span
        track = self.init.track if self.init is not None else None
        return ChannelStats(
            camera_id=self.camera_id,
            fps=fps,
            bitrate_bps=bitrate,
            last_keyframe_at=self.last_keyframe_at,
            last_frame_at=self.last_frame_at,
            viewers=len(self._viewers),
            frames_in=self.frames_in,
            fragments=self.fragments,
            frames_out=self.frames_out,
            drops=self.drops,
            skips=self.skips,
            viewers_dropped=self.viewers_dropped,
            codec=track.codec if track else None,
            width=track.width if track else 0,
            height=track.height if track else 0,
        )
