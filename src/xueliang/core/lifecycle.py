"""What a domain's runtime hands `create_app`: start-up hooks that return their own shutdown.

Defined once here so every domain's `runtime.py` speaks the same shape; `create_app` runs the hooks
in the order it composes them and the stops in reverse."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xueliang.core.context import AppContext

Stop = Callable[[], Awaitable[None]]
StartupHook = Callable[["AppContext"], Awaitable[Stop | None]]
