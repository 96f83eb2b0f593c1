"""The hospital API under /api/v1/hospital."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/hospital", tags=["hospital"])
