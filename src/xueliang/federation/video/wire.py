"""The frames of one relayed stream, child to parent, one WebSocket binary message each.

The child sends what its channel already made: the codec parameters when they change (`P`) and each
frame's fMP4 fragment as the channel wrote it (`F`, with its decode time and composition offset in a
fixed header), so relaying costs the child no re-packaging. The parent reads the sample's NAL units
back out of the fragment (`read_sample`, as the RTSP re-serve does) and pushes an `AccessUnit` into
its own channel: every output of the parent (WebSocket, HLS, RTSP, recorder, stills) then works on it
unchanged. `S` says the camera went offline at the child (the parent's source ends with that reason)."""

from __future__ import annotations

import struct
import time

from xueliang.media.channel import Fragment
from xueliang.media.fmp4 import read_sample
from xueliang.media.frames import AccessUnit, Codec, CodecParams

PARAMS, FRAME, STATUS = b"P", b"F", b"S"
_CODECS = (Codec.h264, Codec.h265)
_PARAMS = struct.Struct(">cBHHIII")  # kind, codec, width, height, len(sps), len(pps), len(vps)
_FRAME = struct.Struct(">cBQ")  # kind, flags, decode time (90 kHz); the fragment follows
_KEY = 1
MAX_PARAM_SET = 1 << 16


class WireError(ValueError):
    """A frame that this protocol never produces: the stream is dropped."""


def encode_params(params: CodecParams) -> bytes:
    header = _PARAMS.pack(
        PARAMS,
        _CODECS.index(params.codec),
        params.width,
        params.height,
        len(params.sps),
        len(params.pps),
        len(params.vps),
    )
    return header + params.sps + params.pps + params.vps


def decode_params(data: bytes) -> CodecParams:
    if len(data) < _PARAMS.size:
        raise WireError("short parameter frame")
    _, codec, width, height, n_sps, n_pps, n_vps = _PARAMS.unpack_from(data)
    if codec >= len(_CODECS) or max(n_sps, n_pps, n_vps) > MAX_PARAM_SET:
        raise WireError("bad parameter frame")
    if len(data) != _PARAMS.size + n_sps + n_pps + n_vps:
        raise WireError("parameter frame length mismatch")
    at = _PARAMS.size
    sps, pps, vps = data[at : at + n_sps], data[at + n_sps : at + n_sps + n_pps], data[at + n_sps + n_pps :]
    return CodecParams(_CODECS[codec], sps, pps, vps, width, height)


def encode_fragment(fragment: Fragment) -> bytes:
    """The fragment as the channel wrote it, behind what the parent needs without parsing boxes."""
    return _FRAME.pack(FRAME, _KEY if fragment.keyframe else 0, fragment.decode_time) + fragment.data


def encode_status(reason: str) -> bytes:
    return STATUS + reason.encode()[:200]


def decode_frame(data: bytes, params: CodecParams) -> AccessUnit:
    """One `F` frame as the access unit the child's channel was fed (timestamps on its timeline)."""
    if len(data) < _FRAME.size:
        raise WireError("short frame")
    _, flags, decode_time = _FRAME.unpack_from(data)
    try:
        nalus, cts = read_sample(data[_FRAME.size :])
    except ValueError as exc:
        raise WireError(str(exc)) from exc
    return AccessUnit(
        nalus=nalus,
        pts=decode_time + (cts or 0),
        keyframe=bool(flags & _KEY),
        params=params,
        dts=None if cts is None else decode_time,
        arrived_ns=time.monotonic_ns(),
    )


# A node's server takes WebSocket messages up to 1 MiB (server.py); a 4K keyframe or a playback chunk
# can be larger, so a long message goes as pieces: "+" and a piece, ..., then "." and the last piece.
# A message of one piece goes as it is (its first byte is one of P, F, S, R: never "+" or ".").
PIECE = 512 * 1024
MORE, LAST = b"+", b"."


def pieces(data: bytes, size: int = PIECE) -> list[bytes]:
    if len(data) <= size:
        return [data]
    parts = [MORE + data[at : at + size] for at in range(0, len(data), size)]
    parts[-1] = LAST + parts[-1][1:]
    return parts


class Reassembler:
    """Joins pieces back into messages; `feed` returns a whole message, or None while one is partial."""

    def __init__(self, limit: int = 64 << 20) -> None:
        self._parts: list[bytes] = []
        self._size = 0
        self.limit = limit

    def feed(self, message: bytes) -> bytes | None:
        kind = message[:1]
        if kind not in (MORE, LAST):
            if self._parts:
                raise WireError("a piece is missing")
            return message
        self._parts.append(message[1:])
        self._size += len(message) - 1
        if self._size > self.limit:
            raise WireError("message too large")
        if kind == MORE:
            return None
        whole = b"".join(self._parts)
        self._parts, self._size = [], 0
        return whole
