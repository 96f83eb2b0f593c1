"""Decode → fill the polygons → scale → encode: one camera's masked variant, frame by frame.

Blocking and thread-confined: `MaskTranscoder.push` runs in the masked source's worker thread, never on
the event loop. The fill happens at the camera's own resolution before scaling, so the scaler only
blends the fill colour into the mask's edge, never masked pixels into the picture around it. A keyframe
in stays a keyframe out (parameter sets in-band), so the derived channel's GOPs follow the camera's."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from xueliang.media.codecs.annexb import join_annexb, split_annexb
from xueliang.media.codecs.params import ParamSetTracker
from xueliang.media.errors import MediaError
from xueliang.media.frames import AccessUnit, Codec, CodecParams
from xueliang.media.mask.raster import Polygons, chroma_mask, luma_mask

FILL_Y, FILL_C = 16, 128  # black in limited-range YUV
_DECODERS = {Codec.h264: "h264", Codec.h265: "hevc"}


@dataclass(frozen=True, slots=True)
class EncodeConfig:
    max_width: int = 640  # the sub-stream size: 640x360 for a 16:9 camera
    crf: int = 28
    preset: str = "ultrafast"
    threads: int = 1  # one core per masked camera at most; the node's other work keeps the rest


def output_size(width: int, height: int, max_width: int) -> tuple[int, int]:
    """The encoded size: at most `max_width` wide, aspect kept, both even."""
    out_w = max(2, min(width, max_width) // 2 * 2)
    out_h = max(2, round(height * out_w / width / 2) * 2)
    return out_w, out_h


def fill(frame: Any, polygons: Polygons) -> Any:
    """A yuv420p copy of a decoded frame with every polygon filled black."""
    import av

    width, height = frame.width, frame.height
    if width % 2 or height % 2:
        frame = frame.reformat(width=width // 2 * 2, height=height // 2 * 2)
        width, height = frame.width, frame.height
    planes = frame.to_ndarray(format="yuv420p")
    if polygons:
        flat = planes.reshape(-1)
        luma = width * height
        chroma = (width // 2) * (height // 2)
        flat[:luma].reshape(height, width)[luma_mask(polygons, width, height)] = FILL_Y
        cmask = chroma_mask(polygons, width, height)
        flat[luma : luma + chroma].reshape(height // 2, width // 2)[cmask] = FILL_C
        flat[luma + chroma : luma + 2 * chroma].reshape(height // 2, width // 2)[cmask] = FILL_C
    out = av.VideoFrame.from_ndarray(planes, format="yuv420p")
    out.pts = frame.pts
    return out


class MaskTranscoder:
    """Access units of the camera in, access units of the masked variant out (H.264)."""

    def __init__(
        self,
        polygons_of: Callable[[], Polygons],
        config: EncodeConfig | None = None,
        polygons_at: Callable[[int], Polygons] | None = None,
    ) -> None:
        """`polygons_of()` gives the polygons of each picture as it is encoded (live); `polygons_at`,
        when given, those of a picture by its presentation time (recordings: the set then in force)."""
        self._polygons_of = polygons_of
        self._polygons_at = polygons_at
        self.config = config or EncodeConfig()
        self._decoder: Any = None
        self._codec: Codec | None = None
        self._encoder: Any = None
        self._size: tuple[int, int] | None = None
        self._tracker = ParamSetTracker(Codec.h264)
        self.frames_in = 0
        self.frames_out = 0

    def _open_decoder(self, codec: Codec) -> None:
        import av

        decoder: Any = av.CodecContext.create(_DECODERS[codec], "r")
        decoder.flags |= av.codec.context.Flags.low_delay
        decoder.thread_count = 1
        self._decoder, self._codec = decoder, codec

    def _open_encoder(self, width: int, height: int) -> None:
        import av

        out_w, out_h = output_size(width, height, self.config.max_width)
        encoder: Any = av.CodecContext.create("libx264", "w")
        encoder.width, encoder.height, encoder.pix_fmt = out_w, out_h, "yuv420p"
        encoder.time_base = Fraction(1, 90_000)
        encoder.framerate = Fraction(25)
        encoder.thread_count = self.config.threads
        encoder.options = {
            "preset": self.config.preset,
            "tune": "zerolatency",
            "crf": str(self.config.crf),
            # Keyframes only where the camera has them (forced below); SPS/PPS before each one.
            "x264-params": "keyint=infinite:min-keyint=1:scenecut=0:bframes=0:repeat-headers=1",
        }
        self._encoder, self._size = encoder, (width, height)

    def push(self, au: AccessUnit) -> list[AccessUnit]:
        """The masked access units this one yields (usually one; none while the decoder waits for a
        keyframe). Raises MediaError when the picture cannot be decoded or encoded."""
        import av

        params = au.params
        if self._decoder is None or params.codec is not self._codec:
            self._open_decoder(params.codec)
        self.frames_in += 1
        nalus = au.nalus
        if au.keyframe:
            sets = (
                [params.sps, params.pps]
                if params.codec is Codec.h264
                else [params.vps, params.sps, params.pps]
            )
            nalus = [*sets, *nalus]
        packet = av.Packet(join_annexb(nalus))
        packet.pts, packet.dts = au.pts, au.decode_ts
        try:
            frames = self._decoder.decode(packet)
            out: list[AccessUnit] = []
            for frame in frames:
                out.extend(self._encode(frame, params))
        except av.FFmpegError as exc:
            raise MediaError(f"masking failed: {exc}") from exc
        return out

    def flush(self) -> list[AccessUnit]:
        """The pictures the decoder still holds (B-frames reorder), masked and encoded: at the end of a
        recorded chunk."""
        import av

        if self._decoder is None or self._codec is None:
            return []
        out: list[AccessUnit] = []
        try:
            for frame in self._decoder.decode(None):
                out.extend(self._encode(frame, CodecParams(self._codec, b"", b"")))
        except av.FFmpegError as exc:
            raise MediaError(f"masking failed: {exc}") from exc
        return out

    def _encode(self, frame: Any, source: CodecParams) -> list[AccessUnit]:
        import av

        key = bool(frame.key_frame)
        if self._encoder is None or self._size != (frame.width, frame.height):
            if not key:
                return []  # a new size starts at a keyframe
            self._open_encoder(frame.width, frame.height)
        at = self._polygons_at
        masked = fill(frame, at(int(frame.pts or 0)) if at is not None else self._polygons_of())
        width, height = self._encoder.width, self._encoder.height
        if (masked.width, masked.height) != (width, height):
            masked = masked.reformat(width=width, height=height, interpolation="BILINEAR")
        masked.pts = frame.pts
        masked.pict_type = av.video.frame.PictureType.I if key else av.video.frame.PictureType.NONE
        units: list[AccessUnit] = []
        for packet in self._encoder.encode(masked):
            nalus = split_annexb(bytes(packet))
            params = self._tracker.update(nalus)
            if params is None or packet.pts is None:
                continue
            units.append(
                AccessUnit(
                    nalus=nalus,
                    pts=int(packet.pts),
                    keyframe=bool(packet.is_keyframe),
                    params=params,
                )
            )
            self.frames_out += 1
        return units


def masked_still(
    mp4: bytes, polygons: Polygons, width: int = 320, quality: int = 5
) -> tuple[bytes, int, int]:
    """(JPEG, width, height) of the first picture of an init segment + keyframe with the polygons
    filled, at most `width` wide. Blocking: run it in a thread. Raises MediaError when nothing decodes."""
    import av

    try:
        with av.open(io.BytesIO(mp4), mode="r", format="mp4") as container:
            stream = container.streams.video[0]
            stream.codec_context.thread_count = 1
            frame = next(iter(container.decode(stream)), None)
            if frame is None:
                raise MediaError("the keyframe did not decode to a picture")
        masked = fill(frame, polygons)
        out_w, out_h = output_size(masked.width, masked.height, width)
        scaled = masked.reformat(width=out_w, height=out_h, format="yuvj420p")
        encoder: Any = av.CodecContext.create("mjpeg", "w")
        encoder.width, encoder.height, encoder.pix_fmt = out_w, out_h, "yuvj420p"
        encoder.time_base = Fraction(1, 25)
        encoder.options = {"qmin": str(quality), "qmax": str(quality)}
        scaled.pts = 0
        packets = [*encoder.encode(scaled), *encoder.encode(None)]
    except av.FFmpegError as exc:
        raise MediaError(f"the keyframe did not decode: {exc}") from exc
    if not packets:
        raise MediaError("the picture did not encode")
    return b"".join(bytes(p) for p in packets), out_w, out_h
