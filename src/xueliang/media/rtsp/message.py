"""RTSP messages and an incremental parser over a byte stream that also carries interleaved
RTP/RTCP (`$` + channel + length + data, RFC 2326 §10.12)."""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from xueliang.media.errors import MediaProtocolError

MAX_HEADER_BYTES = 16 * 1024
MAX_BODY_BYTES = 1024 * 1024
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VERSION = re.compile(r"RTSP/[0-9]\.[0-9]")
_INTERLEAVED = struct.Struct(">BBH")  # '$', channel, length (RFC 2326 §10.12)


class Headers:
    """Ordered, case-insensitive header list (names may repeat, e.g. WWW-Authenticate)."""

    __slots__ = ("_items",)

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str]] = list(items)

    def get(self, name: str, default: str | None = None) -> str | None:
        key = name.lower()
        for k, v in self._items:
            if k.lower() == key:
                return v
        return default

    def get_all(self, name: str) -> list[str]:
        key = name.lower()
        return [v for k, v in self._items if k.lower() == key]

    def add(self, name: str, value: str) -> None:
        self._items.append((name, value))

    def set(self, name: str, value: str) -> None:
        self.remove(name)
        self._items.append((name, value))

    def remove(self, name: str) -> None:
        key = name.lower()
        self._items = [(k, v) for k, v in self._items if k.lower() != key]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Headers) and self._items == other._items

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"


def _serialize(start: str, headers: Headers, body: bytes) -> bytes:
    lines = [start]
    lines.extend(f"{k}: {v}" for k, v in headers if k.lower() != "content-length")
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass(slots=True)
class RtspRequest:
    method: str
    uri: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    version: str = "RTSP/1.0"

    @property
    def cseq(self) -> str | None:
        return self.headers.get("CSeq")

    def to_bytes(self) -> bytes:
        return _serialize(f"{self.method} {self.uri} {self.version}", self.headers, self.body)


@dataclass(slots=True)
class RtspResponse:
    status: int
    reason: str = ""
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    version: str = "RTSP/1.0"

    @property
    def cseq(self) -> str | None:
        return self.headers.get("CSeq")

    def to_bytes(self) -> bytes:
        return _serialize(f"{self.version} {self.status} {self.reason}", self.headers, self.body)


@dataclass(slots=True)
class InterleavedFrame:
    """RTP (even channel by convention) or RTCP data carried inside the RTSP TCP connection."""

    channel: int
    data: bytes


RtspMessage = RtspRequest | RtspResponse | InterleavedFrame


def _parse_head(block: bytes) -> tuple[str, Headers]:
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MediaProtocolError("RTSP header is not UTF-8") from exc
    lines = text.replace("\r\n", "\n").split("\n")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t"):
            if not headers:
                raise MediaProtocolError("RTSP header continuation without a header")
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, sep, value = line.partition(":")
        if not sep or not _TOKEN.fullmatch(name):
            raise MediaProtocolError(f"bad RTSP header line {line[:80]!r}")
        headers.append((name, value.strip()))
    return lines[0], Headers(headers)


def _start_line(line: str, headers: Headers) -> RtspRequest | RtspResponse:
    if line.startswith("RTSP/"):
        parts = line.split(" ", 2)
        if len(parts) < 2 or not _VERSION.fullmatch(parts[0]) or not re.fullmatch(r"[0-9]{3}", parts[1]):
            raise MediaProtocolError(f"bad RTSP status line {line[:80]!r}")
        return RtspResponse(int(parts[1]), parts[2] if len(parts) > 2 else "", headers, b"", parts[0])
    parts = line.split(" ")
    if len(parts) != 3 or not _TOKEN.fullmatch(parts[0]) or not parts[1] or not _VERSION.fullmatch(parts[2]):
        raise MediaProtocolError(f"bad RTSP request line {line[:80]!r}")
    return RtspRequest(parts[0], parts[1], headers, b"", parts[2])


FramesSink = Callable[[int, bytes, list[int]], None]
"""(channel, buffer, spans): frames on `channel` at `buffer[spans[0]:spans[1]]`, `buffer[spans[2]:
spans[3]]`, ..., not copied out."""
MessageSink = Callable[["RtspRequest | RtspResponse"], None]


