"""A camera's identity drawn into its pictures as big black/white cells, readable after lossy
compression: 16 bits of camera number, a CRC-8 over them and a fixed sync pattern, 7×4 cells in the
top-left corner, cell size = picture height / 15 (24 px at 360p, 48 px at 720p)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

COLS, ROWS = 7, 4
SYNC = (1, 0, 1, 0)
_DARK, _LIGHT = 90, 165  # a readable cell's mean luma is below or above these


def cell_size(height: int) -> int:
    return max(4, height // 15)


def region(height: int) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the marker including its quiet zone; moving objects stay out of it."""
    cell = cell_size(height)
    return 0, 0, cell * (COLS + 2), cell * (ROWS + 2)


def crc8(value: int) -> int:
    """CRC-8 (polynomial 0x07) of the two bytes of `value`."""
    crc = 0
    for byte in value.to_bytes(2, "big"):
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _bits(number: int) -> list[int]:
    data = [(number >> (15 - i)) & 1 for i in range(16)]
    check = crc8(number)
    return data + [(check >> (7 - i)) & 1 for i in range(8)] + list(SYNC)


def draw_marker(rgb: npt.NDArray[np.uint8], number: int) -> None:
    """Paint the marker of `number` (0..65535) into an H×W×3 RGB picture in place."""
    if not 0 <= number <= 0xFFFF:
        raise ValueError("marker number must fit in 16 bits")
    height = rgb.shape[0]
    cell = cell_size(height)
    x0, y0, x1, y1 = region(height)
    rgb[y0:y1, x0:x1] = 128
    for index, bit in enumerate(_bits(number)):
        row, col = divmod(index, COLS)
        top, left = cell * (row + 1), cell * (col + 1)
        rgb[top : top + cell, left : left + cell] = 255 if bit else 0


def decode_marker(rgb: npt.NDArray[Any]) -> int | None:
    """The camera number shown in an RGB (or single-channel luma) picture, or None when no valid
    marker is there (a cell too grey to read, a wrong sync pattern or a CRC mismatch)."""
    if rgb.ndim not in (2, 3) or rgb.shape[0] < 60:
        return None
    cell = cell_size(rgb.shape[0])
    _, _, x1, y1 = region(rgb.shape[0])
    if rgb.shape[1] < x1:
        return None
    corner = rgb[:y1, :x1].astype(np.float32)
    luma = corner if rgb.ndim == 2 else corner[..., :3].mean(axis=2)
    inset = cell // 4
    bits: list[int] = []
    for index in range(COLS * ROWS):
        row, col = divmod(index, COLS)
        top, left = cell * (row + 1) + inset, cell * (col + 1) + inset
        mean = float(luma[top : top + cell - 2 * inset, left : left + cell - 2 * inset].mean())
        if _DARK <= mean <= _LIGHT:
            return None
        bits.append(1 if mean > _LIGHT else 0)
    if tuple(bits[24:]) != SYNC:
        return None
    number = int("".join(map(str, bits[:16])), 2)
    check = int("".join(map(str, bits[16:24])), 2)
    return number if crc8(number) == check else None
