"""N simulated GB/T 28181 devices registering to one platform (`xueliang sim --gb28181 N --platform
sip:ID@host:port`).

IDs are derived from the civil code and the device's number, so a demo can provision and bind the
devices before they exist: device k (1-based) is `<civil code><00><132><0><k:06>` (an IPC) or, with
several channels, `<...><118>...` (an NVR); camera j of the simulator (1-based across devices) is the
channel `<civil code><00><131><0><j:06>`.

A small control port (loopback TCP, one command a line, `--control-port`) drives what a person does to
a real device: `alarm J [METHOD]` raises a device alarm of camera J, `offline K` / `online K` pulls
device K's cable and plugs it back, `status` lists the cameras and where they point. Each command is
answered with one line starting `ok` or `error`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from xueliang.core.ids import gb_id
from xueliang.gb28181.sim.device import SimChannel, SimDevice
from xueliang.gb28181.sim.loops import LoopCache
from xueliang.gb28181.sip.message import SipMessage, response_to, uri_hostport, uri_user
from xueliang.gb28181.sip.transport import SipEndpoint, Source

log = logging.getLogger(__name__)

TYPE_NVR = 118
TYPE_IPC = 132
TYPE_CHANNEL = 131
DEFAULT_CIVIL_CODE = "34020000"  # GB/T 28181's example centre code
PRESET_SHOWN = 99  # presets are shown as their last two digits (loops.marker_number)


def device_id(civil_code: str, number: int, nvr: bool = False) -> str:
    return gb_id(civil_code, TYPE_NVR if nvr else TYPE_IPC, number)


def channel_id(civil_code: str, number: int) -> str:
    return gb_id(civil_code, TYPE_CHANNEL, number)


def parse_platform(uri: str) -> tuple[str, str, int]:
    """`sip:ID@host:port` -> (ID, host, port); ValueError when it is not one."""
    user = uri_user(uri)
    host, port = uri_hostport(uri)
    if len(user) != 20 or not user.isdigit() or not host:
        raise ValueError(f"--platform must look like sip:<20-digit id>@host:port, not {uri!r}")
    return user, host, port or 5060


def ptz_decode(command: str) -> tuple[int, int] | None:
    """(instruction byte, preset number) of an 8-byte PTZCmd in hex; None when malformed (length,
    the A5 lead or the checksum)."""
    try:
        raw = bytes.fromhex(command.strip())
    except ValueError:
        return None
    if len(raw) != 8 or raw[0] != 0xA5 or sum(raw[:7]) % 256 != raw[7]:
        return None
    return raw[3], raw[5]


@dataclass
class SimOptions:
    password: str
    civil_code: str = DEFAULT_CIVIL_CODE
    channels: int = 1  # per device (more than one: an NVR)
    first: int = 1  # the number of the first device
    keepalive: float = 60.0
    expires: int = 3600
    per_message: int = 2  # catalog items per MESSAGE
    host: str = "127.0.0.1"  # our SIP and media address
    width: int = 640
    height: int = 360
    seconds: int = 4
    request_timeout: float = 8.0
    preload: int = 32  # encode/load the loops of up to this many cameras at start
    stagger: float = 1.0  # seconds over which the devices' first REGISTERs are spread
    start_without_ack: bool = False  # send media as soon as we answered (some cameras do)


class GbSimulator:
    """The devices, their shared SIP endpoint and the loops; an async context manager."""

    def __init__(self, devices: int, platform: str, data_dir: Path, options: SimOptions) -> None:
        if devices < 1 or options.channels < 1:
            raise ValueError("at least one device with one channel")
        self.platform_id, self.platform_host, self.platform_port = parse_platform(platform)
        self.domain = self.platform_id[:10]
        self.platform = Source("UDP", self.platform_host, self.platform_port)
        self.options = options
        self.password = options.password
        self.keepalive = options.keepalive
        self.expires = options.expires
        self.per_message = options.per_message
        self.request_timeout = options.request_timeout
        self.start_without_ack = options.start_without_ack
        self.advertise = self.media_host = options.host
        self.loops = LoopCache(data_dir, options.width, options.height, options.seconds)
        self.endpoint = _Endpoint(self._handle, options.host, 0, ("UDP",), options.host)
        self.endpoint.ack_to = self._ack
        self.endpoint.drop = self._silent
        nvr = options.channels > 1
        self.devices: list[SimDevice] = []
        self.cameras: list[SimChannel] = []
        self._by_target: dict[str, SimDevice] = {}
        for k in range(options.first, options.first + devices):
            chans = []
            for c in range(options.channels):
                j = (k - 1) * options.channels + c + 1
                chans.append(SimChannel(j, channel_id(options.civil_code, j), f"模拟球机{j}"))
            device = SimDevice(self, device_id(options.civil_code, k, nvr), chans)
            self.devices.append(device)
            self.cameras.extend(chans)
            self._by_target[device.device_id] = device
            for chan in chans:
                self._by_target[chan.channel_id] = device
        self._runs: list[asyncio.Task[None]] = []
        self._control: asyncio.Server | None = None
        self.control_port = 0

    # -- life ----------------------------------------------------------------------------------------
    async def start(self, control_port: int | None = None) -> None:
        """Listens and starts the devices; the first `preload` cameras' loops load meanwhile (the
        first run encodes them), and an INVITE that comes first waits for its own."""
        await self.endpoint.start()
        self._runs.append(asyncio.create_task(self._preload()))
        if control_port is not None:
            self._control = await asyncio.start_server(self._serve_control, "127.0.0.1", control_port)
            self.control_port = int(self._control.sockets[0].getsockname()[1])
        spread = self.options.stagger / max(1, len(self.devices))
        for index, device in enumerate(self.devices):
            self._runs.append(asyncio.create_task(self._run_later(device, index * spread)))

    async def _preload(self) -> None:
        for camera in self.cameras[: self.options.preload]:
            await self.loops.get(camera.marker)

    @staticmethod
    async def _run_later(device: SimDevice, delay: float) -> None:
        if delay:
            await asyncio.sleep(delay)
        await device.run()

    async def stop(self) -> None:
        if self._control is not None:
            self._control.close()
        for task in self._runs:
            task.cancel()
        await asyncio.gather(*self._runs, return_exceptions=True)
        for device in self.devices:
            await device.close()
        await self.endpoint.stop()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def registered(self) -> None:
        """Until every device that is not silent has registered (callers bound the wait)."""
        for device in self.devices:
            if not device.silent:
                await device.registered.wait()

    # -- what a person does to the devices -----------------------------------------------------------
    def camera(self, number: int) -> SimChannel:
        for camera in self.cameras:
            if camera.number == number:
                return camera
        raise LookupError(f"no camera {number}")

    def device_of(self, number: int) -> SimDevice:
        camera = self.camera(number)
        return self._by_target[camera.channel_id]

    def device(self, number: int) -> SimDevice:
        """Device `number` (as numbered in IDs)."""
        index = number - self.options.first
        if not 0 <= index < len(self.devices):
            raise LookupError(f"no device {number}")
        return self.devices[index]

    async def alarm(self, number: int, method: str = "5") -> int:
        """Camera `number`'s device raises an alarm for it; returns the platform's status code."""
        answer = await self.device_of(number).alarm(self.camera(number), method)
        return answer.status

    def set_silent(self, number: int, silent: bool) -> None:
        """Device `number` unplugged (no signalling, no media) or plugged back in."""
        device = self.device(number)
        device.silent = silent
        if silent:
            device.spawn(device.end_streams())

    def apply_ptz(self, channel: SimChannel, command: str) -> bool:
        """A PTZCmd from the platform; False when malformed. Presets: set remembers it (and loads its
        loop ahead), call turns there when it is set, delete forgets it; a move leaves the preset."""
        decoded = ptz_decode(command)
        if decoded is None:
            return False
        code, preset = decoded
        channel.moves += 1
        if code == 0x81 and preset:
            channel.presets.add(preset)
            self.loops.get(_marker_of(channel, preset))
        elif code == 0x82 and preset:
            if preset in channel.presets:
                channel.preset = preset
                self.loops.get(channel.marker)
        elif code == 0x83 and preset:
            channel.presets.discard(preset)
        elif code & 0x3F:
            channel.preset = 0  # moved by hand: at no preset any more
        return True

    # -- SIP -----------------------------------------------------------------------------------------
    async def _handle(self, msg: SipMessage, src: Source) -> SipMessage:
        target = uri_user(msg.uri)
        device = self._by_target.get(target)
        if device is None:
            return response_to(msg, 404)
        return await device.handle(msg, src, target)

    def _ack(self, msg: SipMessage) -> None:
        device = self._by_target.get(uri_user(msg.uri))
        if device is not None:
            device.ack(msg)

    def _silent(self, msg: SipMessage) -> bool:
        device = self._by_target.get(uri_user(msg.uri))
        return device is not None and device.silent

    # -- control port --------------------------------------------------------------------------------
    async def _serve_control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                reply = await self.command(line.decode("utf-8", "replace"))
                writer.write((reply + "\n").encode())
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    async def command(self, line: str) -> str:
        """One control command; the reply line."""
        words = line.split()
        if not words:
            return "error: empty command"
        try:
            if words[0] == "alarm" and len(words) in (2, 3):
                status = await self.alarm(int(words[1]), words[2] if len(words) == 3 else "5")
                return f"ok alarm {words[1]}: platform answered {status}"
            if words[0] in ("offline", "online") and len(words) == 2:
                self.set_silent(int(words[1]), words[0] == "offline")
                return f"ok device {words[1]} {words[0]}"
            if words[0] == "status" and len(words) == 1:
                cams = ", ".join(
                    f"{c.number}:{c.channel_id}@preset{c.preset}"
                    + ("(offline)" if self.device_of(c.number).silent else "")
                    for c in self.cameras[:50]
                )
                return f"ok {len(self.cameras)} cameras: {cams}"
        except (ValueError, LookupError) as exc:
            return f"error: {exc}"
        except (TimeoutError, ConnectionError, OSError) as exc:
            return f"error: the platform did not answer: {str(exc) or 'timeout'}"
        return "error: commands are 'alarm CAMERA [METHOD]', 'offline DEVICE', 'online DEVICE', 'status'"


def _marker_of(channel: SimChannel, preset: int) -> int:
    from xueliang.gb28181.sim.loops import marker_number

    return marker_number(channel.number, preset)


class _Endpoint(SipEndpoint):
    """The shared endpoint: ACKs go to the devices (the platform's endpoint drops them), and requests
    for a silent (unplugged) device are not answered at all."""

    ack_to: Callable[[SipMessage], None] | None = None
    drop: Callable[[SipMessage], bool] | None = None

    def _incoming_request(self, msg: SipMessage, src: Source) -> None:
        if self.drop is not None and self.drop(msg):
            return
        if msg.method == "ACK":
            if self.ack_to is not None:
                self.ack_to(msg)
            return
        super()._incoming_request(msg, src)


async def run_gb_simulator(
    devices: int, platform: str, data_dir: Path, options: SimOptions, control_port: int | None = None
) -> None:
    """Serve until cancelled (what `xueliang sim --gb28181` runs)."""
    sim = GbSimulator(devices, platform, data_dir, options)
    await sim.start(control_port)
    try:
        await asyncio.Event().wait()
    finally:
        with contextlib.suppress(Exception):
            await sim.stop()


def run_from_cli(
    devices: int,
    platform: str,
    data_dir: Path,
    options: SimOptions,
    control_port: int | None,
    say: Callable[[str], object],
) -> None:
    """`xueliang sim --gb28181 N`: checks the arguments (ValueError: one line for the user), says what
    it simulates, and runs until interrupted."""
    if not options.password:
        raise ValueError("--password is required with --gb28181 (the devices' SIP password)")
    if len(options.civil_code) != 8 or not options.civil_code.isdigit():
        raise ValueError("--civil-code must be 8 digits")
    parse_platform(platform)
    nvr = options.channels > 1
    ids = (device_id(options.civil_code, n, nvr) for n in (options.first, options.first + devices - 1))
    say(
        f"simulating {devices} GB/T 28181 device(s) {'..'.join(ids)} registering to {platform}"
        + (f"; control: 127.0.0.1:{control_port}" if control_port else "")
    )
    try:
        asyncio.run(run_gb_simulator(devices, platform, data_dir, options, control_port))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        raise ValueError(f"cannot simulate: {exc}") from None
