"""RTCP (RFC 3550 section 6), the part a sender needs: sender reports for every RTP session we send
(players such as FFmpeg map RTP time to wall-clock time with them, and they tell a receiver the
session is alive), and reading what receivers send back (receiver reports keep a UDP session alive,
BYE ends it). Compound packets start with an SR or RR; anything else in them is skipped."""

from __future__ import annotations

import struct
import time
from dataclasses import dataclass

SR = 200
RR = 201
SDES = 202
BYE = 203
NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix)
_SR = struct.Struct(">BBHIIIIII")  # V/P/RC, PT, length, SSRC, NTP sec, NTP frac, RTP ts, packets, octets


def ntp_time(unix: float) -> tuple[int, int]:
    """Seconds and fraction (1/2**32) since 1900, as SR carries them."""
    seconds = int(unix)
    fraction = int((unix - seconds) * (1 << 32)) & 0xFFFFFFFF
    return (seconds + NTP_EPOCH_OFFSET) & 0xFFFFFFFF, fraction


def sender_report(
    ssrc: int, rtp_ts: int, packets: int, octets: int, cname: str, now: float | None = None
) -> bytes:
    """A compound SR + SDES(CNAME) packet with no report blocks (we receive nothing on that session)."""
    seconds, fraction = ntp_time(time.time() if now is None else now)
    sr = _SR.pack(
        0x80, SR, 6, ssrc, seconds, fraction, rtp_ts & 0xFFFFFFFF, packets & 0xFFFFFFFF, octets & 0xFFFFFFFF
    )
    name = cname.encode()[:255]
    item = bytes([1, len(name)]) + name + b"\x00"  # CNAME item, then the list's end
    item += b"\x00" * (-(len(item) + 4) % 4)  # pad the chunk (SSRC + items) to 32 bits
    sdes = struct.pack(">BBHI", 0x81, SDES, (len(item) + 4) // 4, ssrc) + item
    return sr + sdes


def receiver_report(ssrc: int, source: int | None, lost: int = 0) -> bytes:
    """An RR from `ssrc`, with one report block on `source` (cumulative loss only; no fraction,
    jitter or LSR: we keep none of them) or none while the source is not known yet."""
    if source is None:
        return struct.pack(">BBHI", 0x80, RR, 1, ssrc)
    lost = min(max(lost, 0), 0x7FFFFF)
    block = struct.pack(">II", source & 0xFFFFFFFF, lost) + bytes(16)
    return struct.pack(">BBHI", 0x81, RR, 7, ssrc) + block


def bye(ssrc: int) -> bytes:
    """An RR without blocks followed by BYE (a compound packet must start with SR or RR)."""
    return struct.pack(">BBHI", 0x80, RR, 1, ssrc) + struct.pack(">BBHI", 0x81, BYE, 1, ssrc)


@dataclass(frozen=True, slots=True)
class RtcpPacket:
    """One packet of a compound: its type, the sender's SSRC, and for SR its NTP and RTP times."""

    kind: int
    ssrc: int
    ntp: float = 0.0  # SR: Unix seconds
    rtp_ts: int = 0  # SR
    packets: int = 0  # SR
    octets: int = 0  # SR
    sources: tuple[int, ...] = ()  # BYE: the SSRCs leaving; RR/SR: the SSRCs reported on


def parse_rtcp(data: bytes | bytearray | memoryview) -> list[RtcpPacket]:
    """The packets of a compound RTCP packet; [] for anything that is not RTCP (never raises)."""
    out: list[RtcpPacket] = []
    view = memoryview(data)
    pos = 0
    while pos + 8 <= len(view):
        first, kind, length = struct.unpack_from(">BBH", view, pos)
        end = pos + 4 * (length + 1)
        if first >> 6 != 2 or end > len(view) or not 192 <= kind <= 223:
            break
        count = first & 0x1F
        ssrc = struct.unpack_from(">I", view, pos + 4)[0]
        if kind == SR and end - pos >= 28:
            _, _, _, _, sec, frac, rtp_ts, packets, octets = _SR.unpack_from(view, pos)
            blocks = _blocks(view, pos + 28, end, count)
            ntp = sec - NTP_EPOCH_OFFSET + frac / (1 << 32)
            out.append(RtcpPacket(SR, ssrc, ntp, rtp_ts, packets, octets, blocks))
        elif kind == RR:
            out.append(RtcpPacket(RR, ssrc, sources=_blocks(view, pos + 8, end, count)))
        elif kind == BYE:
            sources = struct.unpack_from(f">{count}I", view, pos + 4) if pos + 4 + 4 * count <= end else ()
            out.append(RtcpPacket(BYE, ssrc, sources=tuple(sources)))
        else:
            out.append(RtcpPacket(kind, ssrc))
        pos = end
    return out


def _blocks(view: memoryview, start: int, end: int, count: int) -> tuple[int, ...]:
    """The SSRCs of the report blocks (24 bytes each) that fit."""
    found = []
    for index in range(count):
        at = start + 24 * index
        if at + 24 > end:
            break
        found.append(struct.unpack_from(">I", view, at)[0])
    return tuple(found)
