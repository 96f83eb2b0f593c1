"""Just enough of the H.264 and H.265 sequence parameter sets to write avcC/hvcC and the track size.

The ingest side has its own full parsers; this minimal reading keeps the muxer self-contained."""

from __future__ import annotations

from dataclasses import dataclass

from xueliang.media.fmp4.bits import BitReader, BitstreamError, unescape_rbsp

_H264_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


@dataclass(frozen=True, slots=True)
class H264Info:
    profile_idc: int
    constraint_flags: int
    level_idc: int
    chroma_format_idc: int
    bit_depth_luma: int
    bit_depth_chroma: int
    width: int
    height: int


@dataclass(frozen=True, slots=True)
class H265Info:
    profile_space: int
    tier_flag: int
    profile_idc: int
    compatibility_flags: int  # 32 bits, flag j in bit (31 - j)
    constraint_flags: bytes  # the 48 general constraint indicator bits
    level_idc: int
    max_sub_layers: int
    temporal_id_nesting: bool
    chroma_format_idc: int
    bit_depth_luma: int
    bit_depth_chroma: int
    width: int
    height: int


def _skip_scaling_list(reader: BitReader, size: int) -> None:
    last, following = 8, 8
    for _ in range(size):
        if following != 0:
            following = (last + reader.se() + 256) % 256
        last = following if following != 0 else last


def parse_h264_sps(sps: bytes) -> H264Info:
    """Profile, chroma format, bit depth and the cropped picture size of an H.264 SPS NAL unit."""
    if len(sps) < 4 or sps[0] & 0x1F != 7:
        raise BitstreamError("not an H.264 SPS")
    rbsp = unescape_rbsp(sps)
    r = BitReader(rbsp, 4)
    r.ue()  # seq_parameter_set_id
    chroma, depth_luma, depth_chroma, separate = 1, 8, 8, 0
    if rbsp[1] in _H264_HIGH_PROFILES:
        chroma = r.ue()
        if chroma > 3:
            raise BitstreamError("chroma_format_idc out of range")
        if chroma == 3:
            separate = r.u(1)
        depth_luma, depth_chroma = r.ue() + 8, r.ue() + 8
        r.skip(1)  # qpprime_y_zero_transform_bypass_flag
        if r.u(1):  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma != 3 else 12):
                if r.u(1):
                    _skip_scaling_list(r, 16 if i < 6 else 64)
    r.ue()  # log2_max_frame_num_minus4
    poc_type = r.ue()
    if poc_type == 0:
        r.ue()
    elif poc_type == 1:
        r.skip(1)
        r.se()
        r.se()
        for _ in range(r.ue()):
            r.se()
    r.ue()  # max_num_ref_frames
    r.skip(1)  # gaps_in_frame_num_value_allowed_flag
    width_mbs, height_units = r.ue() + 1, r.ue() + 1
    frame_mbs_only = r.u(1)
    if not frame_mbs_only:
        r.skip(1)
    r.skip(1)  # direct_8x8_inference_flag
    crop = (r.ue(), r.ue(), r.ue(), r.ue()) if r.u(1) else (0, 0, 0, 0)
    if chroma == 0 or separate:
        unit_x, unit_y = 1, 2 - frame_mbs_only
    else:
        unit_x, unit_y = (1 if chroma == 3 else 2), (2 if chroma == 1 else 1) * (2 - frame_mbs_only)
    width = width_mbs * 16 - unit_x * (crop[0] + crop[1])
    height = (2 - frame_mbs_only) * height_units * 16 - unit_y * (crop[2] + crop[3])
    if width <= 0 or height <= 0:
        raise BitstreamError("cropping leaves no picture")
    return H264Info(rbsp[1], rbsp[2], rbsp[3], chroma, depth_luma, depth_chroma, width, height)


def parse_h265_sps(sps: bytes) -> H265Info:
    """General profile/tier/level, chroma format, bit depth and conformance-window size of an H.265 SPS."""
    if len(sps) < 15 or (sps[0] >> 1) & 0x3F != 33:
        raise BitstreamError("not an H.265 SPS")
    rbsp = unescape_rbsp(sps)
    if len(rbsp) < 15:
        raise BitstreamError("parameter set ends early")
    r = BitReader(rbsp, 2)
    r.skip(4)  # sps_video_parameter_set_id
    sub_layers_minus1 = r.u(3)
    nesting = r.u(1)
    ptl = rbsp[3:15]  # the fixed 12-byte general profile_tier_level
    r.skip(96)
    present = [(r.u(1), r.u(1)) for _ in range(sub_layers_minus1)]
    if sub_layers_minus1 > 0:
        r.skip(2 * (8 - sub_layers_minus1))
    for profile_present, level_present in present:
        r.skip(88 * profile_present + 8 * level_present)
    r.ue()  # sps_seq_parameter_set_id
    chroma = r.ue()
    if chroma > 3:
        raise BitstreamError("chroma_format_idc out of range")
    separate = r.u(1) if chroma == 3 else 0
    width, height = r.ue(), r.ue()
    if r.u(1):  # conformance_window_flag
        left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
        sub_w = 2 if chroma in (1, 2) and not separate else 1
        sub_h = 2 if chroma == 1 and not separate else 1
        width -= sub_w * (left + right)
        height -= sub_h * (top + bottom)
    if width <= 0 or height <= 0:
        raise BitstreamError("conformance window leaves no picture")
    depth_luma, depth_chroma = r.ue() + 8, r.ue() + 8
    return H265Info(
        profile_space=ptl[0] >> 6,
        tier_flag=(ptl[0] >> 5) & 1,
        profile_idc=ptl[0] & 0x1F,
        compatibility_flags=int.from_bytes(ptl[1:5], "big"),
        constraint_flags=bytes(ptl[5:11]),
        level_idc=ptl[11],
        max_sub_layers=sub_layers_minus1 + 1,
        temporal_id_nesting=bool(nesting),
        chroma_format_idc=chroma,
        bit_depth_luma=depth_luma,
        bit_depth_chroma=depth_chroma,
        width=width,
        height=height,
    )
