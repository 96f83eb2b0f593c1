"""uvicorn's server without its ten wake-ups a second.

`uvicorn.Server.main_loop` sleeps 0.1 s at a time to notice `should_exit` and to refresh the Date
header once a second: ten event-loop wake-ups a second on a node that has nothing to do. Each costs
far more than its few lines, because after an idle spell the process runs with cold caches
(docs/performance.md). `QuietServer` refreshes the header once per `tick` and is woken at once when
`should_exit` is set, by a signal, another thread or a test."""

from __future__ import annotations

import asyncio

import uvicorn


class QuietServer(uvicorn.Server):
    """A uvicorn Server whose main loop wakes once per `tick` seconds, or when told to exit."""

    def __init__(self, config: uvicorn.Config, tick: float = 1.0) -> None:
        self._should_exit = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Future[None] | None = None
        self.tick = tick
        super().__init__(config)

    @property
    def should_exit(self) -> bool:
        return self._should_exit

    @should_exit.setter
    def should_exit(self, value: bool) -> None:
        self._should_exit = value
        loop = self._loop
        if value and loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._wake_up)  # safe from a signal handler or another thread

    def _wake_up(self) -> None:
        if self._wake is not None and not self._wake.done():
            self._wake.set_result(None)

    async def main_loop(self) -> None:
        loop = self._loop = asyncio.get_running_loop()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit and not self._should_exit:
            counter = (counter + 10) % 864000  # on_tick refreshes the Date header when counter % 10 == 0
            self._wake = loop.create_future()
            timer = loop.call_later(self.tick, self._wake_up)
            try:
                await self._wake
            finally:
                timer.cancel()
                self._wake = None
            should_exit = await self.on_tick(counter)
