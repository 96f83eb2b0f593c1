"""The running services of one app, found by their class.

Why keyed by class: a lookup names the type it gets back, so mypy checks every use, and a missing
service is an error that names the class instead of a `None` read from a string-keyed dict."""

from __future__ import annotations

from typing import Any, TypeVar, cast

T = TypeVar("T")


class MissingService(LookupError):
    """A service was required that this app does not run (for example media on an API-only node)."""


class Services:
    def __init__(self) -> None:
        self._by_type: dict[type[Any], Any] = {}

    def add(self, service: T, kind: type[T] | None = None) -> T:
        """Register `service` under `kind` (default: its own class); one service per kind."""
        key = kind or type(service)
        if key in self._by_type:
            raise ValueError(f"{key.__name__} is already registered")
        self._by_type[key] = service
        return service

    def get(self, kind: type[T]) -> T | None:
        """The service of that kind, or None where this app does not run one."""
        return cast("T | None", self._by_type.get(kind))

    def require(self, kind: type[T]) -> T:
        found = self.get(kind)
        if found is None:
            raise MissingService(f"no {kind.__name__} runs in this app")
        return found

    def get_or_add(self, kind: type[T], make: type[T]) -> T:
        """The service of that kind, made on first use (for services every app has, such as the hub)."""
        found = self.get(kind)
        return found if found is not None else self.add(make(), kind)
