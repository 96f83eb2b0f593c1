"""The node's uvicorn server wakes once per tick, serves as uvicorn does, and stops when told to."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from tests.support.net import free_port
from tests.support.waits import wait_until

from xueliang.core.quiet_server import QuietServer


async def hello(scope: dict[str, Any], receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"hello"})


async def test_ticks_once_per_tick_with_a_date_header_and_stops_when_told() -> None:
    port = free_port()
    config = uvicorn.Config(hello, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    server = QuietServer(config, tick=60.0)
    ticks: list[int] = []
    plain_tick = server.on_tick

    async def counting(counter: int) -> bool:
        ticks.append(counter)
        return await plain_tick(counter)

    server.on_tick = counting  # type: ignore[method-assign]
    serving = asyncio.create_task(server.serve())
    await wait_until(lambda: server.started, 10, "the server to start")
    async with httpx.AsyncClient() as client:
        response = await client.get(f"http://127.0.0.1:{port}/")
    assert response.text == "hello" and "date" in response.headers
    await asyncio.sleep(0.5)  # uvicorn's own server would have ticked five times by now
    assert ticks == [0]
    server.should_exit = True  # the way tests and embedders stop a uvicorn server
    await asyncio.wait_for(serving, 10)  # well before the next tick, 60 s away
    assert len(ticks) == 2


def test_serve_stops_at_once_on_sigterm(tmp_path: Path) -> None:
    """The signal path: uvicorn's handler sets should_exit from inside the running loop."""
    port = free_port()
    script = tmp_path / "serve.py"
    script.write_text(
        "import uvicorn, sys\n"
        "from tests.core.test_quiet_server import hello\n"
        "from xueliang.core.quiet_server import QuietServer\n"
        f"config = uvicorn.Config(hello, host='127.0.0.1', port={port}, log_level='warning',"
        " lifespan='off')\n"
        "server = QuietServer(config, tick=60.0)\n"
        "server.run()\n"
        "sys.exit(0 if server.started else 3)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2]))
    proc = subprocess.Popen([sys.executable, str(script)], env=env)
    try:
        with httpx.Client() as client:
            for _ in range(200):
                try:
                    if client.get(f"http://127.0.0.1:{port}/").text == "hello":
                        break
                except httpx.TransportError:
                    pass
                try:
                    proc.wait(timeout=0.05)
                except subprocess.TimeoutExpired:
                    continue
                raise AssertionError(f"server exited with {proc.returncode} before answering")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) in (0, -signal.SIGTERM)  # uvicorn re-raises it; not the 60 s tick
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
