"""Codec parameters from parameter sets: building `CodecParams`, codec strings, in-band updates."""

from __future__ import annotations

from collections.abc import Iterable

from xueliang.media.codecs import h264, h265
from xueliang.media.errors import MediaProtocolError
from xueliang.media.frames import Codec, CodecParams


def nal_type(codec: Codec, nalu: bytes) -> int:
    return h264.nal_type(nalu) if codec is Codec.h264 else h265.nal_type(nalu)


def is_vcl(codec: Codec, nalu: bytes) -> bool:
    """Whether the NAL unit is a coded slice (an access unit needs at least one)."""
    if codec is Codec.h264:
        return h264.is_vcl(h264.nal_type(nalu))
    return h265.is_vcl(h265.nal_type(nalu))


def is_keyframe(codec: Codec, nalus: Iterable[bytes]) -> bool:
    """An access unit decoding can start from: an IDR slice (H.264) or an IRAP picture (H.265)."""
    if codec is Codec.h264:
        return any(h264.is_keyframe_nal(h264.nal_type(n)) for n in nalus)
    return any(h265.is_keyframe_nal(h265.nal_type(n)) for n in nalus)


NAL_VCL, NAL_KEY, NAL_PARAMS = 1, 2, 4


def _flag_table(codec: Codec) -> bytes:
    flags = bytearray(256)
    for first in range(256):
        if codec is Codec.h264:
            kind = first & 0x1F
            vcl, key = h264.is_vcl(kind), h264.is_keyframe_nal(kind)
            param = kind in (h264.NAL_SPS, h264.NAL_PPS)
        else:
            kind = (first >> 1) & 0x3F
            vcl, key = h265.is_vcl(kind), h265.is_keyframe_nal(kind)
            param = kind in (h265.NAL_VPS, h265.NAL_SPS, h265.NAL_PPS)
        flags[first] = (NAL_VCL if vcl else 0) | (NAL_KEY if key else 0) | (NAL_PARAMS if param else 0)
    return bytes(flags)


NAL_FLAGS = {codec: _flag_table(codec) for codec in Codec}
"""Per codec, indexed by a NAL unit's first byte: NAL_VCL (a coded slice), NAL_KEY (decoding can start
there, see `is_keyframe`), NAL_PARAMS (a parameter set) — one lookup instead of three calls per unit."""


def sps_info(params: CodecParams) -> h264.H264Sps | h265.H265Sps:
    """The parsed SPS: profile, level, compatibility flags (what avcC/hvcC boxes are built from)."""
    return h264.parse_sps(params.sps) if params.codec is Codec.h264 else h265.parse_sps(params.sps)


DEFAULT_REORDER_DEPTH = 2
"""Frames of reordering assumed for an H.264 Main/High stream whose SPS does not say (no VUI bitstream
restriction): what an IP camera's B-frame mode uses (IBBP). Too deep costs only a constant composition
offset; too shallow is caught by `DecodeClock`, which then deepens."""


def reorder_depth(params: CodecParams) -> int:
    """How many frames may come before a frame that is shown earlier (0: decode order is presentation
    order): sps_max_num_reorder_pics for H.265, the VUI's max_num_reorder_frames for H.264; when the
    SPS does not say, 0 for H.264 without B-frames (Baseline, or pic_order_cnt_type 2), else
    `DEFAULT_REORDER_DEPTH`."""
    info = sps_info(params)
    if info.reorder_depth is not None:
        return info.reorder_depth
    if isinstance(info, h264.H264Sps) and (info.profile_idc == 66 or info.poc_type == 2):
        return 0
    return DEFAULT_REORDER_DEPTH


def codec_string(params: CodecParams) -> str:
    """RFC 6381 codec string, e.g. `avc1.64001f` or `hvc1.1.6.L93.B0`."""
    return sps_info(params).codec_string


def make_params(codec: Codec, sps: bytes, pps: bytes, vps: bytes = b"") -> CodecParams:
    """CodecParams with width and height read from the SPS; a bad SPS raises MediaProtocolError."""
    if not pps:
        raise MediaProtocolError(f"{codec}: missing PPS")
    if codec is Codec.h265 and not vps:
        raise MediaProtocolError("h265: missing VPS")
    info = h264.parse_sps(sps) if codec is Codec.h264 else h265.parse_sps(sps)
    if codec is Codec.h264 and h264.nal_type(pps) != h264.NAL_PPS:
        raise MediaProtocolError("h264: PPS has the wrong NAL type")
    if codec is Codec.h265 and (h265.nal_type(pps) != h265.NAL_PPS or h265.nal_type(vps) != h265.NAL_VPS):
        raise MediaProtocolError("h265: VPS/PPS has the wrong NAL type")
    return CodecParams(
        codec=codec, sps=bytes(sps), pps=bytes(pps), vps=bytes(vps), width=info.width, height=info.height
    )


class ParamSetTracker:
    """Keeps the current parameter sets of a stream: from SDP or a container first, then in-band."""

    __slots__ = ("_pps", "_sps", "_vps", "codec", "current")

    def __init__(self, codec: Codec, initial: CodecParams | None = None) -> None:
        self.codec = codec
        self.current = initial
        self._sps = initial.sps if initial else b""
        self._pps = initial.pps if initial else b""
        self._vps = initial.vps if initial else b""

    def update(self, nalus: Iterable[bytes]) -> CodecParams | None:
        """Note parameter sets seen in an access unit; returns the (possibly new) current params."""
        changed = False
        for nalu in nalus:
            if not nalu:
                continue
            kind = nal_type(self.codec, nalu)
            if self.codec is Codec.h264:
                if kind == h264.NAL_SPS and nalu != self._sps:
                    self._sps, changed = nalu, True
                elif kind == h264.NAL_PPS and nalu != self._pps:
                    self._pps, changed = nalu, True
            elif kind == h265.NAL_SPS and nalu != self._sps:
                self._sps, changed = nalu, True
            elif kind == h265.NAL_PPS and nalu != self._pps:
                self._pps, changed = nalu, True
            elif kind == h265.NAL_VPS and nalu != self._vps:
                self._vps, changed = nalu, True
        if changed and self._sps and self._pps and (self._vps or self.codec is Codec.h264):
            self.current = make_params(self.codec, self._sps, self._pps, self._vps)
        return self.current
