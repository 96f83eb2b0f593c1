"""Binary WebSocket messages written straight to the connection's transport, for live fragments.

Through ASGI, every fragment goes down Starlette's `send_bytes`, its exception wrappers, uvicorn's
`send` and the websockets protocol's framing before it reaches `transport.write`: a dozen calls and as
many awaits per frame and viewer. When the server is uvicorn with its websockets-sansio protocol (what
`uvicorn` picks when `websockets` is installed, and what the node runs), `DirectWriter` finds that
protocol object behind the ASGI `send` callable and writes the frame itself: one header and one
`transport.write`, synchronously, from inside `Channel.push`.

It only ever writes when the ASGI path would have written at once: the connection open, no close sent,
no compression negotiated, and the transport not paused by flow control (uvicorn's `writable` event;
a paused viewer's fragments queue and are sent, skipped or dropped as before). Anything else, or a
server this module does not know, yields no writer and the ASGI path does all the sending."""

from __future__ import annotations

import struct
from typing import Any

from starlette.websockets import WebSocket
from websockets.protocol import State

_BINARY_FIN = 0x82
_HEAD_16 = struct.Struct(">BBH")
_HEAD_64 = struct.Struct(">BBQ")
_MAX_DEPTH = 8  # ASGI send wrappers to look through


def frame_header(size: int) -> bytes:
    """An unmasked, final binary frame's header for a payload of `size` bytes (RFC 6455 §5.2)."""
    if size < 126:
        return bytes((_BINARY_FIN, size))
    if size < 65536:
        return _HEAD_16.pack(_BINARY_FIN, 126, size)
    return _HEAD_64.pack(_BINARY_FIN, 127, size)


def _uvicorn_protocol(send: Any) -> Any | None:
    """The uvicorn websockets-sansio protocol whose bound `send` sits under the ASGI wrappers, if any.
    Starlette wraps `send` in closures (`sender`) that hold the next `send` as a free variable."""
    for _ in range(_MAX_DEPTH):
        owner = getattr(send, "__self__", None)
        if owner is not None:
            kind = type(owner)
            if kind.__name__ == "WebSocketsSansIOProtocol" and kind.__module__.startswith("uvicorn."):
                return owner
            return None
        code = getattr(send, "__code__", None)
        closure = getattr(send, "__closure__", None)
        if code is None or not closure or "send" not in code.co_freevars:
            return None
        send = closure[code.co_freevars.index("send")].cell_contents
    return None


class DirectWriter:
    """Writes binary messages to one accepted WebSocket connection without the ASGI layers."""

    __slots__ = ("_conn", "_proto", "_transport")

    def __init__(self, proto: Any) -> None:
        self._proto = proto
        self._conn = proto.conn
        self._transport = proto.transport

    @classmethod
    def find(cls, websocket: WebSocket) -> DirectWriter | None:
        """A writer for this accepted connection, or None (another server, compression, not open)."""
        proto = _uvicorn_protocol(getattr(websocket, "_send", None))
        if proto is None:
            return None
        try:
            conn, transport = proto.conn, proto.transport
            usable = (
                proto.handshake_complete
                and not conn.extensions
                and conn.state is State.OPEN
                and hasattr(proto.writable, "is_set")
                and transport is not None
            )
        except AttributeError:  # a uvicorn whose protocol has changed shape
            return None
        return cls(proto) if usable else None

    def write(self, data: bytes) -> bool:
        """Send `data` as one binary message now; False (nothing written) when the ASGI path must do
        it: the transport is paused or closing, or the connection is closing."""
        proto = self._proto
        transport = self._transport
        if (
            proto.close_sent
            or proto.disconnected
            or not proto.writable.is_set()
            or transport.is_closing()
            or self._conn.state is not State.OPEN
        ):
            return False
        transport.writelines((frame_header(len(data)), data))  # one writev, the fragment not copied
        return True
