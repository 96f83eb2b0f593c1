"""Bit reading for parameter sets: RBSP unescaping and exp-Golomb codes (H.264 §7.2, §9.1)."""

from __future__ import annotations

from xueliang.media.errors import MediaProtocolError


def unescape_rbsp(data: bytes) -> bytes:
    """Remove emulation-prevention bytes: every 00 00 03 becomes 00 00."""
    if b"\x00\x00\x03" not in data:
        return data
    out = bytearray()
    zeros = 0
    for byte in data:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


class BitReader:
    """MSB-first reader over an RBSP; reading past the end raises `MediaProtocolError`."""

    __slots__ = ("_data", "_pos", "_size")

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._size = len(data) * 8
        self._pos = 0

    @property
    def remaining(self) -> int:
        return self._size - self._pos

    def u(self, n: int) -> int:
        """Unsigned n-bit value."""
        if n == 0:
            return 0
        end = self._pos + n
        if end > self._size:
            raise MediaProtocolError("parameter set truncated")
        first, last = self._pos >> 3, (end + 7) >> 3
        window = int.from_bytes(self._data[first:last], "big")
        self._pos = end
        return (window >> (last * 8 - end)) & ((1 << n) - 1)

    def flag(self) -> bool:
        return self.u(1) == 1

    def skip(self, n: int) -> None:
        if self._pos + n > self._size:
            raise MediaProtocolError("parameter set truncated")
        self._pos += n

    def ue(self) -> int:
        """Unsigned exp-Golomb; more than 31 leading zeros is not a valid parameter-set value."""
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise MediaProtocolError("exp-Golomb code too long")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        """Signed exp-Golomb."""
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)
