"""A one-track audio fragmented MP4 (AAC in `mp4a`/`esds`): its own init segment and fragments, so audio
travels beside the video instead of inside its track (an MSE SourceBuffer of its own, an HLS audio
rendition, a file of its own in a recording): the video's fragments, GOP cache and queues stay exactly
as they are whether a camera has sound or not. Timescale = the sample rate, so AAC frames are exact."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from xueliang.media.audio.aac import codec_string
from xueliang.media.audio.frames import AudioCodec, AudioConfig
from xueliang.media.fmp4.boxes import box, full_box

TRACK_ID = 1
_SYNC = 0x02000000  # every AAC frame decodes on its own
_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


@dataclass(frozen=True, slots=True)
class AudioInit:
    data: bytes
    codec: str  # RFC 6381, e.g. "mp4a.40.2"
    config: AudioConfig

    @property
    def mime(self) -> str:
        return f'audio/mp4; codecs="{self.codec}"'


def _descriptor(tag: int, body: bytes) -> bytes:
    """An MPEG-4 descriptor with a four-byte length (accepted by every reader, simple to write)."""
    size = len(body)
    length = bytes(
        [0x80 | (size >> 21) & 0x7F, 0x80 | (size >> 14) & 0x7F, 0x80 | (size >> 7) & 0x7F, size & 0x7F]
    )
    return bytes([tag]) + length + body


def _esds(asc: bytes) -> bytes:
    decoder_specific = _descriptor(0x05, asc)
    # objectTypeIndication 0x40 (MPEG-4 audio), streamType 5 (audio) << 2 | upstream 0 | reserved 1
    decoder_config = _descriptor(0x04, struct.pack(">BBBHII", 0x40, 0x15, 0, 0, 0, 0) + decoder_specific)
    sl_config = _descriptor(0x06, b"\x02")
    es = _descriptor(0x03, struct.pack(">HB", TRACK_ID, 0) + decoder_config + sl_config)
    return full_box(b"esds", 0, 0, es)


def build_audio_init(config: AudioConfig) -> AudioInit:
    """ftyp + moov for one AAC track; raises ValueError for anything but AAC with its config."""
    if config.codec is not AudioCodec.aac or not config.asc:
        raise ValueError("an audio init segment needs AAC and its AudioSpecificConfig")
    codec = codec_string(config.asc)
    rate = config.sample_rate
    entry = box(
        b"mp4a",
        bytes(6),
        struct.pack(">H8xHHHHI", 1, min(config.channels, 2), 16, 0, 0, (rate if rate < 65536 else 0) << 16),
        _esds(config.asc),
    )
    ftyp = box(b"ftyp", b"isom", struct.pack(">I", 0x200), b"isomiso6cmfcmp41")
    mvhd = full_box(
        b"mvhd", 0, 0, struct.pack(">IIIIIH10x", 0, 0, 1000, 0, 0x10000, 0x100), _MATRIX, bytes(24),
        struct.pack(">I", TRACK_ID + 1),
    )  # fmt: skip
    tkhd = full_box(
        b"tkhd", 0, 3, struct.pack(">IIII4x8xhhh2x", 0, 0, TRACK_ID, 0, 0, 0, 0x100), _MATRIX, bytes(8)
    )
    mdhd = full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, rate, 0, 0x55C4, 0))
    hdlr = full_box(b"hdlr", 0, 0, struct.pack(">I4s12x", 0, b"soun"), b"SoundHandler\x00")
    smhd = full_box(b"smhd", 0, 0, bytes(4))
    dinf = box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, 1)))
    stbl = box(
        b"stbl",
        full_box(b"stsd", 0, 0, struct.pack(">I", 1), entry),
        full_box(b"stts", 0, 0, bytes(4)),
        full_box(b"stsc", 0, 0, bytes(4)),
        full_box(b"stsz", 0, 0, bytes(8)),
        full_box(b"stco", 0, 0, bytes(4)),
    )
    mdia = box(b"mdia", mdhd, hdlr, box(b"minf", smhd, dinf, stbl))
    trex = full_box(b"trex", 0, 0, struct.pack(">IIIII", TRACK_ID, 1, 0, 0, _SYNC))
    moov = box(b"moov", mvhd, box(b"trak", tkhd, mdia), box(b"mvex", trex))
    return AudioInit(ftyp + moov, codec, config)


class AudioFragmentWriter:
    """One moof+mdat for a run of AAC frames (several per fragment: 20-50 frames a second are too
    many small boxes to send one by one)."""

    def __init__(self) -> None:
        self.sequence = 0

    def write(self, decode_time: int, frames: Sequence[bytes], duration: int) -> bytes:
        """`decode_time` in samples (tfdt), `duration` samples per frame (1024 for AAC-LC)."""
        self.sequence += 1
        count = len(frames)
        trun_size = 12 + 8 + 4 * count
        moof_size = 8 + 16 + 8 + 20 + 20 + trun_size
        mdat = sum(len(f) for f in frames)
        head = struct.pack(
            ">I4sI4sII" "I4s" "I4sIII" "I4sIQ" "I4sIIi",
            moof_size, b"moof", 16, b"mfhd", 0, self.sequence,
            moof_size - 24, b"traf",
            20, b"tfhd", 0x020008, TRACK_ID, duration,  # default-base-is-moof, default duration
            20, b"tfdt", 0x01000000, decode_time,
            trun_size, b"trun", 0x000201, count, moof_size + 8,  # data offset, sample sizes
        )  # fmt: skip
        sizes = struct.pack(f">{count}I", *(len(f) for f in frames))
        return b"".join((head, sizes, struct.pack(">I4s", mdat + 8, b"mdat"), *frames))
