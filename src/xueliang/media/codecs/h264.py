"""H.264 NAL unit types and sequence parameter set parsing (ITU-T H.264 §7.3.2.1)."""

from __future__ import annotations

from dataclasses import dataclass

from xueliang.media.codecs.bits import BitReader, unescape_rbsp
from xueliang.media.errors import MediaProtocolError

NAL_SLICE = 1
NAL_IDR = 5
NAL_SEI = 6
NAL_SPS = 7
NAL_PPS = 8
NAL_AUD = 9

# Profiles whose SPS carries chroma_format_idc, bit depths and scaling matrices.
_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})
_MAX_DIMENSION = 16384


def nal_type(nalu: bytes) -> int:
    return nalu[0] & 0x1F


def is_vcl(kind: int) -> bool:
    """Coded slice NAL types: the ones that make a picture (parameter sets and SEI do not)."""
    return 1 <= kind <= 5


def is_keyframe_nal(kind: int) -> bool:
    """An IDR slice: decoding can start here."""
    return kind == NAL_IDR


@dataclass(frozen=True, slots=True)
class H264Sps:
    """The SPS fields an avcC box, a codec string and a player need."""

    profile_idc: int
    constraint_flags: int  # the byte after profile_idc (constraint_set0..5 flags)
    level_idc: int
    sps_id: int
    chroma_format_idc: int
    bit_depth_luma: int
    bit_depth_chroma: int
    frame_mbs_only: bool
    width: int
    height: int
    reorder_depth: int | None = None  # VUI max_num_reorder_frames; None when the SPS does not say
    poc_type: int = 0

    @property
    def codec_string(self) -> str:
        """RFC 6381 `avc1.PPCCLL`, as MSE `isTypeSupported` and HLS CODECS expect."""
        return f"avc1.{self.profile_idc:02x}{self.constraint_flags:02x}{self.level_idc:02x}"


def _skip_scaling_list(r: BitReader, size: int) -> None:
    last, nxt = 8, 8
    for _ in range(size):
        if nxt != 0:
            delta = r.se()
            if not -128 <= delta <= 127:
                raise MediaProtocolError("H.264 SPS: scaling list delta out of range")
            nxt = (last + delta + 256) % 256
        last = last if nxt == 0 else nxt


def _skip_hrd(r: BitReader) -> None:
    count = r.ue() + 1  # cpb_cnt_minus1
    if count > 32:
        raise MediaProtocolError("H.264 VUI: cpb_cnt out of range")
    r.skip(8)  # bit_rate_scale, cpb_size_scale
    for _ in range(count):
        r.ue()
        r.ue()
        r.skip(1)
    r.skip(20)  # four delay/offset lengths


def _vui_reorder_depth(r: BitReader) -> int | None:
    """max_num_reorder_frames from the VUI's bitstream restriction (E.1.1), None if absent."""
    if r.flag() and r.u(8) == 255:  # aspect_ratio_info_present_flag, aspect_ratio_idc Extended_SAR
        r.skip(32)
    if r.flag():  # overscan_info_present_flag
        r.skip(1)
    if r.flag():  # video_signal_type_present_flag
        r.skip(4)
        if r.flag():
            r.skip(24)
    if r.flag():  # chroma_loc_info_present_flag
        r.ue()
        r.ue()
    if r.flag():  # timing_info_present_flag
        r.skip(65)
    nal_hrd = r.flag()
    if nal_hrd:
        _skip_hrd(r)
    vcl_hrd = r.flag()
    if vcl_hrd:
        _skip_hrd(r)
    if nal_hrd or vcl_hrd:
        r.skip(1)  # low_delay_hrd_flag
    r.skip(1)  # pic_struct_present_flag
    if not r.flag():  # bitstream_restriction_flag
        return None
    r.skip(1)
    for _ in range(4):
        r.ue()
    reorder = r.ue()
    return reorder if reorder <= 16 else None


