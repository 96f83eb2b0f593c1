"""MPEG program stream structures (ISO/IEC 13818-1 §2.5): start codes, stream types, and the time
stamp and header fields that both the demuxer and the muxer read or write."""

from __future__ import annotations

PACK_START = 0xBA
SYSTEM_HEADER = 0xBB
PROGRAM_STREAM_MAP = 0xBC
PRIVATE_STREAM_1 = 0xBD
PADDING_STREAM = 0xBE
PRIVATE_STREAM_2 = 0xBF
END_CODE = 0xB9
AUDIO_FIRST, AUDIO_LAST = 0xC0, 0xDF
VIDEO_FIRST, VIDEO_LAST = 0xE0, 0xEF
VIDEO_ID = 0xE0  # the stream id GB/T 28181 senders use for video
AUDIO_ID = 0xC0  # and for audio

# stream_type values in the program stream map that GB/T 28181 (2016 Annex C, 2022 C.1.1) names
ST_MPEG4 = 0x10
ST_H264 = 0x1B
ST_H265 = 0x24
ST_SVAC_VIDEO = 0x80
ST_AAC = 0x0F
ST_G711A = 0x90
ST_G711U = 0x91
ST_G722 = 0x92
ST_G723 = 0x93
ST_G729 = 0x99
ST_SVAC_AUDIO = 0x9B

STREAM_TYPE_NAMES = {
    0x01: "mpeg1video",
    0x02: "mpeg2video",
    0x03: "mpeg1audio",
    0x04: "mpeg2audio",
    ST_MPEG4: "mpeg4",
    ST_H264: "h264",
    ST_H265: "h265",
    ST_SVAC_VIDEO: "svac",
    ST_AAC: "aac",
    ST_G711A: "g711a",
    ST_G711U: "g711u",
    ST_G722: "g722.1",
    ST_G723: "g723.1",
    ST_G729: "g729",
    ST_SVAC_AUDIO: "svac-audio",
}

TS_MASK = (1 << 33) - 1  # PTS, DTS and SCR base are 33-bit counts of the 90 kHz clock
MAX_PES_LENGTH = 0xFFFF


def read_ts(data: bytes | bytearray, pos: int) -> int:
    """A 33-bit time stamp in the 5-byte PES form (4-bit prefix, 3+15+15 bits, marker bits)."""
    return (
        ((data[pos] >> 1) & 0x07) << 30
        | data[pos + 1] << 22
        | (data[pos + 2] >> 1) << 15
        | data[pos + 3] << 7
        | data[pos + 4] >> 1
    )


def write_ts(prefix: int, ts: int) -> bytes:
    """The 5-byte PES form of `ts` with its 4-bit prefix (0b0010 PTS alone, 0b0011 PTS before a DTS,
    0b0001 the DTS)."""
    ts &= TS_MASK
    return bytes(
        (
            (prefix << 4) | ((ts >> 29) & 0x0E) | 1,
            (ts >> 22) & 0xFF,
            ((ts >> 14) & 0xFE) | 1,
            (ts >> 7) & 0xFF,
            ((ts << 1) & 0xFE) | 1,
        )
    )


def pack_header(scr: int, mux_rate: int, stuffing: int = 0) -> bytes:
    """An MPEG-2 pack header: SCR (33-bit base, extension 0), mux rate in units of 50 bytes/s, and
    0..7 stuffing bytes (0xFF)."""
    if not 0 <= stuffing <= 7:
        raise ValueError("pack stuffing is 0..7 bytes")
    scr &= TS_MASK
    mux_rate &= 0x3FFFFF
    return (
        bytes(
            (
                0,
                0,
                1,
                PACK_START,
                0x44 | ((scr >> 27) & 0x38) | ((scr >> 28) & 0x03),
                (scr >> 20) & 0xFF,
                ((scr >> 12) & 0xF8) | 0x04 | ((scr >> 13) & 0x03),
                (scr >> 5) & 0xFF,
                ((scr << 3) & 0xF8) | 0x04,  # SCR extension 0: its top bits are 0
                0x01,
                (mux_rate >> 14) & 0xFF,
                (mux_rate >> 6) & 0xFF,
                ((mux_rate << 2) & 0xFC) | 0x03,
                0xF8 | stuffing,
            )
        )
        + b"\xff" * stuffing
    )


def read_scr(data: bytes | bytearray, pos: int) -> int:
    """The SCR base of an MPEG-2 pack header starting at `pos`."""
    b4, b5, b6, b7, b8 = data[pos + 4 : pos + 9]
    return (
        ((b4 >> 3) & 0x07) << 30
        | (b4 & 0x03) << 28
        | b5 << 20
        | ((b6 >> 3) & 0x1F) << 15
        | (b6 & 0x03) << 13
        | b7 << 5
        | b8 >> 3
    )


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
        table.append(crc & 0xFFFFFFFF)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc32_mpeg2(data: bytes) -> int:
    """CRC-32/MPEG-2 (polynomial 0x04C11DB7, not reflected, no final xor), as the PSM carries."""
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFFFF) ^ table[((crc >> 24) ^ byte) & 0xFF]
    return crc
