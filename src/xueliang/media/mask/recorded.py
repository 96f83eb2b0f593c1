"""Masked playback of recorded video: a chunk of a recording (whole GOPs of the channel's one-frame
fragments, as the recorder wrote them) decoded, masked and encoded again, with its fragments' times
kept, so a player switches between masked chunks as between the original ones. Blocking: run it in a
thread. Recordings keep the original; this runs per request, for viewers who may not lift the masks."""

from __future__ import annotations

import struct
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from xueliang.media.codecs.config_record import parse_avcc, parse_hvcc
from xueliang.media.codecs.params import codec_string, make_params
from xueliang.media.errors import MediaError
from xueliang.media.fmp4 import FragmentWriter, build_init, read_sample, sample_nalus
from xueliang.media.frames import AccessUnit, Codec, CodecParams
from xueliang.media.mask.raster import Polygons
from xueliang.media.mask.transcode import EncodeConfig, MaskTranscoder, fill

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_TFDT_AT, _DURATION_AT = 60, 88  # where FragmentWriter puts tfdt's time and trun's sample duration


def params_of_init(init: bytes) -> CodecParams:
    """The codec parameters of an init segment (its avcC or hvcC record)."""
    for kind, codec in ((b"avcC", Codec.h264), (b"hvcC", Codec.h265)):
        at = init.find(kind)
        if at >= 4:
            size = _U32.unpack_from(init, at - 4)[0]
            body = init[at + 4 : at - 4 + size]
            record = parse_avcc(body) if codec is Codec.h264 else parse_hvcc(body)
            if not record.sps or not record.pps:
                break
            vps = record.vps[0] if record.vps else b""
            return make_params(codec, record.sps[0], record.pps[0], vps)
    raise MediaError("the init segment has no avcC or hvcC record")


def fragments(data: bytes) -> list[bytes]:
    """The moof+mdat pairs of a chunk, in order."""
    out: list[bytes] = []
    pos = 0
    while pos + 8 <= len(data):
        moof = _U32.unpack_from(data, pos)[0]
        if data[pos + 4 : pos + 8] != b"moof" or pos + moof + 8 > len(data):
            raise MediaError("not a chunk of one-frame fragments")
        mdat = _U32.unpack_from(data, pos + moof)[0]
        out.append(data[pos : pos + moof + mdat])
        pos += moof + mdat
    return out


def _units(params: CodecParams, chunk: bytes) -> list[tuple[AccessUnit, int]]:
    """(access unit, sample duration) of every fragment of the chunk, on the recording's timeline."""
    units: list[tuple[AccessUnit, int]] = []
    for frag in fragments(chunk):
        try:
            nalus, cts = read_sample(frag)
        except ValueError as exc:
            raise MediaError(f"unreadable fragment: {exc}") from exc
        decode_time = _U64.unpack_from(frag, _TFDT_AT)[0]
        duration = _U32.unpack_from(frag, _DURATION_AT)[0]
        flags = _U32.unpack_from(frag, _DURATION_AT + 8)[0]
        keyframe = not flags & 0x00010000  # sample_is_non_sync_sample
        pts = decode_time + (cts or 0)
        au = AccessUnit(nalus, pts, keyframe, params, dts=decode_time if cts is not None else None)
        units.append((au, duration))
    return units


def mask_recorded(
    init: bytes,
    chunk: bytes,
    polygons: Polygons,
    config: EncodeConfig | None = None,
    polygons_at: Callable[[int], Polygons] | None = None,
) -> tuple[bytes, bytes]:
    """(init segment, fragments) of the chunk with the polygons filled (or, given `polygons_at`, those
    of each picture's presentation time on the recording's 90 kHz clock): H.264 at the sub-stream size,
    one fragment per frame at its original presentation time. Raises MediaError."""
    params = params_of_init(init)
    units = _units(params, chunk)
    if not units or not units[0][0].keyframe:
        raise MediaError("a chunk starts at a keyframe")
    transcoder = MaskTranscoder(lambda: polygons, config, polygons_at)
    durations = {au.pts: duration for au, duration in units}
    masked: list[AccessUnit] = []
    for au, _ in units:
        masked.extend(transcoder.push(au))
    masked.extend(transcoder.flush())
    if not masked:
        raise MediaError("nothing in the chunk decoded")
    writer = FragmentWriter()
    step = min(durations.values()) or 3600
    body = [
        writer.write(au.pts, durations.get(au.pts, step), au.keyframe, sample_nalus(Codec.h264, au.nalus))
        for au in masked
    ]
    return build_init(masked[0].params).data, b"".join(body)


@lru_cache(maxsize=1)
def masked_codec_string() -> str:
    """The RFC 6381 codec of every masked variant (libx264, the encoder's profile at the largest
    sub-stream size), for players that must name it before the first init segment."""
    import av

    config = EncodeConfig()
    transcoder = MaskTranscoder(lambda: (), config)
    transcoder._open_encoder(config.max_width, config.max_width * 3 // 4)
    frame = av.VideoFrame(config.max_width, config.max_width * 3 // 4, "yuv420p")
    frame.pts = 0
    for packet in transcoder._encoder.encode(frame):
        from xueliang.media.codecs.annexb import split_annexb

        params = transcoder._tracker.update(split_annexb(bytes(packet)))
        if params is not None:
            return codec_string(params)
    return "avc1.42c01e"


def mask_mp4_file(
    path: Path, polygons: Polygons, crf: int = 20, polygons_at: Callable[[float], Polygons] | None = None
) -> int:
    """Re-encode an MP4 file (an export part) in place with the polygons filled (or, given
    `polygons_at`, those of each picture's time in seconds from the file's start), at its own size and
    times: H.264 (libx264 veryfast, CRF `crf`, faststart). Returns the frames written. Blocking."""
    import av

    masked_path = path.with_name(path.stem + ".masking" + path.suffix)
    frames = 0
    try:
        with (
            av.open(str(path), "r") as source,
            av.open(str(masked_path), "w", format="mp4", options={"movflags": "+faststart"}) as target,
        ):
            video = source.streams.video[0]
            video.codec_context.thread_count = 1
            out: Any = None
            for frame in source.decode(video):
                base = frame.time_base or video.time_base
                seconds = float(frame.pts * base) if frame.pts is not None and base else 0.0
                masked = fill(frame, polygons_at(seconds) if polygons_at is not None else polygons)
                if out is None:
                    out = target.add_stream("libx264", rate=25)
                    out.width, out.height, out.pix_fmt = masked.width, masked.height, "yuv420p"
                    out.time_base = video.time_base
                    out.codec_context.time_base = video.time_base
                    out.options = {"preset": "veryfast", "crf": str(crf), "x264-params": "bframes=0"}
                masked.pts, masked.time_base = frame.pts, frame.time_base
                for packet in out.encode(masked):
                    target.mux(packet)
                frames += 1
            if out is not None:
                for packet in out.encode(None):
                    target.mux(packet)
    except av.FFmpegError as exc:
        masked_path.unlink(missing_ok=True)
        raise MediaError(f"masking the export failed: {exc}") from exc
    if not frames:
        masked_path.unlink(missing_ok=True)
        raise MediaError("the export holds no picture")
    masked_path.replace(path)
    return frames
