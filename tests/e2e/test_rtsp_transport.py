"""Our RTSP client against peers it was not written with: Debian's GStreamer RTSP server pulled over UDP
through a relay that reorders and drops packets (the reorder buffer puts them back, real loss still
shows); a server that answers 302 (redirects followed, credentials kept only for the same host); and
rtsps:// through a TLS-terminating proxy with a certificate made here (verified against its CA, or
pinned, and refused otherwise)."""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import ipaddress
import re
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import cast

import av
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.support.gst_camera import H264_PLAIN, gst_cameras
from tests.support.sim import SIM_CACHE
from xueliang.media.codecs.annexb import join_annexb
from xueliang.media.errors import MediaConnectionError, MediaProtocolError
from xueliang.media.frames import AccessUnit
from xueliang.media.rtsp.client import RtspSession, RtspSource, _redirected, _Target
from xueliang.media.sim.encode import LoopSpec, ensure_loop
from xueliang.media.sim.server import RtspSimulator


@asynccontextmanager
async def simulator() -> AsyncIterator[RtspSimulator]:
    ensure_loop(SIM_CACHE, 1, LoopSpec())
    sim = RtspSimulator(1, data_dir=SIM_CACHE, port=0)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


@asynccontextmanager
async def tcp_server(
    handle: Callable[[asyncio.StreamReader, asyncio.StreamWriter], object],
) -> AsyncIterator[int]:
    server = await asyncio.start_server(handle, "127.0.0.1", 0)  # type: ignore[arg-type]
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()


async def pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, rewrite: Callable[[bytes], bytes]
) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(rewrite(data))
            await writer.drain()
    except (ConnectionError, ssl.SSLError):
        pass
    finally:
        writer.close()


async def proxy(
    client: tuple[asyncio.StreamReader, asyncio.StreamWriter], port: int, rewrite: Callable[[bytes], bytes]
) -> None:
    """Relay one connection to 127.0.0.1:`port`, requests passed through `rewrite`."""
    upstream = await asyncio.open_connection("127.0.0.1", port)
    await asyncio.gather(pipe(client[0], upstream[1], rewrite), pipe(upstream[0], client[1], lambda d: d))


async def take(session: RtspSession, count: int) -> list[AccessUnit]:
    units: list[AccessUnit] = []
    async with asyncio.timeout(15):
        async for au in session:
            units.append(au)
            if len(units) >= count:
                break
    return units


class LossyRelay(asyncio.DatagramProtocol):
    """RTP from the camera to the client's port: every 7th packet swapped with the next one, every 40th
    dropped."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.target: tuple[str, int] | None = None
        self.count = self.dropped = self.swapped = 0
        self.held: bytes | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        if self.target is None or self.transport is None:
            return
        self.count += 1
        if self.count % 40 == 0:
            self.dropped += 1
        elif self.count % 7 == 0:
            self.held = data
        else:
            self.transport.sendto(data, self.target)
            if self.held is not None:
                self.transport.sendto(self.held, self.target)
                self.held = None
                self.swapped += 1


async def test_udp_ingest_through_a_reordering_lossy_relay() -> None:
    loop = asyncio.get_running_loop()
    relay = LossyRelay()
    for _ in range(32):  # an even port for RTP and the odd one after it (RTCP, not relayed)
        transport, _ = await loop.create_datagram_endpoint(lambda: relay, local_addr=("127.0.0.1", 0))
        port = transport.get_extra_info("sockname")[1]
        if port % 2 == 0:
            try:
                rtcp, _ = await loop.create_datagram_endpoint(
                    asyncio.DatagramProtocol, local_addr=("127.0.0.1", port + 1)
                )
                break
            except OSError:
                pass
        transport.close()
    else:
        pytest.fail("no even/odd UDP port pair")

    def to_relay(data: bytes) -> bytes:
        """The client's ports in SETUP become the relay's; the relay sends on to the client's."""

        def swap(match: re.Match[bytes]) -> bytes:
            relay.target = ("127.0.0.1", int(match.group(1)))
            return b"client_port=%d-%d" % (port, port + 1)

        return re.sub(rb"client_port=(\d+)-(\d+)", swap, data)

    try:
        with gst_cameras({"plain": H264_PLAIN}) as urls:
            gst_port = int(urls["plain"].rsplit(":", 1)[1].split("/")[0])
            handler = lambda r, w: proxy((r, w), gst_port, to_relay)  # noqa: E731
            async with tcp_server(handler) as proxy_port:
                source = RtspSource(f"rtsp://127.0.0.1:{proxy_port}/plain", transport="udp")
                async with source.open() as session:
                    units = await take(session, 60)
                    stats, reorder = session.stats, session.reorder
                    assert reorder is not None
        assert relay.swapped >= 5 and relay.dropped >= 1
        # Every swap put back in order: nothing late, no loss counted beyond what the relay dropped.
        assert stats.late_packets == 0 and reorder.reordered >= relay.swapped - 1
        assert 1 <= stats.lost_packets <= relay.dropped
        assert stats.damaged_frames <= stats.lost_packets
        decoder = av.CodecContext.create("h264", "r")
        decoded = 0
        for au in units:
            nalus = [au.params.sps, au.params.pps, *au.nalus] if au.keyframe else au.nalus
            decoded += len(decoder.decode(av.Packet(join_annexb(nalus))))
        decoded += len(decoder.decode(None))
        assert decoded == len(units) == 60
    finally:
        transport.close()
        rtcp.close()


