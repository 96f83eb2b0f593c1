"""H.264 RTP payload format (RFC 6184), non-interleaved mode: single NAL, STAP-A, FU-A."""

from __future__ import annotations

from collections.abc import Sequence

from xueliang.media.errors import MediaProtocolError

STAP_A = 24
FU_A = 28
MAX_NAL_SIZE = 8 * 1024 * 1024  # a larger NAL unit is a broken or hostile sender


class H264Depacketizer:
    """Turns RTP payloads into NAL units. A fragment without its start sets `broken` (the frame is
    damaged and must be dropped); malformed payloads raise MediaProtocolError."""

    __slots__ = ("_fu", "_fu_size", "broken")

    def __init__(self) -> None:
        self._fu: list[bytes] = []
        self._fu_size = 0
        self.broken = False

    def reset(self) -> None:
        """Forget a partial fragmented NAL unit (after packet loss)."""
        if self._fu:
            self.broken = True
        self._fu = []
        self._fu_size = 0

    def extend(self, data: bytes, start: int, stop: int, nalus: list[bytes]) -> bool:
        """Take the payload `data[start:stop]` if it is a piece of a FU-A that needs none of `push`'s
        checks: a start with no unit open, or a middle or end piece of the open unit (an end appends
        the whole NAL unit to `nalus`). Most packets of a frame are. False, with nothing done, for
        anything else (then `push` it)."""
        if stop - start <= 2 or data[start] & 0x9F != FU_A:
            return False
        fu_header = data[start + 1]
        fu = self._fu
        if fu_header & 0x80:
            if fu or fu_header & 0x40:
                return False
            self._fu = [bytes(((data[start] & 0xE0) | (fu_header & 0x1F),)), data[start + 2 : stop]]
            self._fu_size = stop - start - 1
            return True
        if not fu:
            return False
        fu.append(data[start + 2 : stop])
        self._fu_size += stop - start - 2
        if self._fu_size > MAX_NAL_SIZE:
            raise MediaProtocolError("H.264 fragmented NAL unit too large")
        if fu_header & 0x40:
            nalus.append(b"".join(fu))
            self._fu = []
            self._fu_size = 0
        return True

    def push(self, payload: bytes) -> list[bytes]:
        """NAL units completed by this payload (none while a FU-A is still open)."""
        if not payload:
            raise MediaProtocolError("empty H.264 RTP payload")
        header = payload[0]
        kind = header & 0x1F
        if header & 0x80:
            self.reset()
            self.broken = True
            return []
        if 1 <= kind <= 23:
            self.reset()
            return [payload]
        if kind == STAP_A:
            self.reset()
            return split_aggregate(payload, 1)
        if kind == FU_A:
            return self._fragment(payload)
        raise MediaProtocolError(f"unsupported H.264 RTP payload type {kind} (interleaved mode?)")

    def _fragment(self, payload: bytes) -> list[bytes]:
        """A FU-A piece `extend` declined as it stood: too short, no unit open, or a start while one
        is open (that unit is lost) or that is also the end."""
        if len(payload) < 3:
            raise MediaProtocolError("H.264 FU-A packet too short")
        out: list[bytes] = []
        if self.extend(payload, 0, len(payload), out):
            return out
        fu_header = payload[1]
        if not fu_header & 0x80:  # a middle or end piece without its start
            self.broken = True
            return []
        self.reset()
        if self.extend(payload, 0, len(payload), out):
            return out
        return [bytes(((payload[0] & 0xE0) | (fu_header & 0x1F),)) + payload[2:]]  # start and end at once


def split_aggregate(payload: bytes, pos: int) -> list[bytes]:
    """NAL units of an aggregation packet whose units start at `pos` as (16-bit size, NAL unit)."""
    nalus: list[bytes] = []
    end = len(payload)
    while pos < end:
        if pos + 2 > end:
            raise MediaProtocolError("aggregation packet truncated")
        size = (payload[pos] << 8) | payload[pos + 1]
        pos += 2
        if size == 0 or pos + size > end:
            raise MediaProtocolError(f"aggregation packet: bad NAL unit size {size}")
        nalus.append(payload[pos : pos + size])
        pos += size
    if not nalus:
        raise MediaProtocolError("empty aggregation packet")
    return nalus


class H264Packetizer:
    """NAL units of one access unit → RTP payloads of at most `max_payload` bytes (single NAL unit
    packets, STAP-A for runs of small units such as SPS+PPS, FU-A for large ones)."""

    def __init__(self, max_payload: int = 1400, aggregate: bool = True) -> None:
        if max_payload < 16:
            raise ValueError("max_payload too small")
        self.max_payload = max_payload
        self.aggregate = aggregate

    def packetize(self, nalus: Sequence[bytes]) -> list[bytes]:
        """Payloads in order; the last one carries the RTP marker bit."""
        out: list[bytes] = []
        group: list[bytes] = []
        group_size = 1
        for nalu in nalus:
            if not nalu:
                continue
            fits = self.aggregate and group_size + 2 + len(nalu) <= self.max_payload
            if fits:
                group.append(nalu)
                group_size += 2 + len(nalu)
                continue
            self._flush(group, out)
            group, group_size = [], 1
            if self.aggregate and 3 + len(nalu) <= self.max_payload:
                group, group_size = [nalu], 3 + len(nalu)
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
            nri = max(n[0] & 0x60 for n in group)
            forbidden = max(n[0] & 0x80 for n in group)
            parts = [bytes([forbidden | nri | STAP_A])]
            for nalu in group:
                parts.append(len(nalu).to_bytes(2, "big"))
                parts.append(nalu)
            out.append(b"".join(parts))

    def _fragment(self, nalu: bytes, out: list[bytes]) -> None:
        indicator = bytes([(nalu[0] & 0xE0) | FU_A])
        kind = nalu[0] & 0x1F
        chunk = self.max_payload - 2
        body = nalu[1:]
        for pos in range(0, len(body), chunk):
            flags = (0x80 if pos == 0 else 0) | (0x40 if pos + chunk >= len(body) else 0)
            out.append(indicator + bytes([flags | kind]) + body[pos : pos + chunk])
