"""Real sockets for fault injection: a TCP relay that can go silent without closing (a dropped
link), and an RTSP server that answers from a script (a misbehaving camera)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from xueliang.media.rtsp.message import Headers, RtspParser, RtspRequest, RtspResponse


class TcpRelay:
    """Forwards 127.0.0.1:port to a target; `freeze()` stops forwarding but keeps the sockets open."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.frozen = False
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    def freeze(self) -> None:
        self.frozen = True

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self._writers += [writer, up_writer]
        for src, dst in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(src, dst))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await src.read(65536):
                if not self.frozen:
                    dst.write(data)
        dst.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for writer in self._writers:
            writer.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def reply(
    request: RtspRequest, status: int = 200, headers: tuple[tuple[str, str], ...] = (), body: bytes = b""
) -> bytes:
    """A response to `request` (its CSeq echoed)."""
    response = RtspResponse(status, "OK" if status == 200 else "Error", Headers(headers), body)
    response.headers.add("CSeq", request.cseq or "0")
    return response.to_bytes()


class ScriptedRtspServer:
    """Answers each request with whatever `answer(request)` returns (raw bytes, possibly broken)."""

    def __init__(self, answer: Callable[[RtspRequest], bytes]) -> None:
        self.answer = answer
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._handlers: set[asyncio.Task[object]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return int(self._server.sockets[0].getsockname()[1])

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
        self._writers.append(writer)
        parser = RtspParser()
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                for item in parser.feed(data):
                    if isinstance(item, RtspRequest):
                        writer.write(self.answer(item))
        writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.close()
        await asyncio.gather(*self._handlers, return_exceptions=True)
