"""The time a bench's thread waited for a CPU (Linux schedstat), so a latency can be reported with
and without the time other processes held the machine's cores."""

from __future__ import annotations

import os


def cpu_wait_ms(fd: int | None) -> float:
    """How long this thread has waited for a CPU so far (ms), from the kernel's schedstat. Subtracted
    from a request's wall time it leaves the time the server itself took: its own work, its database
    and its queueing behind its own requests, but not the time other processes held the CPUs."""
    return 0.0 if fd is None else int(os.pread(fd, 64, 0).split()[1]) / 1e6


def open_schedstat() -> int | None:
    try:
        return os.open("/proc/thread-self/schedstat", os.O_RDONLY)
    except OSError:
        return None
