"""Reading H.264/H.265 parameter-set bits: emulation-prevention removal and Exp-Golomb codes."""

from __future__ import annotations


class BitstreamError(ValueError):
    """A parameter set ended early or holds a value outside what the standard allows."""


def unescape_rbsp(nal: bytes) -> bytes:
    """Drop the 0x03 of every 00 00 03 so the payload reads as the encoder wrote it."""
    if b"\x00\x00\x03" not in nal:
        return nal
    out = bytearray()
    zeros = 0
    for byte in nal:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


class BitReader:
    """MSB-first reader over an RBSP; raises BitstreamError instead of reading past the end."""

    def __init__(self, data: bytes, byte_offset: int = 0) -> None:
        self._value = int.from_bytes(data, "big")
        self._size = len(data) * 8
        self._pos = byte_offset * 8

    def u(self, count: int) -> int:
        if count == 0:
            return 0
        end = self._pos + count
        if end > self._size:
            raise BitstreamError("parameter set ends early")
        value = (self._value >> (self._size - end)) & ((1 << count) - 1)
        self._pos = end
        return value

    def skip(self, count: int) -> None:
        if self._pos + count > self._size:
            raise BitstreamError("parameter set ends early")
        self._pos += count

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise BitstreamError("Exp-Golomb code longer than 32 bits")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        code = self.ue()
        return (code + 1) // 2 if code & 1 else -(code // 2)
