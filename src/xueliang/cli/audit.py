"""`xueliang audit`: the audit trail."""

from __future__ import annotations

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.audit import service as audit
from xueliang.cli.support import ConfigOpt, fail, out, run_db, settings_from
from xueliang.config import Settings
from xueliang.core.clock import SystemClock

audit_app = typer.Typer(help="Audit trail.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(config: ConfigOpt = None) -> None:
    """Check the hash chain; report the first broken link."""
    settings = settings_from(config)
    result = run_db(settings, audit.verify)
    if not result.ok:
        raise fail(
            f"audit chain broken at row {result.broken_seq}: {result.reason} "
            f"({result.checked} rows verified before it)"
        )
    out.print(f"audit chain intact: {result.checked} rows verified")
    if settings.federation.enabled:
        _check_anchor(settings)


def _check_anchor(settings: Settings) -> None:
    """A federated node also checks its chain against the last anchor its parent holds, which is what
    shows that the newest rows were deleted (federation/anchor.py)."""
    from xueliang.federation import anchor
    from xueliang.federation.identity import NodeIdentity, local_gb_id

    async def where(session: AsyncSession) -> tuple[str, str | None]:
        gb = await local_gb_id(session, settings.federation.node_gb_id)
        return gb, await anchor.parent_url(session, gb)

    gb, url = run_db(settings, where)
    if url is None:
        out.print("no parent: no anchor to check against")
        return
    try:
        held = anchor.fetch(url, NodeIdentity.load(gb, settings.data_dir), SystemClock().now())
    except OSError as exc:
        raise fail(f"cannot fetch the parent's anchor from {url}: {exc}") from None
    if held is None:
        out.print("the parent holds no anchor of this chain yet")
        return

    async def check(session: AsyncSession) -> str | None:
        return await anchor.check(session, held)

    problem = run_db(settings, check)
    if problem:
        raise fail(problem)
    out.print(f"audit chain matches the parent's anchor at row {held.seq}")
