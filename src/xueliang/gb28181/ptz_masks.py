"""Privacy masks follow our PTZ commands (ADR 0012, addendum): before a command goes out, a move or a
preset call records the camera as "not at a known preset" (its masked variant fills the whole picture
from then on), and a preset save or delete marks that preset's mask set as drawn for the old view (a
device may take a call of a preset it no longer has and stay where it is); once the device took a
preset call, the camera is recorded at that preset and its set applies.

Both call sites (the console's PTZ route and PTZ relayed from an upper platform) go through here, and
wait for the events to be delivered before the device moves, so the plane of this process switches
first."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.cameras import masks
from xueliang.core.context import AppContext
from xueliang.gb28181.ptz import effect


async def before_command(
    ctx: AppContext, session: AsyncSession, camera_id: int, command: str, actor: str
) -> None:
    """Record what the command is about to do to where the camera points (and lapse the set of a
    preset saved or deleted); commits."""
    kind, preset = effect(command)
    now = ctx.clock.now()
    if kind in ("move", "call"):
        event = await masks.record_position(
            session, camera_id, None, "move" if kind == "move" else "moving", actor, now
        )
        ctx.events.publish(session, event)
    elif kind in ("save", "delete"):
        await masks.preset_saved(session, camera_id, preset, now)
        ctx.events.publish(session, masks.MasksChanged(camera_id))
    await session.commit()
    await ctx.events.delivered(session)


async def after_command(
    ctx: AppContext, session: AsyncSession, camera_id: int, command: str, actor: str
) -> None:
    """The device took the command: a preset call leaves the camera at that preset; commits."""
    kind, preset = effect(command)
    if kind != "call":
        return
    event = await masks.record_position(session, camera_id, preset, "preset_call", actor, ctx.clock.now())
    ctx.events.publish(session, event)
    await session.commit()
    await ctx.events.delivered(session)
