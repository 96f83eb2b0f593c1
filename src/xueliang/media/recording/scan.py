"""Reading a recorded segment file back: the init segment, then one moof+mdat pair per fragment.

Why our own walk instead of FFmpeg: repair after a crash must know exactly where the last *complete*
fragment ends (a killed writer leaves half a moof or half an mdat), and FFmpeg happily decodes up to
the damage without saying where it is. Only box headers and the small moof boxes are read, so a
60 s file is scanned in well under a millisecond per fragment."""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

_HEAD = struct.Struct(">I4s")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_NON_SYNC = 0x00010000  # sample_is_non_sync_sample in ISO/IEC 14496-12 sample flags
_MAX_MOOF = 1 << 20  # a moof bigger than this is not one we wrote


@dataclass(frozen=True, slots=True)
class FragmentInfo:
    """One moof+mdat pair: where it lies in the file and what its samples say."""

    offset: int
    size: int
    decode_time: int  # tfdt, 90 kHz
    duration: int  # sum of the sample durations
    keyframe: bool  # the first sample is a sync sample
    samples: int


@dataclass(slots=True)
class ScanResult:
    """What a file holds. `valid_size` ends after the last complete fragment; anything after it is a
    torn write. `problem` is empty for a file that ends exactly there."""

    file_size: int
    init_size: int = 0
    fragments: list[FragmentInfo] = field(default_factory=list)
    valid_size: int = 0
    problem: str = ""

    @property
    def media_start(self) -> int:
        return self.fragments[0].decode_time if self.fragments else 0

    @property
    def media_end(self) -> int:
        last = self.fragments[-1] if self.fragments else None
        return last.decode_time + last.duration if last else 0

    def keyframes(self, timescale: int = 90_000) -> list[tuple[int, int]]:
        """(milliseconds from the first fragment, byte offset) of every keyframe fragment."""
        start = self.media_start
        return [((f.decode_time - start) * 1000 // timescale, f.offset) for f in self.fragments if f.keyframe]


class _Truncated(Exception):
    pass


def _read_exact(fh: BinaryIO, size: int) -> bytes:
    data = fh.read(size)
    if len(data) != size:
        raise _Truncated
    return data


def _box_header(fh: BinaryIO, offset: int, file_size: int) -> tuple[int, bytes, int]:
    """(box size, type, header size) of the box at `offset`; raises _Truncated past the end."""
    if offset + 8 > file_size:
        raise _Truncated
    fh.seek(offset)
    size, kind = _HEAD.unpack(_read_exact(fh, 8))
    header = 8
    if size == 1:
        size = _U64.unpack(_read_exact(fh, 8))[0]
        header = 16
    elif size == 0:
        size = file_size - offset  # "to the end of the file": never written by us, read as is
    if size < header:
        raise ValueError(f"box {kind!r} at {offset} has an impossible size {size}")
    return size, kind, header


def _children(data: bytes, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, payload start, box end) of the boxes inside data[start:end]."""
    out = []
    pos = start
    while pos + 8 <= end:
        size, kind = _HEAD.unpack_from(data, pos)
        if size < 8 or pos + size > end:
            raise ValueError(f"damaged box {kind!r} inside a moof")
        out.append((kind, pos + 8, pos + size))
        pos += size
    return out


def _parse_traf(data: bytes, start: int, end: int) -> tuple[int, int, bool, int]:
    """(decode time, total duration, first sample is sync, sample count) of one track fragment."""
    default_duration = default_flags = 0
    decode_time = duration = samples = 0
    keyframe = False
    for kind, body, box_end in _children(data, start, end):
        if kind == b"tfhd":
            flags = _U32.unpack_from(data, body)[0] & 0xFFFFFF
            pos = body + 8  # version/flags, track_ID
            if flags & 0x01:
                pos += 8
            if flags & 0x02:
                pos += 4
            if flags & 0x08:
                default_duration = _U32.unpack_from(data, pos)[0]
                pos += 4
            if flags & 0x10:
                pos += 4
            if flags & 0x20:
                default_flags = _U32.unpack_from(data, pos)[0]
        elif kind == b"tfdt":
            version = data[body]
            if version == 1:
                decode_time = _U64.unpack_from(data, body + 4)[0]
            else:
                decode_time = _U32.unpack_from(data, body + 4)[0]
        elif kind == b"trun":
            flags = _U32.unpack_from(data, body)[0] & 0xFFFFFF
            count = _U32.unpack_from(data, body + 4)[0]
            pos = body + 8
            if flags & 0x01:
                pos += 4
            first_flags = None
            if flags & 0x04:
                first_flags = _U32.unpack_from(data, pos)[0]
                pos += 4
            per_sample = 4 * sum(1 for bit in (0x100, 0x200, 0x400, 0x800) if flags & bit)
            if pos + per_sample * count > box_end:
                raise ValueError("trun longer than its box")
            for index in range(count):
                cursor = pos + index * per_sample
                sample_duration = default_duration
                sample_flags = default_flags
                if flags & 0x100:
                    sample_duration = _U32.unpack_from(data, cursor)[0]
                    cursor += 4
                if flags & 0x200:
                    cursor += 4
                if flags & 0x400:
                    sample_flags = _U32.unpack_from(data, cursor)[0]
                if index == 0:
                    if first_flags is not None:
                        sample_flags = first_flags
                    keyframe = not sample_flags & _NON_SYNC
                duration += sample_duration
            samples += count
    return decode_time, duration, keyframe, samples


def _parse_moof(data: bytes) -> tuple[int, int, bool, int]:
    for kind, body, end in _children(data, 8, len(data)):
        if kind == b"traf":
            return _parse_traf(data, body, end)
    raise ValueError("moof without traf")


def scan_file(fh: BinaryIO, file_size: int | None = None) -> ScanResult:
    """Walk the boxes of an open segment file. Never raises for a torn tail: that is reported in
    `problem` and left out of `valid_size`. Damage in the middle (a box that cannot be ours) stops the
    walk there, with the same result: everything before it is usable."""
    if file_size is None:
        fh.seek(0, os.SEEK_END)
        file_size = fh.tell()
    result = ScanResult(file_size)
    offset = 0
    try:
        seen_moov = False
        while offset < file_size and not seen_moov:
            size, kind, _ = _box_header(fh, offset, file_size)
            if kind not in (b"ftyp", b"moov", b"free", b"styp"):
                raise ValueError(f"expected the init segment, found {kind.decode('latin-1')!r}")
            if offset + size > file_size:
                raise _Truncated
            offset += size
            seen_moov = kind == b"moov"
        if not seen_moov:
            raise _Truncated
        result.init_size = result.valid_size = offset
        while offset < file_size:
            size, kind, _ = _box_header(fh, offset, file_size)
            if kind != b"moof" or size > _MAX_MOOF:
                raise ValueError(f"expected moof at byte {offset}, found {kind.decode('latin-1')!r}")
            if offset + size > file_size:
                raise _Truncated
            fh.seek(offset)
            moof = _read_exact(fh, size)
            mdat_size, mdat_kind, _ = _box_header(fh, offset + size, file_size)
            if mdat_kind != b"mdat":
                raise ValueError(f"moof at byte {offset} is not followed by mdat")
            end = offset + size + mdat_size
            if end > file_size:
                raise _Truncated
            decode_time, duration, keyframe, samples = _parse_moof(moof)
            result.fragments.append(
                FragmentInfo(offset, end - offset, decode_time, duration, keyframe, samples)
            )
            offset = result.valid_size = end
    except _Truncated:
        result.problem = f"torn write: {file_size - result.valid_size} bytes after the last complete box"
    except (ValueError, struct.error) as exc:
        result.problem = f"damaged at byte {offset}: {exc}"
    return result


def scan_path(path: Path) -> ScanResult:
    with path.open("rb") as fh:
        return scan_file(fh)


def repair_path(path: Path) -> ScanResult:
    """Cut a file back to its last complete fragment (after a crash or a failed write) and make that
    durable; returns the scan of what is left."""
    with path.open("r+b") as fh:
        result = scan_file(fh)
        if result.valid_size < result.file_size:
            fh.truncate(result.valid_size)
            fh.flush()
            os.fsync(fh.fileno())
            result.file_size = result.valid_size
    return result
