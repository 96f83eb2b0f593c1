"""H.265 RTP payload format (RFC 7798): single NAL unit, aggregation (AP) and fragmentation (FU)."""

from __future__ import annotations

from collections.abc import Sequence

from xueliang.media.errors import MediaProtocolError
from xueliang.media.rtp.h264 import MAX_NAL_SIZE, split_aggregate

AP = 48
FU = 49
PACI = 50


class H265Depacketizer:
    """Turns RTP payloads into NAL units. `donl` is true when sprop-max-don-diff > 0 (DON fields
    present). A fragment without its start sets `broken`; malformed payloads raise MediaProtocolError."""

    __slots__ = ("_fu", "_fu_size", "broken", "donl")

    def __init__(self, donl: bool = False) -> None:
        self.donl = donl
        self._fu: list[bytes] = []
        self._fu_size = 0
        self.broken = False

    def reset(self) -> None:
        if self._fu:
            self.broken = True
        self._fu = []
        self._fu_size = 0

    def extend(self, data: bytes, start: int, stop: int, nalus: list[bytes]) -> bool:
        """Take the payload `data[start:stop]` if it is a piece of a FU that needs none of `push`'s
        checks: a start with no unit open, or a middle or end piece of the open unit (an end appends
        the whole NAL unit to `nalus`). False, with nothing done, for anything else (then `push` it)."""
        if stop - start <= 3 or data[start] & 0xFE != FU << 1:
            return False
        fu_header = data[start + 2]
        fu = self._fu
        if fu_header & 0x80:
            body_at = 5 if self.donl else 3
            if fu or fu_header & 0x40 or stop - start <= body_at:
                return False
            header = bytes(((data[start] & 0x81) | ((fu_header & 0x3F) << 1), data[start + 1]))
            self._fu = [header, data[start + body_at : stop]]
            self._fu_size = stop - start - body_at + 2
            return True
        if not fu:
            return False
        fu.append(data[start + 3 : stop])
        self._fu_size += stop - start - 3
        if self._fu_size > MAX_NAL_SIZE:
            raise MediaProtocolError("H.265 fragmented NAL unit too large")
        if fu_header & 0x40:
            nalus.append(b"".join(fu))
            self._fu = []
            self._fu_size = 0
        return True

    def push(self, payload: bytes) -> list[bytes]:
        if len(payload) < 3:
            raise MediaProtocolError("H.265 RTP payload too short")
        if payload[0] & 0x80:
            self.reset()
            self.broken = True
            return []
        kind = (payload[0] >> 1) & 0x3F
        if kind < AP:
            self.reset()
            if not self.donl:
                return [payload]
            if len(payload) < 5:
                raise MediaProtocolError("H.265 RTP payload too short for its DONL field")
            return [payload[:2] + payload[4:]]
        if kind == AP:
            self.reset()
            return self._aggregate(payload)
        if kind == FU:
            return self._fragment(payload)
        if kind == PACI:
            raise MediaProtocolError("H.265 PACI packets are not supported")
        return []  # types 51-63 are unspecified: ignored (RFC 7798 §4.4)

    def _aggregate(self, payload: bytes) -> list[bytes]:
        if not self.donl:
            return split_aggregate(payload, 2)
        nalus: list[bytes] = []
        pos, end = 4, len(payload)  # header, then DONL of the first unit
        while pos < end:
            if nalus:
                pos += 1  # DOND
            if pos + 2 > end:
                raise MediaProtocolError("H.265 aggregation packet truncated")
            size = (payload[pos] << 8) | payload[pos + 1]
            pos += 2
            if size < 2 or pos + size > end:
                raise MediaProtocolError(f"H.265 aggregation packet: bad NAL unit size {size}")
            nalus.append(payload[pos : pos + size])
            pos += size
        if not nalus:
            raise MediaProtocolError("empty H.265 aggregation packet")
        return nalus

    def _fragment(self, payload: bytes) -> list[bytes]:
        """A FU piece `extend` declined as it stood: too short, no unit open, or a start while one is
        open (that unit is lost) or that is also the end."""
        fu_header = payload[2]
        body_at = 5 if self.donl and fu_header & 0x80 else 3
        if len(payload) <= body_at:
            raise MediaProtocolError("H.265 FU packet too short")
        out: list[bytes] = []
        if self.extend(payload, 0, len(payload), out):
            return out
        if not fu_header & 0x80:  # a middle or end piece without its start
            self.broken = True
            return []
        self.reset()
        if self.extend(payload, 0, len(payload), out):
            return out
        header = bytes(((payload[0] & 0x81) | ((fu_header & 0x3F) << 1), payload[1]))
        return [header + payload[body_at:]]  # start and end at once


class H265Packetizer:
    """NAL units of one access unit → RTP payloads (single, AP for small runs, FU for large units)."""

    def __init__(self, max_payload: int = 1400, aggregate: bool = True) -> None:
        if max_payload < 16:
            raise ValueError("max_payload too small")
        self.max_payload = max_payload
        self.aggregate = aggregate

    def packetize(self, nalus: Sequence[bytes]) -> list[bytes]:
        out: list[bytes] = []
        group: list[bytes] = []
        group_size = 2
        for nalu in nalus:
            if len(nalu) < 2:
                continue
            if self.aggregate and group_size + 2 + len(nalu) <= self.max_payload:
                group.append(nalu)
                group_size += 2 + len(nalu)
                continue
            self._flush(group, out)
            group, group_size = [], 2
            if self.aggregate and 4 + len(nalu) <= self.max_payload:
                group, group_size = [nalu], 4 + len(nalu)
            elif len(nalu) <= self.max_payload:
                out.append(nalu)
            else:
                self._fragment(nalu, out)
        self._flush(group, out)
        return out

    @staticmethod
    def _flush(group: list[bytes], out: list[bytes]) -> None:
        if len(group) == 1:
            out.append(group[0])
        elif group:
            forbidden = max(n[0] & 0x80 for n in group)
            layer = min(((n[0] & 1) << 5) | (n[1] >> 3) for n in group)
            tid = min(n[1] & 0x07 for n in group)
            parts = [bytes([forbidden | (AP << 1) | (layer >> 5), ((layer & 0x1F) << 3) | tid])]
            for nalu in group:
                parts.append(len(nalu).to_bytes(2, "big"))
                parts.append(nalu)
            out.append(b"".join(parts))

    def _fragment(self, nalu: bytes, out: list[bytes]) -> None:
        header = bytes([(nalu[0] & 0x81) | (FU << 1), nalu[1]])
        kind = (nalu[0] >> 1) & 0x3F
        chunk = self.max_payload - 3
        body = nalu[2:]
        for pos in range(0, len(body), chunk):
            flags = (0x80 if pos == 0 else 0) | (0x40 if pos + chunk >= len(body) else 0)
            out.append(header + bytes([flags | kind]) + body[pos : pos + chunk])
