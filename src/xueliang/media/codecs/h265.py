"""H.265 NAL unit types and sequence parameter set parsing (ITU-T H.265 §7.3.2.2, §7.3.3)."""

from __future__ import annotations

from dataclasses import dataclass

from xueliang.media.codecs.bits import BitReader, unescape_rbsp
from xueliang.media.errors import MediaProtocolError

NAL_IRAP_FIRST = 16  # BLA_W_LP
NAL_IRAP_LAST = 23  # RSV_IRAP_VCL23
NAL_VPS = 32
NAL_SPS = 33
NAL_PPS = 34
NAL_AUD = 35
NAL_SEI_PREFIX = 39
NAL_SEI_SUFFIX = 40

_MAX_DIMENSION = 16384


def nal_type(nalu: bytes) -> int:
    return (nalu[0] >> 1) & 0x3F


def is_vcl(kind: int) -> bool:
    return kind < 32


def is_keyframe_nal(kind: int) -> bool:
    """An IRAP picture (IDR, CRA, BLA): decoding can start here."""
    return NAL_IRAP_FIRST <= kind <= NAL_IRAP_LAST


@dataclass(frozen=True, slots=True)
class H265Sps:
    """The SPS fields an hvcC box and a codec string need (general profile_tier_level and format)."""

    profile_space: int
    tier_flag: int
    profile_idc: int
    profile_compatibility_flags: int  # 32 bits as read, flag 0 in the most significant bit
    constraint_indicator_flags: int  # 48 bits as read
    level_idc: int
    max_sub_layers: int
    temporal_id_nesting: bool
    sps_id: int
    chroma_format_idc: int
    bit_depth_luma: int
    bit_depth_chroma: int
    width: int
    height: int
    reorder_depth: int | None = None  # sps_max_num_reorder_pics of the highest sub-layer

    @property
    def codec_string(self) -> str:
        """RFC 6381 / ISO 14496-15 Annex E form, e.g. `hvc1.1.6.L93.B0` for Main at level 3.1."""
        space = ("", "A", "B", "C")[self.profile_space]
        compat = int(f"{self.profile_compatibility_flags:032b}"[::-1], 2)
        constraints = self.constraint_indicator_flags.to_bytes(6, "big").rstrip(b"\x00")
        parts = [
            "hvc1",
            f"{space}{self.profile_idc}",
            f"{compat:X}",
            f"{'H' if self.tier_flag else 'L'}{self.level_idc}",
            *(f"{b:X}" for b in constraints),
        ]
        return ".".join(parts)


def _reorder_depth(r: BitReader, sub_layers_minus1: int) -> int | None:
    """sps_max_num_reorder_pics of the highest sub-layer; None if the SPS cannot say (truncated)."""
    try:
        if r.ue() > 12:  # log2_max_pic_order_cnt_lsb_minus4
            return None
        reorder = 0
        for _ in range(0 if r.flag() else sub_layers_minus1, sub_layers_minus1 + 1):
            r.ue()  # sps_max_dec_pic_buffering_minus1
            reorder = r.ue()  # sps_max_num_reorder_pics
            r.ue()  # sps_max_latency_increase_plus1
    except MediaProtocolError:
        return None
    return reorder if reorder <= 16 else None


def parse_sps(nalu: bytes) -> H265Sps:
    """Parse an SPS NAL unit (with its two-byte header); anything malformed raises MediaProtocolError."""
    if len(nalu) < 6 or nal_type(nalu) != NAL_SPS or nalu[0] & 0x80:
        raise MediaProtocolError("H.265 SPS: not an SPS NAL unit")
    r = BitReader(unescape_rbsp(nalu[2:]))
    r.skip(4)  # sps_video_parameter_set_id
    sub_layers_minus1 = r.u(3)
    if sub_layers_minus1 > 6:
        raise MediaProtocolError("H.265 SPS: sps_max_sub_layers_minus1 out of range")
    nesting = r.flag()
    profile_space, tier_flag, profile_idc = r.u(2), r.u(1), r.u(5)
    compat = r.u(32)
    constraints = r.u(48)
    level_idc = r.u(8)
    present = [(r.flag(), r.flag()) for _ in range(sub_layers_minus1)]
    if sub_layers_minus1 > 0:
        r.skip(2 * (8 - sub_layers_minus1))
    for profile_present, level_present in present:
        r.skip((88 if profile_present else 0) + (8 if level_present else 0))
    sps_id = r.ue()
    if sps_id > 15:
        raise MediaProtocolError(f"H.265 SPS: sps_seq_parameter_set_id {sps_id} out of range")
    chroma_format_idc = r.ue()
    if chroma_format_idc > 3:
        raise MediaProtocolError(f"H.265 SPS: chroma_format_idc {chroma_format_idc} out of range")
    separate_planes = r.flag() if chroma_format_idc == 3 else False
    coded_width, coded_height = r.ue(), r.ue()
    window = (r.ue(), r.ue(), r.ue(), r.ue()) if r.flag() else (0, 0, 0, 0)
    depth_luma, depth_chroma = r.ue() + 8, r.ue() + 8
    if depth_luma > 16 or depth_chroma > 16:
        raise MediaProtocolError("H.265 SPS: bit depth out of range")
    reorder = _reorder_depth(r, sub_layers_minus1)
    chroma_array_type = 0 if separate_planes else chroma_format_idc
    sub_width = 2 if chroma_array_type in (1, 2) else 1
    sub_height = 2 if chroma_array_type == 1 else 1
    width = coded_width - sub_width * (window[0] + window[1])
    height = coded_height - sub_height * (window[2] + window[3])
    if not (0 < width <= _MAX_DIMENSION and 0 < height <= _MAX_DIMENSION):
        raise MediaProtocolError(f"H.265 SPS: picture size {width}x{height} out of range")
    return H265Sps(
        profile_space=profile_space,
        tier_flag=tier_flag,
        profile_idc=profile_idc,
        profile_compatibility_flags=compat,
        constraint_indicator_flags=constraints,
        level_idc=level_idc,
        max_sub_layers=sub_layers_minus1 + 1,
        temporal_id_nesting=nesting,
        sps_id=sps_id,
        chroma_format_idc=chroma_format_idc,
        bit_depth_luma=depth_luma,
        bit_depth_chroma=depth_chroma,
        width=width,
        height=height,
        reorder_depth=reorder,
    )
