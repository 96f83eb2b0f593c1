"""SDP (RFC 8866) as RTSP cameras send it: the video track, its payload format parameters and
control URL; and the SDP our own servers announce."""

from __future__ import annotations

import base64
import binascii
import logging
import re
from dataclasses import dataclass, field

from xueliang.media.codecs import h264
from xueliang.media.codecs.params import make_params
from xueliang.media.errors import MediaProtocolError
from xueliang.media.frames import Codec, CodecParams

log = logging.getLogger(__name__)

MAX_SDP_BYTES = 64 * 1024
_ENCODINGS = {"H264": Codec.h264, "H265": Codec.h265, "HEVC": Codec.h265}


@dataclass(slots=True)
class MediaDescription:
    kind: str
    port: int
    proto: str
    formats: list[str]
    attributes: list[tuple[str, str]] = field(default_factory=list)

    def attribute(self, name: str) -> str | None:
        return next((v for k, v in self.attributes if k == name), None)

    def rtpmap(self, payload_type: int) -> tuple[str, int] | None:
        """(encoding name, clock rate) of a payload type, from `a=rtpmap`."""
        for k, v in self.attributes:
            if k == "rtpmap":
                pt, _, rest = v.partition(" ")
                if pt.strip() == str(payload_type):
                    encoding, _, clock = rest.strip().partition("/")
                    rate = clock.partition("/")[0]
                    if not re.fullmatch(r"[0-9]{1,9}", rate):
                        raise MediaProtocolError(f"SDP: bad rtpmap clock rate in {v[:80]!r}")
                    return encoding.upper(), int(rate)
        return None

    def fmtp(self, payload_type: int) -> dict[str, str]:
        """Format parameters of a payload type (keys lower-cased)."""
        for k, v in self.attributes:
            if k == "fmtp":
                pt, _, rest = v.partition(" ")
                if pt.strip() == str(payload_type):
                    params: dict[str, str] = {}
                    for item in rest.split(";"):
                        key, _, value = item.strip().partition("=")
                        if key:
                            params[key.lower()] = value.strip()
                    return params
        return {}


@dataclass(slots=True)
class SessionDescription:
    attributes: list[tuple[str, str]] = field(default_factory=list)
    media: list[MediaDescription] = field(default_factory=list)

    def attribute(self, name: str) -> str | None:
        return next((v for k, v in self.attributes if k == name), None)


@dataclass(frozen=True, slots=True)
class VideoTrack:
    """What the client needs to SETUP and depacketize the video of a session."""

    codec: Codec
    payload_type: int
    control_url: str
    params: CodecParams | None  # from sprop-* when present and valid
    donl: bool = False  # H.265 with sprop-max-don-diff > 0


def parse_sdp(data: bytes | str) -> SessionDescription:
    """Parse the session and media sections; a line that is not `x=value` raises MediaProtocolError."""
    if isinstance(data, bytes):
        if len(data) > MAX_SDP_BYTES:
            raise MediaProtocolError("SDP too large")
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MediaProtocolError("SDP is not UTF-8") from exc
    session = SessionDescription()
    current: MediaDescription | None = None
    for raw in data.splitlines():
        line = raw.strip()
        if not line:
            continue
        if len(line) < 2 or line[1] != "=" or not ("a" <= line[0] <= "z"):
            raise MediaProtocolError(f"SDP: bad line {line[:80]!r}")
        key, value = line[0], line[2:]
        if key == "m":
            current = _media_line(value)
            session.media.append(current)
        elif key == "a":
            name, _, attr_value = value.partition(":")
            target = current.attributes if current is not None else session.attributes
            target.append((name.strip(), attr_value.strip()))
    return session


def _media_line(value: str) -> MediaDescription:
    parts = value.split()
    if len(parts) < 4:
        raise MediaProtocolError(f"SDP: bad media line {value[:80]!r}")
    port = parts[1].partition("/")[0]
    if not re.fullmatch(r"[0-9]{1,5}", port):
        raise MediaProtocolError(f"SDP: bad media port {parts[1][:20]!r}")
    return MediaDescription(kind=parts[0].lower(), port=int(port), proto=parts[2], formats=parts[3:])