class RtspParser:
    """Feed bytes as they arrive; get whole messages and interleaved frames back in order.

    `feed` returns them as a list; `scan` hands them to callbacks, interleaved frames without copying
    them (the RTSP client's path for every RTP packet). Anything malformed raises MediaProtocolError;
    the connection is then unusable.
    """

    __slots__ = ("_buf", "_head")

    def __init__(self) -> None:
        self._buf = b""  # bytes of an incomplete message or frame, kept for the next call
        # A parsed head waiting for its body, and the body length.
        self._head: tuple[RtspRequest | RtspResponse, int] | None = None

    def feed(self, data: bytes) -> list[RtspMessage]:
        out: list[RtspMessage] = []

        def frames(channel: int, buf: bytes, spans: list[int]) -> None:
            for i in range(0, len(spans), 2):
                out.append(InterleavedFrame(channel, buf[spans[i] : spans[i + 1]]))

        self.scan(data, frames, out.append)
        return out

    def scan(self, data: bytes, on_frames: FramesSink, on_message: MessageSink) -> None:
        """Parse `data` (and what an earlier call left over), in stream order: each run of interleaved
        frames on one channel goes to `on_frames` in one call, as `buf[spans[0]:spans[1]]`,
        `buf[spans[2]:spans[3]]`, ... (no copies: a read holds one camera's packets, RTCP aside), and
        each request or response to `on_message`."""
        buf = self._buf + data if self._buf else bytes(data)
        self._buf = b""
        pos = 0
        end = len(buf)
        unpack = _INTERLEAVED.unpack_from
        try:
            while pos < end:
                if buf[pos] == 0x24 and self._head is None:  # '$': a run of interleaved frames
                    spans: list[int] = []
                    append = spans.append
                    channel = buf[pos + 1] if end - pos > 1 else -1
                    waiting = False  # the run ends in a frame (or frame header) not yet whole
                    while end - pos >= 4:
                        magic, on, size = unpack(buf, pos)
                        if magic != 0x24 or on != channel:
                            break
                        stop = pos + 4 + size
                        if stop > end:
                            waiting = True
                            break
                        append(pos + 4)
                        append(stop)
                        pos = stop
                    else:
                        waiting = pos < end and buf[pos] == 0x24
                    if spans:
                        on_frames(channel, buf, spans)
                    if waiting:
                        break
                    continue
                after = self._message(buf, pos, end, on_message)
                if after is None:
                    break
                pos = after
        finally:
            if pos < end:
                self._buf = buf[pos:]

    def _message(self, buf: bytes, pos: int, end: int, on_message: MessageSink) -> int | None:
        """Parse what starts at `pos` (a message's head or body, or stray line breaks): the position
        after it, or None when the rest has not arrived yet."""
        first = buf[pos]
        if self._head is not None:
            message, length = self._head
            if end - pos < length:
                return None
            message.body = buf[pos : pos + length]
            self._head = None
            on_message(message)
            return pos + length
        if first in (0x0D, 0x0A):  # stray line breaks between messages
            return pos + 1
        if not (0x41 <= first <= 0x5A or 0x61 <= first <= 0x7A):
            raise MediaProtocolError(f"unexpected byte 0x{first:02x} in RTSP stream")
        crlf = buf.find(b"\r\n\r\n", pos, pos + MAX_HEADER_BYTES + 4)
        lf = buf.find(b"\n\n", pos, pos + MAX_HEADER_BYTES + 2)
        if crlf < 0 and lf < 0:
            if end - pos > MAX_HEADER_BYTES:
                raise MediaProtocolError("RTSP header too long")
            return None
        if crlf >= 0 and (lf < 0 or crlf < lf):
            block, body_at = buf[pos:crlf], crlf + 4
        else:
            block, body_at = buf[pos:lf], lf + 2
        line, headers = _parse_head(block)
        message = _start_line(line, headers)
        length = _content_length(headers)
        if length:
            self._head = (message, length)
        else:
            on_message(message)
        return body_at


def _content_length(headers: Headers) -> int:
    value = headers.get("Content-Length")
    if value is None:
        return 0
    if not re.fullmatch(r"[0-9]{1,9}", value):
        raise MediaProtocolError(f"bad Content-Length {value[:20]!r}")
    length = int(value)
    if length > MAX_BODY_BYTES:
        raise MediaProtocolError(f"RTSP body of {length} bytes is too large")
    return length
