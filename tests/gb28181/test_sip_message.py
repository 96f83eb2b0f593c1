"""SIP messages, TCP framing, Digest and MANSCDP: golden inputs of our own."""

from __future__ import annotations

import pytest

from xueliang.gb28181 import manscdp
from xueliang.gb28181.ptz import ptz_cmd
from xueliang.gb28181.sip import digest
from xueliang.gb28181.sip.message import (
    SipParseError,
    StreamFramer,
    bad_request,
    header_param,
    parse,
    response_to,
    uri_of,
    uri_user,
)

REGISTER = (
    b"REGISTER sip:51322300002000000001@5132230000 SIP/2.0\r\n"
    b"v: SIP/2.0/UDP 192.168.1.64:5060;rport;branch=z9hG4bK1234\r\n"
    b'f: "cam" <sip:51322310001180000001@5132230000>;tag=abc\r\n'
    b"t: <sip:51322310001180000001@5132230000>\r\n"
    b"i: 7788@192.168.1.64\r\n"
    b"CSeq: 1 REGISTER\r\n"
    b"m: <sip:51322310001180000001@192.168.1.64:5060>\r\n"
    b"User-Agent: IPC\r\n  folded part\r\n"
    b"Expires: 3600\r\n"
    b"l: 0\r\n\r\n"
)


def test_compact_forms_folding_and_accessors() -> None:
    msg = parse(REGISTER)
    assert (msg.method, msg.cseq, msg.call_id) == ("REGISTER", (1, "REGISTER"), "7788@192.168.1.64")
    assert msg.branch == "z9hG4bK1234"
    assert msg.get("user-agent") == "IPC folded part"
    assert uri_user(uri_of(msg.get("From"))) == "51322310001180000001"
    assert header_param(msg.get("From"), "tag") == "abc"
    resp = response_to(msg, 200, to_tag="xyz")
    again = parse(resp.encode())
    assert again.status == 200 and header_param(again.get("To"), "tag") == "xyz"
    assert again.get("Via") == msg.get("Via") and again.get("Content-Length") == "0"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\r\n\r\n",
        b"HELLO\r\n\r\n",
        b"SIP/2.0 99 Low\r\n\r\n",
        REGISTER.replace(b"CSeq: 1 REGISTER", b"CSeq: x REGISTER"),
        REGISTER.replace(b"CSeq: 1 REGISTER", b"CSeq: 1 INVITE"),
        REGISTER.replace(b"i: 7788@192.168.1.64\r\n", b""),
        REGISTER.replace(b"l: 0", b"l: 99"),
        REGISTER.replace(b"Expires: 3600", b"Bad Header Line"),
        b"REGISTER sip:x SIP/2.0\r\n" + b"X-A: 1\r\n" * 200 + b"\r\n",
        b"A" * 70_000,
    ],
)
def test_malformed_messages_are_parse_errors(data: bytes) -> None:
    with pytest.raises(SipParseError):
        parse(data)


def test_a_malformed_request_gets_400_when_it_can_be_answered() -> None:
    answer = bad_request(
        REGISTER.replace(b"CSeq: 1 REGISTER", b"CSeq: 1 INVITE"), "CSeq method does not match"
    )
    assert answer is not None and parse(answer).status == 400
    assert bad_request(b"garbage\r\n\r\n", "x") is None
    assert bad_request(b"SIP/2.0 200 OK\r\n\r\n", "x") is None


def test_stream_framer_cuts_by_content_length() -> None:
    body = b"<Notify/>"
    msg = REGISTER.replace(b"l: 0", b"l: %d" % len(body)) + body
    framer = StreamFramer()
    assert framer.feed(b"\r\n\r\n" + msg[:30]) == []
    frames = framer.feed(msg[30:] + msg + msg[:5])
    assert frames == [msg, msg] and parse(frames[0]).body == body
    with pytest.raises(SipParseError):
        StreamFramer().feed(b"REGISTER sip:x SIP/2.0\r\nVia: x\r\n\r\n")  # no Content-Length on TCP


def test_digest_with_and_without_qop() -> None:
    # RFC 2617 3.5's example, as a REGISTER would compute it
    key = digest.ha1("Mufasa", "testrealm@host.com", "Circle Of Life")
    params = {
        "username": "Mufasa",
        "realm": "testrealm@host.com",
        "nonce": "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        "uri": "/dir/index.html",
        "qop": "auth",
        "nc": "00000001",
        "cnonce": "0a4f113b",
    }
    assert digest.expected_response(params, "GET", key) == "6629fae49393a05397450978507c4ef1"
    header = digest.authorization("dev", "5132230000", "n1", "sip:x@y", "REGISTER", "pw")
    parsed = digest.parse_params(header)
    assert digest.verify(parsed, "REGISTER", digest.ha1("dev", "5132230000", "pw"))
    assert not digest.verify(parsed, "REGISTER", digest.ha1("dev", "5132230000", "other"))
    assert digest.parse_params("Basic abc") == {}


def test_manscdp_charsets_and_hardening() -> None:
    gb = (
        '<?xml version="1.0" encoding="GB2312"?>'
        "<Notify><CmdType>Keepalive</CmdType><SN>7</SN><DeviceID>1</DeviceID></Notify>"
    )
    doc = manscdp.parse(gb.encode("gb2312"))
    assert (doc.root, doc.cmd, doc.sn, doc.charset) == ("Notify", "Keepalive", 7, "GB2312")
    liar = (
        '<?xml version="1.0" encoding="GB2312"?>'
        "<Response><CmdType>DeviceInfo</CmdType><SN>1</SN><DeviceName>村口摄像机</DeviceName></Response>"
    )
    assert manscdp.parse(liar.encode("utf-8")).cmd == "DeviceInfo"  # declared GB2312, sent UTF-8
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;">]>'
        b"<Q><CmdType>&b;</CmdType></Q>"
    )
    for bad in (
        bomb,
        b"<Q><SN>1</SN></Q>",
        b"<Q><CmdType>x</CmdType><SN>-1</SN></Q>",
        b"<" * 70_000,
        b"\xff\xfe<",
    ):
        with pytest.raises(manscdp.ManscdpError):
            manscdp.parse(bad)


def test_ptz_commands_match_the_worked_examples() -> None:
    """GB/T 28181 A.3 as WVP computes it: A5 0F addr cmd data1 data2 data3<<4 sum."""
    assert ptz_cmd("stop") == "A50F0100000000B5"
    assert ptz_cmd("right", 0x80) == "A50F0101808000B6"
    assert ptz_cmd("preset_call", preset=1) == "A50F018200010038"
    assert ptz_cmd("zoom_in", 0xFF)[12:14] == "F0"  # zoom speed in the high nibble of byte 7
    with pytest.raises(ValueError):
        ptz_cmd("preset_set", preset=0)
