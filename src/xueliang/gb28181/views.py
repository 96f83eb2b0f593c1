"""The gb28181 API under /api/v1/gb28181."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/gb28181", tags=["gb28181"])
