"""One camera's live fragments as RTP, built once per frame for all of its RTSP clients.

The channel already turned each access unit into a moof+mdat fragment; the sample inside holds the
frame's NAL units (length-prefixed, no parameter sets), so the re-serve reads them back out of the
fragment instead of asking the channel to keep a second copy of every frame. Parameter sets are put
back in-band before every keyframe: a client then decodes from any keyframe even if the camera's
configuration changed after it read the SDP."""

from __future__ import annotations

from collections import OrderedDict

from xueliang.media.channel import Fragment, InitSegment
from xueliang.media.fmp4 import read_sample
from xueliang.media.frames import Codec, CodecParams
from xueliang.media.rtp.h264 import H264Packetizer
from xueliang.media.rtp.h265 import H265Packetizer
from xueliang.media.rtp.prepared import PreparedFrame, prepare_frame
from xueliang.media.rtsp.sdp import video_sdp

PAYLOAD_TYPE = 96
MAX_PAYLOAD = 1400  # RTP payload bytes; keeps UDP packets under a 1500-byte MTU should UDP be added


def parameter_sets(params: CodecParams) -> list[bytes]:
    if params.codec is Codec.h264:
        return [params.sps, params.pps]
    return [params.vps, params.sps, params.pps]


class RtpPackager:
    """Fragments → prepared RTP frames, cached by (epoch, index) so clients at the same point share
    one packetization; `cache` bounds the frames kept (a late joiner's GOP may be packetized again)."""

    def __init__(self, camera_id: int, cache: int = 64) -> None:
        self.camera_id = camera_id
        self._cache: OrderedDict[tuple[int, int], tuple[PreparedFrame, int]] = OrderedDict()
        self._limit = cache
        self._sdp: tuple[int, bytes] | None = None
        self._h264 = H264Packetizer(MAX_PAYLOAD)
        self._h265 = H265Packetizer(MAX_PAYLOAD)
        self.packetized = 0  # frames packetized (not served from the cache), for tests and stats

    def sdp(self, init: InitSegment) -> bytes:
        """The DESCRIBE answer for the channel's current configuration."""
        if self._sdp is None or self._sdp[0] != init.epoch:
            text = video_sdp(
                init.params, payload_type=PAYLOAD_TYPE, session_name=f"Xueliang camera {self.camera_id}"
            )
            self._sdp = (init.epoch, text.encode())
        return self._sdp[1]

    def prepare(self, fragment: Fragment, params: CodecParams) -> tuple[PreparedFrame, int]:
        """The frame's RTP packets and its presentation time (90 kHz, channel timeline)."""
        key = (fragment.epoch, fragment.index)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        nalus, cts = read_sample(fragment.data)
        pts = fragment.decode_time + (cts or 0)
        if fragment.keyframe:
            nalus = [*parameter_sets(params), *nalus]
        packetizer = self._h264 if params.codec is Codec.h264 else self._h265
        frame = prepare_frame(packetizer.packetize(nalus), PAYLOAD_TYPE, fragment.keyframe)
        self.packetized += 1
        cache = self._cache
        cache[key] = (frame, pts)
        if len(cache) > self._limit:
            cache.popitem(last=False)
        return frame, pts
