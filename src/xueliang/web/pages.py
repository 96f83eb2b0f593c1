"""The shape of `render`, which `mount_web` hands each feature domain's page module (web/*_pages.py), so
every page goes through the same login redirect, locale, boot JSON and no-store headers."""

from __future__ import annotations

from typing import Any, Protocol

from fastapi import Request
from fastapi.responses import Response


class Render(Protocol):
    async def __call__(
        self, request: Request, template: str, terminal: str, *, login_required: bool = True, **extra: Any
    ) -> Response: ...