def test_redirect_target_keeps_credentials_only_for_the_same_host() -> None:
    here = _Target("rtsp://cam:554/a", "cam", 554, False, ("u", "p"))
    assert _redirected(here, "/b").credentials == ("u", "p")
    assert _redirected(here, "rtsp://cam/b").url == "rtsp://cam/b"
    assert _redirected(here, "rtsp://other:554/b").credentials is None
    assert _redirected(here, "rtsp://cam:8554/b").credentials is None
    assert _redirected(here, "rtsp://x:y@other/b").credentials == ("x", "y")
    with pytest.raises(MediaProtocolError):
        _redirected(here, "http://cam/b")
    with pytest.raises(MediaProtocolError):
        _redirected(_Target("rtsps://cam/a", "cam", 322, True, None), "rtsp://cam/b")


async def test_client_follows_redirects_a_bounded_number_of_times() -> None:
    async with simulator() as sim:
        target = sim.url(1).replace("127.0.0.1", "localhost")

        async def redirect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            request = await reader.readuntil(b"\r\n\r\n")
            cseq = re.search(rb"CSeq: *(\d+)", request)
            assert cseq is not None
            location = target if b"/cam/" in request.split(b" ")[1] else "/loop"
            writer.write(
                b"RTSP/1.0 302 Found\r\nCSeq: %s\r\nLocation: %s\r\n\r\n" % (cseq.group(1), location.encode())
            )
            await writer.drain()
            writer.close()

        async with tcp_server(redirect) as port:
            source = RtspSource(f"rtsp://user:pw@127.0.0.1:{port}/cam/1")
            async with source.open() as session:
                assert len(await take(session, 5)) == 5
                assert session.redirects == [target] and session.target.credentials is None
            with pytest.raises(MediaProtocolError, match="redirects"):
                async with RtspSource(f"rtsp://127.0.0.1:{port}/loop").open() as session:
                    pass


def self_signed(directory: Path) -> tuple[Path, Path, str]:
    """A certificate for 127.0.0.1 (its own CA), its key, and its SHA-256 pin."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "camera")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path, hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


async def test_rtsps_through_a_tls_proxy(tmp_path: Path) -> None:
    cert, key, pin = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    async with simulator() as sim:
        server = await asyncio.start_server(
            lambda r, w: proxy((r, w), sim.port, lambda d: d), "127.0.0.1", 0, ssl=context
        )
        try:
            url = f"rtsps://127.0.0.1:{server.sockets[0].getsockname()[1]}/cam/1"
            async with RtspSource(url, ca_file=str(cert)).open() as session:
                assert len(await take(session, 5)) == 5 and session.transport == "tcp"
            async with RtspSource(url, pin_sha256=pin).open() as session:
                assert session.track is not None  # DESCRIBE, SETUP and PLAY went through
            with pytest.raises(MediaConnectionError, match="TLS"):
                async with RtspSource(url).open():
                    pass  # the system's CAs do not know this certificate
            with pytest.raises(MediaConnectionError, match="pinned"):
                async with RtspSource(url, pin_sha256="00" * 32).open():
                    pass
        finally:
            server.close()
