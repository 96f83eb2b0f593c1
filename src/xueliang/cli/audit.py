"""`xueliang audit`: the audit trail."""

from __future__ import annotations

import typer

from xueliang.audit import service as audit
from xueliang.cli.support import ConfigOpt, fail, out, run_db, settings_from

audit_app = typer.Typer(help="Audit trail.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(config: ConfigOpt = None) -> None:
    """Check the hash chain; report the first broken link."""
    result = run_db(settings_from(config), audit.verify)
    if not result.ok:
        raise fail(
            f"audit chain broken at row {result.broken_seq}: {result.reason} "
            f"({result.checked} rows verified before it)"
        )
    out.print(f"audit chain intact: {result.checked} rows verified")
