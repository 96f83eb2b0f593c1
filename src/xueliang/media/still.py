"""A recent picture of a camera for its tile: the channel's latest keyframe decoded to a small JPEG.

A tile needs a picture, not a stream, so the still is made on demand from what the channel already
holds (its init segment and the cached GOP's first fragment, the keyframe with its parameter sets in
the init segment's avcC/hvcC): no extra pull from the camera and no decoder kept running. Decoding is
done with PyAV (FFmpeg) in a small thread pool, off the event loop. Stills are cached per camera for
`max_age` seconds; however many tiles ask at once, one decode per camera runs at a time and the others
wait for its answer (coalescing), and a keyframe already decoded is never decoded again.

No keyframe yet, the camera offline (its GOP cache is dropped) or unknown to the engine: `NoPicture`,
which the plane answers as a clear 404, never a 500."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from fractions import Fraction

from xueliang.media.channel import Channel, Fragment, InitSegment

log = logging.getLogger(__name__)

DEFAULT_WIDTH = 320


class NoPicture(Exception):
    """There is no picture of this camera to show now; `reason` says why (for logs and the answer)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Still:
    jpeg: bytes
    width: int
    height: int
    keyframe_at: float | None  # Unix time the keyframe reached the channel


@dataclass(slots=True)
class _Entry:
    still: Still
    key: tuple[int, int]  # (epoch, fragment index) of the keyframe it was decoded from
    checked: float  # monotonic time the channel was last looked at for it


def latest_keyframe(channel: Channel) -> tuple[InitSegment, Fragment] | None:
    """The channel's init segment and the keyframe that starts its cached GOP, or None when it has none.

    Uses the channel's public listener hand-over (which replays the init segment and the cached GOP
    synchronously) and detaches at once, so nothing runs inside later `push` calls."""
    got: list[InitSegment | Fragment] = []

    def keep(item: InitSegment | Fragment) -> None:
        if len(got) < 2:
            got.append(item)

    channel.add_listener(keep)()
    if len(got) == 2:
        init, first = got
        if isinstance(init, InitSegment) and isinstance(first, Fragment) and first.keyframe:
            return init, first
    return None


def decode_still(mp4: bytes, width: int = DEFAULT_WIDTH, quality: int = 5) -> tuple[bytes, int, int]:
    """(JPEG, width, height) of the first picture of a fragmented MP4 (init segment + keyframe), scaled to
    at most `width` pixels wide; `quality` is the MJPEG quantiser (2 best .. 31 worst). Blocking: run
    it in a thread. Raises NoPicture when the bytes do not decode to a picture."""
    import av  # PyAV (~30 MB) only once a still is asked for: a node that only relays video never loads it

    try:
        with av.open(io.BytesIO(mp4), mode="r", format="mp4") as container:
            stream = container.streams.video[0]
            stream.thread_type = "SLICE"
            stream.codec_context.thread_count = 1  # one core per decode: the pool bounds the CPU
            # Deblocking is invisible at 320 px and ~12 % of an H.264 1080p keyframe's decode.
            stream.codec_context.options = {"skip_loop_filter": "all"}
            frame = next(iter(container.decode(stream)), None)
            if frame is None:
                raise NoPicture("the keyframe did not decode to a picture")
            out_w = min(width, frame.width) // 2 * 2
            out_h = max(2, round(frame.height * out_w / frame.width / 2) * 2)
            scaled = frame.reformat(width=out_w, height=out_h, format="yuvj420p")
        encoder = av.CodecContext.create("mjpeg", "w")
        encoder.width, encoder.height, encoder.pix_fmt = out_w, out_h, "yuvj420p"
        encoder.time_base = Fraction(1, 25)
        encoder.options = {"qmin": str(quality), "qmax": str(quality)}
        scaled.pts = 0
        packets = [*encoder.encode(scaled), *encoder.encode(None)]
    except av.FFmpegError as exc:
        raise NoPicture(f"the keyframe did not decode: {exc}") from exc
    if not packets:
        raise NoPicture("the picture did not encode")
    return b"".join(bytes(p) for p in packets), out_w, out_h


class StillCache:
    """Stills per camera: cached `max_age` seconds, one decode per camera at a time, `workers` decodes
    at most in parallel across cameras (so a wall of tiles cannot take every core)."""

    def __init__(
        self,
        channel_of: Callable[[int], Channel],
        *,
        max_age: float = 8.0,  # under the tiles' 10 s refresh: at most one decode per camera per round
        width: int = DEFAULT_WIDTH,
        workers: int = 2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._channel_of = channel_of
        self.max_age = max_age
        self.width = width
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="still")
        self._entries: dict[int, _Entry] = {}
        self._pending: dict[int, asyncio.Task[Still]] = {}
        self.decodes = 0  # keyframes decoded
        self.hits = 0  # answered from the cache without looking at the channel
        self.coalesced = 0  # waited for a decode another request had started
        self.decode_seconds = 0.0  # wall time spent in decode_still, summed

    async def get(self, camera_id: int) -> Still:
        """A picture of the camera no older than `max_age` seconds (or its latest keyframe); raises
        NoPicture when there is none."""
        entry = self._entries.get(camera_id)
        if entry is not None and self._clock() - entry.checked < self.max_age:
            self.hits += 1
            return entry.still
        task = self._pending.get(camera_id)
        if task is None:
            task = asyncio.get_running_loop().create_task(self._refresh(camera_id))
            self._pending[camera_id] = task
            task.add_done_callback(lambda t: self._settled(camera_id, t))
        else:
            self.coalesced += 1
        # A caller that goes away must not cancel the decode others are waiting for.
        return await asyncio.shield(task)

    def _settled(self, camera_id: int, task: asyncio.Task[Still]) -> None:
        if self._pending.get(camera_id) is task:
            del self._pending[camera_id]
        if not task.cancelled():
            task.exception()  # retrieved: every waiter may have left

    async def _refresh(self, camera_id: int) -> Still:
        try:
            channel = self._channel_of(camera_id)
        except KeyError:
            self._entries.pop(camera_id, None)
            raise NoPicture("the camera is not pulled by the media engine") from None
        found = latest_keyframe(channel)
        if found is None:
            self._entries.pop(camera_id, None)
            raise NoPicture("no keyframe yet (the camera is offline or starting)")
        init, frag = found
        key = (frag.epoch, frag.index)
        entry = self._entries.get(camera_id)
        if entry is not None and entry.key == key:  # the same keyframe: its picture is still current
            entry.checked = self._clock()
            return entry.still
        started = time.perf_counter()
        jpeg, width, height = await asyncio.get_running_loop().run_in_executor(
            self._pool, decode_still, init.data + frag.data, self.width
        )
        self.decode_seconds += time.perf_counter() - started
        self.decodes += 1
        still = Still(jpeg, width, height, channel.last_keyframe_at)
        self._entries[camera_id] = _Entry(still, key, self._clock())
        return still

    def forget(self, camera_id: int) -> None:
        """Drop the camera's cached still (removed or re-synced camera)."""
        self._entries.pop(camera_id, None)

    def close(self) -> None:
        """Stop the decode threads (running decodes finish; nothing new starts)."""
        self._pool.shutdown(wait=False, cancel_futures=True)
