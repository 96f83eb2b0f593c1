"""The init segment (ftyp + moov) of a one-track fragmented MP4, and the RFC 6381 codec string.

Parameter sets travel in avcC/hvcC only: a change of CodecParams yields a new init segment, which is
how MSE and HLS (EXT-X-MAP) expect a decoder to be reconfigured."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from xueliang.media.codecs import h264, h265
from xueliang.media.errors import MediaProtocolError
from xueliang.media.fmp4.boxes import box, full_box
from xueliang.media.frames import Codec, CodecParams

TIMESCALE = 90_000
TRACK_ID = 1
_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


class InitSegmentError(ValueError):
    """The parameter sets cannot describe a track (missing or unreadable SPS/PPS/VPS)."""


@dataclass(frozen=True, slots=True)
class TrackInit:
    """An init segment with what a player needs to pick a decoder before appending it."""

    data: bytes
    codec: str  # RFC 6381, e.g. "avc1.64001f" or "hvc1.1.6.L93.B0"
    width: int
    height: int

    @property
    def mime(self) -> str:
        return f'video/mp4; codecs="{self.codec}"'


def _avcc(params: CodecParams, info: h264.H264Sps) -> bytes:
    sps, pps = params.sps, params.pps
    body = [
        bytes([1, sps[1], sps[2], sps[3], 0xFF, 0xE1]),
        struct.pack(">H", len(sps)),
        sps,
        b"\x01",
        struct.pack(">H", len(pps)),
        pps,
    ]
    if info.profile_idc in (100, 110, 122, 144):
        body.append(
            bytes(
                [
                    0xFC | info.chroma_format_idc,
                    0xF8 | (info.bit_depth_luma - 8),
                    0xF8 | (info.bit_depth_chroma - 8),
                    0,
                ]
            )
        )
    return box(b"avcC", *body)


def _hvcc(params: CodecParams, info: h265.H265Sps) -> bytes:
    arrays = [(32, params.vps), (33, params.sps), (34, params.pps)]
    head = struct.pack(
        ">BBI6sBHBBBBHB",
        1,
        (info.profile_space << 6) | (info.tier_flag << 5) | info.profile_idc,
        info.profile_compatibility_flags,
        info.constraint_indicator_flags.to_bytes(6, "big"),
        info.level_idc,
        0xF000,  # min_spatial_segmentation_idc = 0
        0xFC,  # parallelismType unknown
        0xFC | info.chroma_format_idc,
        0xF8 | (info.bit_depth_luma - 8),
        0xF8 | (info.bit_depth_chroma - 8),
        0,  # avgFrameRate unknown
        (min(info.max_sub_layers, 7) << 3) | (int(info.temporal_id_nesting) << 2) | 3,
    )
    body = [head, bytes([len(arrays)])]
    for nal_type, nal in arrays:
        body.append(struct.pack(">BHH", 0x80 | nal_type, 1, len(nal)))
        body.append(nal)
    return box(b"hvcC", *body)


def _visual_sample_entry(kind: bytes, width: int, height: int, config: bytes) -> bytes:
    return box(
        kind,
        bytes(6),
        struct.pack(">HHH12xHHIIIH32xHh", 1, 0, 0, width, height, 0x480000, 0x480000, 0, 1, 0x18, -1),
        config,
    )


def _sample_entry(params: CodecParams) -> tuple[bytes, str, int, int]:
    if not params.sps or not params.pps:
        raise InitSegmentError("SPS and PPS are required")
    try:
        if params.codec is Codec.h264:
            avc = h264.parse_sps(params.sps)
            width, height = params.width or avc.width, params.height or avc.height
            codec = "avc1." + params.sps[1:4].hex()
            return _visual_sample_entry(b"avc1", width, height, _avcc(params, avc)), codec, width, height
        if not params.vps:
            raise InitSegmentError("H.265 needs a VPS")
        hevc = h265.parse_sps(params.sps)
    except MediaProtocolError as exc:
        raise InitSegmentError(f"unreadable SPS: {exc}") from exc
    width, height = params.width or hevc.width, params.height or hevc.height
    entry = _visual_sample_entry(b"hvc1", width, height, _hvcc(params, hevc))
    return entry, hevc.codec_string, width, height


def build_init(params: CodecParams, timescale: int = TIMESCALE) -> TrackInit:
    """ftyp + moov for one video track with fragments to follow (empty sample tables, mvex/trex)."""
    entry, codec, width, height = _sample_entry(params)
    ftyp = box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isomiso6cmfcmp41")
    mvhd = full_box(
        b"mvhd", 0, 0, struct.pack(">IIIIIH10x", 0, 0, 1000, 0, 0x10000, 0x100), _MATRIX, bytes(24),
        struct.pack(">I", TRACK_ID + 1),
    )  # fmt: skip
    tkhd = full_box(
        b"tkhd", 0, 3, struct.pack(">IIII4x8xhhh2x", 0, 0, TRACK_ID, 0, 0, 0, 0), _MATRIX,
        struct.pack(">II", width << 16, height << 16),
    )  # fmt: skip
    mdhd = full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, timescale, 0, 0x55C4, 0))
    hdlr = full_box(b"hdlr", 0, 0, struct.pack(">I4s12x", 0, b"vide"), b"VideoHandler\x00")
    vmhd = full_box(b"vmhd", 0, 1, bytes(8))
    dinf = box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, 1)))
    stbl = box(
        b"stbl",
        full_box(b"stsd", 0, 0, struct.pack(">I", 1), entry),
        full_box(b"stts", 0, 0, bytes(4)),
        full_box(b"stsc", 0, 0, bytes(4)),
        full_box(b"stsz", 0, 0, bytes(8)),
        full_box(b"stco", 0, 0, bytes(4)),
    )
    mdia = box(b"mdia", mdhd, hdlr, box(b"minf", vmhd, dinf, stbl))
    trex = full_box(b"trex", 0, 0, struct.pack(">IIIII", TRACK_ID, 1, 0, 0, 0))
    moov = box(b"moov", mvhd, box(b"trak", tkhd, mdia), box(b"mvex", trex))
    return TrackInit(ftyp + moov, codec, width, height)
