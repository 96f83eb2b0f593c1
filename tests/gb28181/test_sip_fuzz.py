"""Hypothesis fuzzing of the SIP parser, the TCP framer and the MANSCDP parser: whatever the bytes,
they parse, or fail with our own error (a 400 or a dropped datagram), never another exception."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from xueliang.gb28181 import manscdp
from xueliang.gb28181.sip.message import SipParseError, StreamFramer, bad_request, parse

VALID = (
    b"MESSAGE sip:51322300002000000001@5132230000 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 10.0.0.2:5060;rport;branch=z9hG4bK1\r\n"
    b"From: <sip:51322310001180000001@5132230000>;tag=1\r\nTo: <sip:51322300002000000001@5132230000>\r\n"
    b"Call-ID: 1@x\r\nCSeq: 2 MESSAGE\r\nContent-Type: Application/MANSCDP+xml\r\nContent-Length: 9\r\n\r\n"
    b"<Notify/>"
)
FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _mutations() -> st.SearchStrategy[bytes]:
    def mutate(data: bytes, at: int, chunk: bytes, cut: int) -> bytes:
        at %= len(data) + 1
        return data[:at] + chunk + data[at + cut :]

    return st.builds(mutate, st.just(VALID), st.integers(0, 400), st.binary(max_size=40), st.integers(0, 40))


@FUZZ
@given(st.one_of(st.binary(max_size=2000), _mutations()))
def test_parse_never_raises_anything_but_its_own_error(data: bytes) -> None:
    try:
        msg = parse(data)
    except SipParseError as exc:
        answer = bad_request(data, str(exc))
        if answer is not None:
            assert parse(answer).status == 400
        return
    assert parse(msg.encode()).cseq == msg.cseq  # what we accept we can re-serialize and read back


@FUZZ
@given(st.lists(st.one_of(st.binary(max_size=300), _mutations()), max_size=6))
def test_framer_never_raises_anything_but_its_own_error(chunks: list[bytes]) -> None:
    framer = StreamFramer()
    try:
        for chunk in chunks:
            for frame in framer.feed(chunk):
                with contextlib.suppress(SipParseError):
                    parse(frame)
    except SipParseError:
        pass


@FUZZ
@given(
    st.one_of(
        st.binary(max_size=500),
        st.text(max_size=300).map(lambda t: f"<Q><CmdType>{t}</CmdType></Q>".encode()),
    )
)
def test_manscdp_never_raises_anything_but_its_own_error(body: bytes) -> None:
    try:
        doc = manscdp.parse(body)
    except manscdp.ManscdpError:
        return
    manscdp.catalog_items(doc)
