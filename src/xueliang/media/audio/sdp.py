"""The audio track of a camera's SDP: G.711 (PCMA/PCMU, static payload types 8 and 0 included) and
AAC in RFC 3640's mpeg4-generic AAC-hbr mode, the two kinds cameras send."""

from __future__ import annotations

import binascii
import re
from dataclasses import dataclass

from xueliang.media.audio.aac import parse_asc
from xueliang.media.audio.frames import AudioCodec, AudioConfig
from xueliang.media.errors import MediaProtocolError
from xueliang.media.rtsp.sdp import MediaDescription, SessionDescription, resolve_control

_STATIC = {0: ("PCMU", 8000, 1), 8: ("PCMA", 8000, 1)}


@dataclass(frozen=True, slots=True)
class AudioTrack:
    config: AudioConfig
    payload_type: int
    control_url: str
    size_length: int = 13  # AAC-hbr AU-header field widths (RFC 3640 §3.3.6)
    index_length: int = 3
    index_delta_length: int = 3


def _rtpmap(media: MediaDescription, payload_type: int) -> tuple[str, int, int] | None:
    for key, value in media.attributes:
        if key == "rtpmap":
            pt, _, rest = value.partition(" ")
            if pt.strip() == str(payload_type):
                parts = rest.strip().split("/")
                if len(parts) < 2 or not parts[1].isdigit():
                    return None
                channels = parts[2] if len(parts) > 2 and parts[2].isdigit() else "1"
                return parts[0].upper(), int(parts[1]), int(channels)
    return _STATIC.get(payload_type)


def _int(value: str | None, default: int) -> int:
    return int(value) if value is not None and value.isdigit() and len(value) < 3 else default


def audio_track(session: SessionDescription, base_url: str) -> AudioTrack | None:
    """The first audio track the node can carry, None if there is none (or only other codecs)."""
    session_control = session.attribute("control")
    if session_control and "://" in session_control:
        base_url = session_control
    for media in session.media:
        if media.kind != "audio":
            continue
        for fmt in media.formats:
            if not re.fullmatch(r"[0-9]{1,3}", fmt) or int(fmt) > 127:
                continue
            payload_type = int(fmt)
            mapping = _rtpmap(media, payload_type)
            if mapping is None:
                continue
            name, rate, channels = mapping
            control = resolve_control(base_url, media.attribute("control"))
            if name in ("PCMA", "PCMU") and rate > 0 and 0 < channels <= 2:
                codec = AudioCodec.pcma if name == "PCMA" else AudioCodec.pcmu
                return AudioTrack(AudioConfig(codec, rate, channels), payload_type, control)
            if name == "MPEG4-GENERIC":
                fmtp = media.fmtp(payload_type)
                if fmtp.get("mode", "").lower() != "aac-hbr":
                    continue
                try:
                    asc = binascii.unhexlify(fmtp.get("config", ""))
                    _, asc_rate, asc_channels = parse_asc(asc)
                except (binascii.Error, MediaProtocolError):
                    continue
                return AudioTrack(
                    AudioConfig(AudioCodec.aac, asc_rate, asc_channels, asc),
                    payload_type,
                    control,
                    _int(fmtp.get("sizelength"), 13),
                    _int(fmtp.get("indexlength"), 3),
                    _int(fmtp.get("indexdeltalength"), 3),
                )
    return None
