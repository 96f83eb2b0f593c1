"""first_done: the first job to end ends the others, on every path, the caller's cancellation included."""

from __future__ import annotations

import asyncio

from xueliang.core.aio import first_done


async def test_the_first_to_end_cancels_the_others() -> None:
    stopped: list[str] = []

    async def quick() -> str:
        return "quick"

    async def forever(name: str) -> str:
        try:
            await asyncio.Event().wait()
        finally:
            stopped.append(name)
        return name

    done = await first_done(quick(), forever("a"), forever("b"))
    assert [t.result() for t in done] == ["quick"]
    assert sorted(stopped) == ["a", "b"]  # cancelled and awaited before first_done returned


async def test_cancelling_the_caller_cancels_every_job() -> None:
    started, stopped = asyncio.Event(), []

    async def forever(name: str) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            stopped.append(name)

    waiter = asyncio.ensure_future(first_done(forever("a"), forever("b")))
    async with asyncio.timeout(5):
        await started.wait()
    waiter.cancel()
    async with asyncio.timeout(5):
        await asyncio.gather(waiter, return_exceptions=True)
    assert sorted(stopped) == ["a", "b"]
    assert not [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
