"""Errors of the ingest side: one type per way a camera session can end, all under `MediaError`.

The engine catches `MediaError` around one camera's session, logs `reason` and reconnects; nothing a
camera sends may raise anything else (the fuzz tests hold the parsers to that).
"""

from __future__ import annotations


class MediaError(Exception):
    """Base of every error that ends one source session (never the engine)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MediaProtocolError(MediaError):
    """Malformed or unsupported input from a peer: an RTSP reply, SDP, RTP packet or bitstream."""


class MediaConnectionError(MediaError):
    """The peer could not be reached, closed the connection, or went silent past the read timeout."""


class MediaAuthError(MediaError):
    """The peer refused our credentials (RTSP 401 after answering its challenge)."""
