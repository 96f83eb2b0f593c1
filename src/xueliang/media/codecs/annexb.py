"""Annex-B (start-code) and length-prefixed (MP4-style) framing of NAL units."""

from __future__ import annotations

from collections.abc import Iterable

from xueliang.media.errors import MediaProtocolError

START_CODE = b"\x00\x00\x00\x01"


def split_annexb(data: bytes) -> list[bytes]:
    """NAL units of an Annex-B byte stream, without start codes or trailing zero bytes.

    The stream must open with a start code (leading zero bytes allowed); empty NAL units are skipped.
    """
    start = data.find(b"\x00\x00\x01")
    if start < 0 or data[:start].strip(b"\x00"):
        raise MediaProtocolError("not an Annex-B stream: no leading start code")
    nalus: list[bytes] = []
    pos = start + 3
    while True:
        nxt = data.find(b"\x00\x00\x01", pos)
        end = len(data) if nxt < 0 else nxt
        nalu = data[pos:end].rstrip(b"\x00")
        if nalu:
            nalus.append(nalu)
        if nxt < 0:
            return nalus
        pos = nxt + 3


def join_annexb(nalus: Iterable[bytes]) -> bytes:
    """One Annex-B buffer with a 4-byte start code before each NAL unit."""
    return b"".join(START_CODE + n for n in nalus)


def split_length_prefixed(data: bytes, size: int = 4) -> list[bytes]:
    """NAL units of an MP4 sample, each preceded by a big-endian length of `size` bytes."""
    if size not in (1, 2, 4):
        raise MediaProtocolError(f"unsupported NAL length size {size}")
    nalus: list[bytes] = []
    pos = 0
    while pos < len(data):
        if pos + size > len(data):
            raise MediaProtocolError("truncated NAL length prefix")
        length = int.from_bytes(data[pos : pos + size], "big")
        pos += size
        if length == 0 or pos + length > len(data):
            raise MediaProtocolError(f"bad NAL length {length} at offset {pos - size}")
        nalus.append(data[pos : pos + length])
        pos += length
    return nalus


def join_length_prefixed(nalus: Iterable[bytes], size: int = 4) -> bytes:
    """An MP4 sample: each NAL unit preceded by its big-endian length."""
    return b"".join(len(n).to_bytes(size, "big") + n for n in nalus)
