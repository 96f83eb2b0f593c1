"""Real program streams for the PS tests, written by FFmpeg's own MPEG-PS muxers through PyAV (the
`ffmpeg` command is not on every machine; its libraries are): `mpeg` (MPEG-1 system stream, what
`ffmpeg -f mpeg` writes) and `vob` (MPEG-2 program stream, pack headers with stuffing fields).

FFmpeg's PS muxers take MPEG audio (mp2), AC-3 or LPCM but refuse G.711 (`pcm_alaw`, `pcm_mulaw`) and
AAC, and write no program stream map; GB/T 28181 streams with G.711 are made with our muxer and real
G.711 from FFmpeg's encoder (`g711_frames`)."""

from __future__ import annotations

import io
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import numpy as np
from av.audio.stream import AudioStream
from av.video.stream import VideoStream

from tests.support.clips import marker_level
from xueliang.media.frames import Codec

WIDTH, HEIGHT = 160, 96


def picture(index: int, camera_index: int) -> av.VideoFrame:
    """A grey frame with the camera's marker block top left and a block moving along."""
    plane = np.full((HEIGHT * 3 // 2, WIDTH), 128, np.uint8)
    plane[:HEIGHT] = 90
    plane[:32, :32] = marker_level(camera_index)
    x = 40 + (index * 3) % (WIDTH - 56)
    plane[40:56, x : x + 16] = 230
    frame = av.VideoFrame.from_ndarray(plane, format="yuv420p")
    frame.pts = index
    return frame


def ffmpeg_ps(
    path: Path,
    *,
    fmt: str = "mpeg",
    codec: Codec = Codec.h264,
    frames: int = 50,
    gop: int = 25,
    bframes: int = 0,
    audio: str | None = "mp2",
    camera_index: int = 1,
) -> Path:
    """Encode a 25 fps clip (and 1 kHz tone) and write it with FFmpeg's PS muxer `fmt`."""
    with av.open(str(path), "w", format=fmt) as out:
        name = "libx264" if codec is Codec.h264 else "libx265"
        video = cast(VideoStream, out.add_stream(name, rate=25))
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        params = f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes={bframes}"
        if codec is Codec.h264:
            video.options = {"preset": "ultrafast", "x264-params": params}
        else:
            video.options = {"preset": "ultrafast", "x265-params": params + ":log-level=error"}
        sound: AudioStream | None = None
        if audio:
            sound = cast(AudioStream, out.add_stream(audio, rate=16000))
            sound.layout, sound.format = "mono", "s16"
        for index in range(frames):
            out.mux(video.encode(picture(index, camera_index)))
        out.mux(video.encode(None))
        if sound is not None:
            samples = 1152
            tone = (np.sin(np.arange(16000 * frames // 25) * 2 * np.pi / 16) * 4000).astype(np.int16)
            for pos in range(0, len(tone) - samples + 1, samples):
                chunk = av.AudioFrame.from_ndarray(
                    tone[None, pos : pos + samples], format="s16", layout="mono"
                )
                chunk.sample_rate, chunk.pts, chunk.time_base = 16000, pos, Fraction(1, 16000)
                out.mux(sound.encode(chunk))
            out.mux(sound.encode(None))
    return path


def g711_frames(count: int, codec: str = "pcm_alaw", samples: int = 320) -> list[bytes]:
    """`count` frames of 40 ms of a 440 Hz tone as G.711 (8 kHz), encoded by FFmpeg."""
    ctx = av.CodecContext.create(codec, "w")
    assert isinstance(ctx, av.AudioCodecContext)
    ctx.sample_rate, ctx.layout, ctx.format = 8000, "mono", "s16"
    tone = (np.sin(np.arange(count * samples) * 2 * np.pi * 440 / 8000) * 8000).astype(np.int16)
    out = []
    for i in range(count):
        chunk = av.AudioFrame.from_ndarray(
            tone[None, i * samples : (i + 1) * samples], format="s16", layout="mono"
        )
        chunk.sample_rate, chunk.pts = 8000, i * samples
        out.append(b"".join(bytes(p) for p in ctx.encode(chunk)))
    return out


def ffmpeg_read(data: bytes) -> tuple[set[str], list[av.VideoFrame]]:
    """What FFmpeg's PS demuxer (`-f mpeg`) finds in `data`: its streams' codecs, the decoded video."""
    with av.open(io.BytesIO(data), "r", format="mpeg") as container:
        names = {stream.codec_context.name for stream in container.streams}
        return names, list(container.decode(video=0))
