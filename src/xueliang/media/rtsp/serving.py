"""The server side of RTSP that our two servers share (the camera simulator and the platform's
re-serve): the methods we answer, Transport negotiation for SETUP, and the shape of the replies.
Each server keeps its own connection model and decides what a URL names and who may pull it."""

from __future__ import annotations

from dataclasses import dataclass

from xueliang.media.errors import MediaProtocolError
from xueliang.media.rtsp.fields import parse_pair, parse_session, parse_transport
from xueliang.media.rtsp.message import Headers, RtspRequest, RtspResponse

PUBLIC = "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER"


@dataclass(frozen=True, slots=True)
class TcpTransport:
    """RTP and RTCP interleaved on the RTSP connection, on channels `rtp` and `rtcp`."""

    rtp: int
    rtcp: int

    def reply(self) -> str:
        return f"RTP/AVP/TCP;unicast;interleaved={self.rtp}-{self.rtcp}"


@dataclass(frozen=True, slots=True)
class UdpTransport:
    """RTP to the client's `rtp` port (only ever the peer's own address: no reflection)."""

    rtp: int
    rtcp: int

    def reply(self, server_ports: tuple[int, int]) -> str:
        return (
            f"RTP/AVP;unicast;client_port={self.rtp}-{self.rtcp};"
            f"server_port={server_ports[0]}-{server_ports[1]}"
        )


def negotiate(request: RtspRequest, *, tcp: bool = True, udp: bool = True) -> TcpTransport | UdpTransport:
    """The transport a SETUP asks for, if this server offers it.

    Raises MediaProtocolError for a malformed Transport header (answer 400) and LookupError for a
    transport the server does not offer (answer 461)."""
    proto, params = parse_transport(request.headers.get("Transport") or "")
    if proto.endswith("/TCP"):
        if not tcp:
            raise LookupError("TCP interleaving is not offered")
        first, second = parse_pair(params.get("interleaved", "0-1"), "interleaved channels")
        if first > 255 or second > 255:
            raise MediaProtocolError("interleaved channel out of range")
        return TcpTransport(first, second)
    if not udp or "multicast" in params or "client_port" not in params:
        raise LookupError("only unicast transports with client ports are offered")
    rtp, rtcp = parse_pair(params["client_port"], "client ports")
    return UdpTransport(rtp, rtcp)


def session_id(request: RtspRequest) -> str | None:
    """The session a request names, if any (a malformed Session header names none)."""
    value = request.headers.get("Session")
    if value is None:
        return None
    try:
        return parse_session(value)[0]
    except MediaProtocolError:
        return None


def finish(response: RtspResponse, request: RtspRequest, server: str) -> RtspResponse:
    """Echo the request's CSeq and name the server, as every reply must."""
    if request.cseq is not None:
        response.headers.set("CSeq", request.cseq)
    response.headers.add("Server", server)
    return response


def options() -> RtspResponse:
    return RtspResponse(200, "OK", Headers([("Public", PUBLIC)]))


def ok(ident: str | None = None) -> RtspResponse:
    return RtspResponse(200, "OK", Headers([("Session", ident)] if ident else []))


def unauthorized(challenges: list[str]) -> RtspResponse:
    return RtspResponse(401, "Unauthorized", Headers([("WWW-Authenticate", c) for c in challenges]))


def described(content_base: str, sdp: bytes) -> RtspResponse:
    headers = Headers([("Content-Base", content_base), ("Content-Type", "application/sdp")])
    return RtspResponse(200, "OK", headers, sdp)


def set_up(transport: str, ident: str, timeout: int) -> RtspResponse:
    return RtspResponse(
        200, "OK", Headers([("Transport", transport), ("Session", f"{ident};timeout={timeout}")])
    )


def playing(ident: str, track_url: str, seq: int, rtptime: int | None) -> RtspResponse:
    info = f"url={track_url};seq={seq}" + (f";rtptime={rtptime}" if rtptime is not None else "")
    headers = Headers([("Session", ident), ("Range", "npt=0.000-"), ("RTP-Info", info)])
    return RtspResponse(200, "OK", headers)


ERRORS = {
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    454: "Session Not Found",
    455: "Method Not Valid in This State",
    461: "Unsupported Transport",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
}


def error(status: int) -> RtspResponse:
    return RtspResponse(status, ERRORS.get(status, "Error"))
