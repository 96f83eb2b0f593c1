"""A TCP fault proxy for the links between nodes: pass, cut (connections reset, new ones refused),
black-hole (connections stay open but nothing moves, as a dead carrier link does: no RST), slow."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading


class FaultProxy:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.mode = "pass"
        self.delay = 0.0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()

    def start(self) -> FaultProxy:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self.loop).result(5)
        return self

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", self.port)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.mode == "cut":
            _reset(writer)
            return
        try:
            up_r, up_w = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return
        self._conns |= {writer, up_w}
        await asyncio.gather(self._pump(reader, up_w), self._pump(up_r, writer), return_exceptions=True)
        for w in (writer, up_w):
            self._conns.discard(w)
            w.close()

    async def _pump(self, src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
        while True:
            data = await src.read(65536)
            if not data:
                dst.close()
                return
            while self.mode == "blackhole":  # noqa: ASYNC110 - hold everything: silence, not a reset
                await asyncio.sleep(0.05)
            if self.mode == "cut":
                return
            if self.delay:
                await asyncio.sleep(self.delay)
            dst.write(data)
            await dst.drain()

    def set(self, mode: str, delay: float = 0.0) -> None:
        def apply() -> None:
            self.mode, self.delay = mode, delay
            if mode == "cut":
                for w in list(self._conns):
                    _reset(w)
                self._conns.clear()

        self.loop.call_soon_threadsafe(apply)

    def close(self) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            for w in list(self._conns):
                _reset(w)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0), as a router dropping the link does."""
    sock = writer.get_extra_info("socket")
    with contextlib.suppress(OSError):
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    writer.close()