def parse_sps(nalu: bytes) -> H264Sps:
    """Parse an SPS NAL unit (with its one-byte header); anything malformed raises MediaProtocolError."""
    if len(nalu) < 4 or nal_type(nalu) != NAL_SPS or nalu[0] & 0x80:
        raise MediaProtocolError("H.264 SPS: not an SPS NAL unit")
    r = BitReader(unescape_rbsp(nalu[1:]))
    profile_idc, constraint_flags, level_idc = r.u(8), r.u(8), r.u(8)
    sps_id = r.ue()
    if sps_id > 31:
        raise MediaProtocolError(f"H.264 SPS: seq_parameter_set_id {sps_id} out of range")
    chroma_format_idc, separate_planes, depth_luma, depth_chroma = 1, False, 8, 8
    if profile_idc in _HIGH_PROFILES:
        chroma_format_idc = r.ue()
        if chroma_format_idc > 3:
            raise MediaProtocolError(f"H.264 SPS: chroma_format_idc {chroma_format_idc} out of range")
        if chroma_format_idc == 3:
            separate_planes = r.flag()
        depth_luma, depth_chroma = r.ue() + 8, r.ue() + 8
        if depth_luma > 14 or depth_chroma > 14:
            raise MediaProtocolError("H.264 SPS: bit depth out of range")
        r.skip(1)  # qpprime_y_zero_transform_bypass_flag
        if r.flag():  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma_format_idc != 3 else 12):
                if r.flag():
                    _skip_scaling_list(r, 16 if i < 6 else 64)
    if r.ue() > 12:  # log2_max_frame_num_minus4
        raise MediaProtocolError("H.264 SPS: log2_max_frame_num out of range")
    poc_type = r.ue()
    if poc_type == 0:
        if r.ue() > 12:
            raise MediaProtocolError("H.264 SPS: log2_max_pic_order_cnt_lsb out of range")
    elif poc_type == 1:
        r.skip(1)
        r.se()
        r.se()
        cycle = r.ue()
        if cycle > 255:
            raise MediaProtocolError("H.264 SPS: num_ref_frames_in_pic_order_cnt_cycle out of range")
        for _ in range(cycle):
            r.se()
    elif poc_type != 2:
        raise MediaProtocolError(f"H.264 SPS: pic_order_cnt_type {poc_type} out of range")
    r.ue()  # max_num_ref_frames
    r.skip(1)  # gaps_in_frame_num_value_allowed_flag
    width_mbs, height_units = r.ue() + 1, r.ue() + 1
    frame_mbs_only = r.flag()
    if not frame_mbs_only:
        r.skip(1)  # mb_adaptive_frame_field_flag
    r.skip(1)  # direct_8x8_inference_flag
    crop = (r.ue(), r.ue(), r.ue(), r.ue()) if r.flag() else (0, 0, 0, 0)
    chroma_array_type = 0 if separate_planes else chroma_format_idc
    field_factor = 1 if frame_mbs_only else 2
    if chroma_array_type == 0:
        unit_x, unit_y = 1, field_factor
    else:
        unit_x = 1 if chroma_array_type == 3 else 2
        unit_y = (2 if chroma_array_type == 1 else 1) * field_factor
    width = width_mbs * 16 - unit_x * (crop[0] + crop[1])
    height = field_factor * height_units * 16 - unit_y * (crop[2] + crop[3])
    if not (0 < width <= _MAX_DIMENSION and 0 < height <= _MAX_DIMENSION):
        raise MediaProtocolError(f"H.264 SPS: picture size {width}x{height} out of range")
    reorder: int | None = None
    try:  # a camera's odd VUI must not cost it its picture: the depth then falls back to a default
        if r.flag():  # vui_parameters_present_flag
            reorder = _vui_reorder_depth(r)
    except MediaProtocolError:
        reorder = None
    return H264Sps(
        profile_idc=profile_idc,
        constraint_flags=constraint_flags,
        level_idc=level_idc,
        sps_id=sps_id,
        chroma_format_idc=chroma_format_idc,
        bit_depth_luma=depth_luma,
        bit_depth_chroma=depth_chroma,
        frame_mbs_only=frame_mbs_only,
        width=width,
        height=height,
        reorder_depth=reorder,
        poc_type=poc_type,
    )