def resolve_control(base: str, control: str | None) -> str:
    """A media control URL: absolute as is, `*` or none as the base, relative appended to the base
    with one slash (as FFmpeg and most cameras expect), `/path` against the base's host."""
    if not control or control == "*":
        return base
    if "://" in control:
        return control
    if control.startswith("/"):
        match = re.match(r"[A-Za-z][A-Za-z0-9+.-]*://[^/]*", base)
        return (match.group(0) if match else base.rstrip("/")) + control
    return base + control if base.endswith("/") else f"{base}/{control}"


def video_track(session: SessionDescription, base_url: str) -> VideoTrack:
    """The first H.264/H.265 video track; none raises MediaProtocolError."""
    session_control = session.attribute("control")
    if session_control and "://" in session_control:
        base_url = session_control
    for media in session.media:
        if media.kind != "video":
            continue
        for fmt in media.formats:
            if not re.fullmatch(r"[0-9]{1,3}", fmt) or int(fmt) > 127:
                continue
            payload_type = int(fmt)
            mapping = media.rtpmap(payload_type)
            if mapping is None or mapping[0] not in _ENCODINGS:
                continue
            if mapping[1] != 90000:
                raise MediaProtocolError(f"SDP: video clock rate {mapping[1]} is not 90000")
            codec = _ENCODINGS[mapping[0]]
            fmtp = media.fmtp(payload_type)
            if codec is Codec.h264 and fmtp.get("packetization-mode", "0") not in ("0", "1"):
                raise MediaProtocolError("SDP: H.264 interleaved packetization mode is not supported")
            don_diff = fmtp.get("sprop-max-don-diff", "0")
            return VideoTrack(
                codec=codec,
                payload_type=payload_type,
                control_url=resolve_control(base_url, media.attribute("control")),
                params=_sprop_params(codec, fmtp),
                donl=codec is Codec.h265 and don_diff.isascii() and don_diff.isdigit() and int(don_diff) > 0,
            )
    raise MediaProtocolError("SDP has no H.264 or H.265 video track")


def _b64_list(value: str) -> list[bytes]:
    out = []
    for item in value.split(","):
        item = item.strip()
        if item:
            out.append(base64.b64decode(item + "=" * (-len(item) % 4), validate=True))
    return [n for n in out if n]


def _sprop_params(codec: Codec, fmtp: dict[str, str]) -> CodecParams | None:
    """Parameter sets from sprop-*; broken ones are logged and ignored (in-band ones may follow)."""
    try:
        if codec is Codec.h264:
            nalus = _b64_list(fmtp.get("sprop-parameter-sets", ""))
            sps = next((n for n in nalus if h264.nal_type(n) == h264.NAL_SPS), b"")
            pps = next((n for n in nalus if h264.nal_type(n) == h264.NAL_PPS), b"")
            vps = b""
        else:
            vps = next(iter(_b64_list(fmtp.get("sprop-vps", ""))), b"")
            sps = next(iter(_b64_list(fmtp.get("sprop-sps", ""))), b"")
            pps = next(iter(_b64_list(fmtp.get("sprop-pps", ""))), b"")
        if not sps:
            return None
        return make_params(codec, sps, pps, vps)
    except (binascii.Error, ValueError, MediaProtocolError) as exc:
        log.warning("ignoring unusable parameter sets in SDP: %s", exc)
        return None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def video_sdp(
    params: CodecParams,
    *,
    payload_type: int = 96,
    control: str = "trackID=0",
    session_name: str = "Xueliang",
    origin_address: str = "127.0.0.1",
    session_id: int = 0,
) -> str:
    """An SDP for one video track with its parameter sets, as our RTSP servers answer DESCRIBE."""
    if params.codec is Codec.h264:
        fmtp = (
            f"packetization-mode=1;profile-level-id={params.sps[1:4].hex()};"
            f"sprop-parameter-sets={_b64(params.sps)},{_b64(params.pps)}"
        )
        encoding = "H264"
    else:
        fmtp = f"sprop-vps={_b64(params.vps)};sprop-sps={_b64(params.sps)};sprop-pps={_b64(params.pps)}"
        encoding = "H265"
    lines = [
        "v=0",
        f"o=- {session_id} 1 IN IP4 {origin_address}",
        f"s={session_name}",
        "c=IN IP4 0.0.0.0",
        "t=0 0",
        "a=control:*",
        "a=range:npt=now-",
        f"m=video 0 RTP/AVP {payload_type}",
        f"a=rtpmap:{payload_type} {encoding}/90000",
        f"a=fmtp:{payload_type} {fmtp}",
        f"a=control:{control}",
    ]
    return "\r\n".join(lines) + "\r\n"
