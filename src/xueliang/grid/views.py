"""The grid API under /api/v1/grid."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/grid", tags=["grid"])
