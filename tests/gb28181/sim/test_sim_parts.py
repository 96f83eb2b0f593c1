"""The simulator's parts without a platform: PTZCmd decoding, marker numbers, the SDP roles, the media
over TCP in both roles (we connect; the platform connects to us) read back by our PS receiver, and the
command line's refusals."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.gb28181.sim.support import make_sim
from xueliang.gb28181.ptz import ptz_cmd
from xueliang.gb28181.sim.loops import marker_number, marker_parts
from xueliang.gb28181.sim.simulator import ptz_decode
from xueliang.gb28181.sim.stream import Stream, answer_sdp, parse_offer
from xueliang.media.frames import AccessUnit
from xueliang.media.ps import PsRtpReceiver

PLATFORM = "sip:51322300002000000001@127.0.0.1:5999"


def offer(transport: str, setup: str = "") -> str:
    lines = ["v=0", "o=x 0 0 IN IP4 127.0.0.1", "s=Play", "c=IN IP4 127.0.0.1", "t=0 0",
             f"m=video 30000 {transport} 96", "a=recvonly", "a=rtpmap:96 PS/90000"]  # fmt: skip
    if setup:
        lines.append(f"a=setup:{setup}")
    return "\r\n".join([*lines, "y=0132230001", ""])


def test_ptz_commands_decode_as_the_platform_encodes_them() -> None:
    assert ptz_decode(ptz_cmd("preset_call", preset=7)) == (0x82, 7)
    assert ptz_decode(ptz_cmd("left", 60)) == (0x02, 60)
    bad_sum = ptz_cmd("up")[:-2] + "00"
    assert ptz_decode(bad_sum) is None and ptz_decode("A50F") is None and ptz_decode("zz" * 8) is None
    assert marker_parts(marker_number(3, 5)) == (3, 5) == divmod(20305 - 20000, 100)
    assert marker_number(1, 107) == marker_number(1, 7)  # presets from 100 show their last two digits
    assert marker_parts(42) is None


def test_the_offer_decides_transport_and_role() -> None:
    udp = parse_offer(offer("RTP/AVP"))
    assert (udp.tcp, udp.we_connect, udp.ssrc_text, udp.port) == (False, False, "0132230001", 30000)
    passive = parse_offer(offer("TCP/RTP/AVP", "passive"))  # the platform listens: we connect
    active = parse_offer(offer("TCP/RTP/AVP", "active"))  # the platform connects: we listen
    assert passive.we_connect and not active.we_connect
    assert b"a=setup:active" in answer_sdp("c", "127.0.0.1", 9, passive)
    assert b"a=setup:passive" in answer_sdp("c", "127.0.0.1", 41000, active)
    assert b"y=0132230001" in answer_sdp("c", "127.0.0.1", 9, passive)
    with pytest.raises(ValueError):
        parse_offer("v=0\r\ns=Play\r\n")


@pytest.mark.parametrize("setup", ["passive", "active"])
async def test_media_over_tcp_in_either_role_is_ps_our_receiver_reads(setup: str) -> None:
    sim = make_sim(1, PLATFORM, "unused-password")
    units: list[AccessUnit] = []
    receiver = PsRtpReceiver(units.append)
    got_data = asyncio.Event()

    async def read(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while data := await reader.read(65536):
            receiver.push_tcp(data)
            if any(u.keyframe for u in units):
                got_data.set()
        writer.close()

    server = await asyncio.start_server(read, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    text = offer("TCP/RTP/AVP", setup).replace("m=video 30000", f"m=video {port}")
    stream = Stream(sim, sim.cameras[0], parse_offer(text))
    ours = await stream.prepare()
    stream.start()
    client = None
    try:
        if setup == "active":  # the platform dials the port our answer names
            reader, writer = await asyncio.open_connection("127.0.0.1", ours)
            client = asyncio.create_task(read(reader, writer))
        await asyncio.wait_for(got_data.wait(), 10)
    finally:
        await stream.stop()
        server.close()
        if client is not None:
            client.cancel()
    assert units[0].keyframe and units[0].params.sps
    assert receiver.stats.lost_packets == 0 and receiver.stats.malformed_packets == 0
    assert stream.shown == marker_number(1, 0)


def test_the_command_line_refuses_bad_arguments_in_one_line(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from xueliang.cli import app

    def run(*args: str) -> tuple[int, str]:
        done = CliRunner().invoke(app, ["sim", "--gb28181", "2", "--data-dir", str(tmp_path), *args])
        return done.exit_code, done.output

    for args, words in (
        (("--platform", PLATFORM), "--password is required"),
        (("--platform", "sip:12@nowhere", "--password", "abcdefgh"), "--platform must look like"),
        (("--platform", PLATFORM, "--password", "abcdefgh", "--civil-code", "12"), "--civil-code"),
    ):
        code, output = run(*args)
        assert code != 0 and words in output and "Traceback" not in output, output
