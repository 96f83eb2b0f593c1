"""The portal API under /api/v1/portal."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/portal", tags=["portal"])
