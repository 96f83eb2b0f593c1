"""RTSP messages, the interleaved byte stream, header fields, SDP and authentication."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.support.bitstreams import encode_clip
from xueliang.media.codecs.params import make_params
from xueliang.media.errors import MediaProtocolError
from xueliang.media.frames import Codec
from xueliang.media.rtsp.auth import ClientAuth, ServerAuth, digest_response, parse_auth_header
from xueliang.media.rtsp.fields import parse_pair, parse_session, parse_transport
from xueliang.media.rtsp.message import (
    Headers,
    InterleavedFrame,
    RtspParser,
    RtspRequest,
    RtspResponse,
)
from xueliang.media.rtsp.sdp import parse_sdp, resolve_control, video_sdp, video_track

DESCRIBE_REPLY = (
    b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Base: rtsp://cam/stream/\r\n"
    b"Content-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n"
)


def _stream() -> tuple[bytes, list[object]]:
    rtp = InterleavedFrame(0, bytes(range(200)))
    rtcp = InterleavedFrame(1, b"\x80\xc8\x00\x06")
    data = DESCRIBE_REPLY + b"$\x00\x00\xc8" + rtp.data + b"$\x01\x00\x04" + rtcp.data
    data += b"RTSP/1.0 200 OK\r\nCSeq: 3\r\nSession: abc;timeout=60\r\n\r\n"
    return data, [rtp, rtcp]


_PIECE = st.one_of(
    st.tuples(st.sampled_from([0, 0, 0, 1, 2]), st.binary(max_size=300)).map(lambda t: InterleavedFrame(*t)),
    st.integers(0, 99).map(lambda n: RtspResponse(200, "OK", Headers([("CSeq", str(n))]))),
    st.binary(min_size=1, max_size=40).map(
        lambda body: RtspResponse(
            200, "OK", Headers([("CSeq", "9"), ("Content-Length", str(len(body)))]), body
        )
    ),
    st.sampled_from([b"\r\n", b"\n"]),  # stray line breaks between messages: skipped
)


@given(st.lists(_PIECE, max_size=30), st.lists(st.integers(1, 400), max_size=30))
def test_scan_takes_any_mix_of_frame_runs_and_messages_however_it_is_cut(
    pieces: list[object], cuts: list[int]
) -> None:
    """Runs of frames on one channel (of any length, empty ones too), frames switching channels,
    messages with and without bodies and stray line breaks, cut anywhere: `scan` gives back exactly
    what was sent, in order."""
    data = b""
    sent: list[object] = []
    for piece in pieces:
        if isinstance(piece, InterleavedFrame):
            data += bytes((0x24, piece.channel)) + len(piece.data).to_bytes(2, "big") + piece.data
            sent.append(piece)
        elif isinstance(piece, RtspResponse):
            data += piece.to_bytes()
            sent.append(piece)
        else:
            assert isinstance(piece, bytes)
            data += piece
    parser = RtspParser()
    got: list[object] = []
    runs: list[list[int]] = []

    def frames(channel: int, buf: bytes, spans: list[int]) -> None:
        runs.append(spans)
        for start, end in zip(spans[::2], spans[1::2], strict=True):
            got.append(InterleavedFrame(channel, buf[start:end]))

    pos = 0
    for size in [*cuts, len(data)]:
        parser.scan(data[pos : pos + size], frames, got.append)
        pos += size
    assert got == sent
    assert all(runs)  # never an empty run


def test_parser_returns_messages_and_interleaved_frames_in_order() -> None:
    data, frames = _stream()
    items = RtspParser().feed(data)
    assert isinstance(items[0], RtspResponse) and items[0].status == 200 and items[0].body == b"v=0\r\n"
    assert items[0].headers.get("content-base") == "rtsp://cam/stream/"
    assert items[1:3] == frames
    assert isinstance(items[3], RtspResponse) and items[3].headers.get("Session") == "abc;timeout=60"


@given(st.lists(st.integers(1, 50), max_size=40))
def test_parser_gives_the_same_result_however_the_stream_is_cut(cuts: list[int]) -> None:
    data, _ = _stream()
    parser = RtspParser()
    items: list[object] = []
    pos = 0
    for size in cuts:
        items += parser.feed(data[pos : pos + size])
        pos += size
    items += parser.feed(data[pos:])
    assert items == RtspParser().feed(data)


@given(st.lists(st.integers(1, 50), max_size=40))
def test_scan_hands_frames_over_in_place_and_in_order_however_the_stream_is_cut(cuts: list[int]) -> None:
    """`scan` (the client's path) gives the same stream as `feed`: each frame as a range of a buffer,
    messages in between, whatever the read boundaries."""
    data, _ = _stream()
    parser = RtspParser()
    items: list[object] = []

    def frame(channel: int, buf: bytes, spans: list[int]) -> None:
        for start, end in zip(spans[::2], spans[1::2], strict=True):
            assert 0 <= start <= end <= len(buf)
            items.append(InterleavedFrame(channel, buf[start:end]))

    pos = 0
    for size in cuts:
        parser.scan(data[pos : pos + size], frame, items.append)
        pos += size
    parser.scan(data[pos:], frame, items.append)
    assert items == RtspParser().feed(data)


def test_request_round_trip_with_continuation_lines_and_bare_newlines() -> None:
    request = RtspRequest(
        "SETUP", "rtsp://h/cam/1/trackID=0", Headers([("CSeq", "3"), ("Transport", "RTP/AVP")])
    )
    [parsed] = RtspParser().feed(request.to_bytes())
    assert parsed == request
    [folded] = RtspParser().feed(b"OPTIONS * RTSP/1.0\nCSeq: 1\nX-Long: a\n  b\n\n")
    assert isinstance(folded, RtspRequest) and folded.headers.get("x-long") == "a b"


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 200 OK\r\n\r\n",
        b"RTSP/1.0 20x OK\r\n\r\n",
        b"RTSP/1.0 200 OK\r\nno colon here\r\n\r\n",
        b"RTSP/1.0 200 OK\r\nContent-Length: -5\r\n\r\n",
        b"RTSP/1.0 200 OK\r\nContent-Length: 99999999\r\n\r\n",
        b"RTSP/1.0 200 OK\r\nX: \xff\xfe\r\n\r\n",
        b"PLAY rtsp://x\r\n\r\n",
        b"\x01\x02garbage",
        b"RTSP/1.0 200 OK\r\nX: " + b"a" * 20000,
    ],
)
def test_malformed_rtsp_is_a_protocol_error(data: bytes) -> None:
    with pytest.raises(MediaProtocolError):
        RtspParser().feed(data)


def test_transport_session_and_pair_fields() -> None:
    proto, params = parse_transport("RTP/AVP/TCP;unicast;interleaved=2-3;ssrc=1A2B")
    assert proto == "RTP/AVP/TCP" and params["interleaved"] == "2-3" and "unicast" in params
    assert parse_pair("5000-5001", "ports") == (5000, 5001)
    assert parse_pair("6000", "ports") == (6000, 6001)
    assert parse_session("47112344;timeout=30") == ("47112344", 30.0)
    assert parse_session("abc") == ("abc", None)
    for bad in ("x-y", "70000-70001", ""):
        with pytest.raises(MediaProtocolError):
            parse_pair(bad, "ports")
    with pytest.raises(MediaProtocolError):
        parse_session("abc;timeout=soon")


# -- SDP --------------------------------------------------------------------------------------------

HIKVISION_LIKE = """v=0
o=- 1109162014219182 1109162014219192 IN IP4 x.y.z.w
s=Media Presentation
e=NONE
b=AS:5050
t=0 0
a=control:rtsp://192.168.1.64:554/Streaming/Channels/101/?transportmode=unicast
m=video 0 RTP/AVP 96
b=AS:5000
a=control:rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=1?transportmode=unicast
a=rtpmap:96 H264/90000
a=fmtp:96 profile-level-id=420029; packetization-mode=1; sprop-parameter-sets={sprop}
m=audio 0 RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=control:rtsp://192.168.1.64:554/Streaming/Channels/101/trackID=2?transportmode=unicast
"""

H265_RELATIVE = """v=0\r
o=- 0 0 IN IP4 127.0.0.1\r
s=cam\r
t=0 0\r
a=control:*\r
m=audio 0 RTP/AVP 8\r
a=control:trackID=1\r
m=video 0 RTP/AVP 98\r
a=rtpmap:98 H265/90000\r
a=fmtp:98 sprop-vps={vps}; sprop-sps={sps}; sprop-pps={pps}\r
a=control:trackID=0\r
"""


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def test_sdp_h264_track_with_absolute_control_and_sprop_parameter_sets() -> None:
    au = encode_clip(Codec.h264, 160, 96, 1, 1)[0]
    sps, pps = au[0], au[1]
    text = HIKVISION_LIKE.replace("{sprop}", f"{_b64(sps)},{_b64(pps)}")
    track = video_track(parse_sdp(text.encode()), "rtsp://192.168.1.64:554/Streaming/Channels/101")
    assert track.codec is Codec.h264 and track.payload_type == 96
    assert track.control_url.endswith("/101/trackID=1?transportmode=unicast")
    assert track.params is not None and (track.params.width, track.params.height) == (160, 96)


def test_sdp_h265_track_with_relative_control() -> None:
    au = encode_clip(Codec.h265, 160, 96, 1, 1)[0]
    vps, sps, pps = au[0], au[1], au[2]
    text = H265_RELATIVE.format(vps=_b64(vps), sps=_b64(sps), pps=_b64(pps))
    track = video_track(parse_sdp(text), "rtsp://10.0.0.2/live/")
    assert track.codec is Codec.h265 and track.payload_type == 98
    assert track.control_url == "rtsp://10.0.0.2/live/trackID=0"
    assert track.params is not None and track.params.vps == vps and track.params.width == 160


def test_control_url_resolution() -> None:
    assert resolve_control("rtsp://h/a", "trackID=0") == "rtsp://h/a/trackID=0"
    assert resolve_control("rtsp://h/a/", "trackID=0") == "rtsp://h/a/trackID=0"
    assert resolve_control("rtsp://h:8554/a/", "/b/track1") == "rtsp://h:8554/b/track1"
    assert resolve_control("rtsp://h/a", "rtsp://other/x") == "rtsp://other/x"
    assert resolve_control("rtsp://h/a", "*") == "rtsp://h/a"
    assert resolve_control("rtsp://h/a", None) == "rtsp://h/a"


def test_our_sdp_round_trips_through_the_parser() -> None:
    for codec in (Codec.h264, Codec.h265):
        au = encode_clip(codec, 160, 96, 1, 1)[0]
        if codec is Codec.h264:
            params = make_params(codec, au[0], au[1])
        else:
            params = make_params(codec, au[1], au[2], au[0])
        track = video_track(parse_sdp(video_sdp(params)), "rtsp://h/cam/1/")
        assert track.params == params and track.control_url == "rtsp://h/cam/1/trackID=0"


def test_sdp_unusable_sprop_is_ignored_but_broken_structure_is_an_error() -> None:
    text = HIKVISION_LIKE.replace("{sprop}", "!!notbase64,@@")
    track = video_track(parse_sdp(text), "rtsp://h/")
    assert track.params is None  # parameter sets will come in-band
    with pytest.raises(MediaProtocolError, match=r"no H\.264 or H\.265"):
        video_track(parse_sdp("v=0\r\nm=audio 0 RTP/AVP 0\r\n"), "rtsp://h/")
    with pytest.raises(MediaProtocolError, match="bad line"):
        parse_sdp("v=0\r\nthis is not sdp\r\n")
    with pytest.raises(MediaProtocolError, match="clock rate"):
        video_track(parse_sdp("m=video 0 RTP/AVP 96\na=rtpmap:96 H264/8000\n"), "rtsp://h/")
    with pytest.raises(MediaProtocolError, match="interleaved"):
        sdp = "m=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000\na=fmtp:96 packetization-mode=2\n"
        video_track(parse_sdp(sdp), "rtsp://h/")
    with pytest.raises(MediaProtocolError, match="media port"):
        parse_sdp("m=video x RTP/AVP 96\n")


# -- authentication -----------------------------------------------------------------------------------


def test_digest_md5_matches_rfc_2617_example() -> None:
    response = digest_response(
        algorithm="MD5",
        username="Mufasa",
        realm="testrealm@host.com",
        password="Circle Of Life",
        method="GET",
        uri="/dir/index.html",
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        qop="auth",
        nc="00000001",
        cnonce="0a4f113b",
    )
    assert response == "6629fae49393a05397450978507c4ef1"


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_digest_matches_rfc_7616_examples(algorithm: str, expected: str) -> None:
    response = digest_response(
        algorithm=algorithm,
        username="Mufasa",
        realm="http-auth@example.org",
        password="Circle of Life",
        method="GET",
        uri="/dir/index.html",
        nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
        qop="auth",
        nc="00000001",
        cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
    )
    assert response == expected


def test_challenge_parsing_handles_quotes_escapes_and_several_challenges() -> None:
    challenges = parse_auth_header(
        'Digest realm="a, \\"b\\"", nonce="n1", qop="auth,auth-int", algorithm=MD5, Basic realm="x"'
    )
    assert [c.scheme for c in challenges] == ["digest", "basic"]
    assert challenges[0].params == {
        "realm": 'a, "b"',
        "nonce": "n1",
        "qop": "auth,auth-int",
        "algorithm": "MD5",
    }
    assert parse_auth_header("Basic dXNlcjpwYXNz")[0].params == {"token68": "dXNlcjpwYXNz"}
    with pytest.raises(MediaProtocolError):
        parse_auth_header('Digest realm="unterminated')


def test_client_prefers_digest_sha256_then_md5_then_basic() -> None:
    auth = ClientAuth("admin", "secret")
    assert auth.header("DESCRIBE", "rtsp://h/") is None
    assert auth.accept(['Basic realm="x"', 'Digest realm="x", nonce="n", algorithm=MD5'])
    assert (auth.header("DESCRIBE", "rtsp://h/") or "").startswith("Digest ")
    assert auth.accept(
        ['Digest realm="x", nonce="n", algorithm=MD5', 'Digest realm="x", nonce="m", algorithm=SHA-256']
    )
    assert "algorithm=SHA-256" in (auth.header("DESCRIBE", "rtsp://h/") or "")
    assert auth.accept(['Basic realm="x"'])
    assert auth.header("DESCRIBE", "rtsp://h/") == "Basic YWRtaW46c2VjcmV0"
    assert not auth.accept(["Negotiate abc"])


def test_server_digest_accepts_the_right_password_only() -> None:
    server = ServerAuth("admin", "secret", realm="sim")
    for password, verdict in (("secret", "ok"), ("wrong", "denied")):
        client = ClientAuth("admin", password)
        assert client.accept([server.challenge()])
        assert server.check("DESCRIBE", client.header("DESCRIBE", "rtsp://h/cam/1")) == verdict
    assert server.check("DESCRIBE", None) == "denied"
    assert server.check("DESCRIBE", "Basic YWRtaW46c2VjcmV0") == "denied"
    client = ClientAuth("admin", "secret")
    client.accept([server.challenge().replace('nonce="', 'nonce="0')])  # tampered nonce
    assert server.check("DESCRIBE", client.header("DESCRIBE", "rtsp://h/cam/1")) == "denied"


def test_server_digest_reports_expired_nonces_as_stale() -> None:
    server = ServerAuth("admin", "secret", nonce_ttl=-1)
    client = ClientAuth("admin", "secret")
    client.accept([server.challenge()])
    assert server.check("PLAY", client.header("PLAY", "rtsp://h/cam/1")) == "stale"
    assert "stale=TRUE" in server.challenge(stale=True)


def test_server_basic_auth_only_when_allowed() -> None:
    strict = ServerAuth("admin", "secret")
    lenient = ServerAuth("admin", "secret", allow_basic=True)
    assert len(strict.challenges()) == 1 and lenient.challenges()[1] == 'Basic realm="Xueliang"'
    for password, verdict in (("secret", "ok"), ("wrong", "denied")):
        client = ClientAuth("admin", password)
        assert client.accept(['Basic realm="Xueliang"'])
        header = client.header("DESCRIBE", "rtsp://h/cam/1")
        assert lenient.check("DESCRIBE", header) == verdict
        assert strict.check("DESCRIBE", header) == "denied"
    assert lenient.check("DESCRIBE", "Basic !!!") == "denied"
