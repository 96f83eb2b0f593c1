"""The demo county's grid data, written after the regions, cameras and users exist."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession


async def seed_demo(session: AsyncSession, *, now: datetime) -> None:
    """Called by seed/load.py inside its transaction (it commits); reads what it needs from the database."""
    del session, now
