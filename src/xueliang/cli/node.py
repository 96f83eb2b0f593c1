"""`xueliang node`: join this node to a parent, invite and revoke children, show the links."""

from __future__ import annotations

import base64
from typing import Annotated, Any

import typer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.audit import service as audit
from xueliang.cli.support import CliError, ConfigOpt, cli_actor, fail, out, run_db, settings_from
from xueliang.core.clock import SystemClock
from xueliang.federation import enroll
from xueliang.federation.identity import NodeIdentity, local_gb_id
from xueliang.federation.link import link_status
from xueliang.federation.natsd import signal_restart
from xueliang.nodes.models import Node
from xueliang.regions.models import Region

node_app = typer.Typer(help="Federation: this node's parent and children.", no_args_is_help=True)


@node_app.command("invite")
def node_invite(
    region: Annotated[str | None, typer.Option(help="only a child of this region code may use it")] = None,
    minutes: Annotated[int | None, typer.Option(help="minutes until the code expires")] = None,
    config: ConfigOpt = None,
) -> None:
    """Print a one-time enrollment code for a child node (stored hashed; it expires)."""
    settings = settings_from(config)

    async def job(session: AsyncSession) -> str:
        now = SystemClock().now()
        code = await enroll.create_invite(session, now, minutes or settings.federation.invite_minutes, region)
        await audit.append(session, cli_actor(), "node.invite", at=now, detail={"region": region})
        await session.commit()
        return code

    code = run_db(settings, job)
    out.print(code, highlight=False)


@node_app.command("join")
def node_join(
    parent_url: str,
    code: str,
    region: Annotated[
        str | None, typer.Option(help="this node's region code (default: its node row's)")
    ] = None,
    name: Annotated[str | None, typer.Option(help="this node's name (default: its node row's)")] = None,
    config: ConfigOpt = None,
) -> None:
    """Enroll this node at its parent with the code the parent's operator gave."""
    settings = settings_from(config)

    async def whoami(session: AsyncSession) -> tuple[str, str, str]:
        gb = await local_gb_id(session, settings.federation.node_gb_id)
        row = (
            await session.execute(
                select(Node.name, Region.code)
                .join(Region, Region.id == Node.region_id)
                .where(Node.gb_id == gb)
            )
        ).first()
        region_code = region or (row[1] if row else None)
        if region_code is None:
            raise CliError(f"node {gb} has no node row here: give --region")
        return gb, name or (row[0] if row else gb), region_code

    gb, my_name, region_code = run_db(settings, whoami)
    identity = NodeIdentity.load(gb, settings.data_dir)
    sig = identity.sign(enroll.join_text(code, gb, identity.public_key_hex, region_code))
    body = enroll.JoinIn(
        code=code,
        gb_id=gb,
        name=my_name,
        region_code=region_code,
        public_key=identity.public_key_hex,
        signature=base64.b64encode(sig).decode(),
    )
    try:
        answer = enroll.post_join(parent_url, body)
    except enroll.JoinFailed as exc:
        raise fail(str(exc)) from None

    async def store(session: AsyncSession) -> None:
        now = SystemClock().now()
        await enroll.store_parent(
            session, identity, parent_url, answer, settings.data_dir, now, region_code, my_name
        )
        await audit.append(
            session, cli_actor(), "node.join", at=now, detail={"parent": answer.gb_id, "url": parent_url}
        )
        await session.commit()

    run_db(settings, store)
    out.print(f"joined {answer.name} ({answer.gb_id}); restart this node to start the link", highlight=False)


@node_app.command("revoke")
def node_revoke(gb_id: str, config: ConfigOpt = None) -> None:
    """Cut a child off at once: its key is refused and its NATS credentials stop working."""
    settings = settings_from(config)

    async def job(session: AsyncSession) -> None:
        node = await session.scalar(select(Node).where(Node.gb_id == gb_id))
        if node is None or node.public_key is None:
            raise CliError(f"no enrolled node {gb_id}")
        if node.revoked_at is not None:
            raise CliError(f"node {gb_id} was revoked already")
        now = SystemClock().now()
        node.revoked_at = now
        await audit.append(session, cli_actor(), "node.revoke", at=now, target_type="node", target_id=gb_id)
        await session.commit()

    run_db(settings, job)
    restarted = signal_restart(settings.data_dir / "nats")
    tail = "; its link is closed" if restarted else " (the node is not running: it takes effect at start)"
    out.print(f"revoked {gb_id}{tail}", highlight=False)


@node_app.command("status")
def node_status(config: ConfigOpt = None) -> None:
    """Each link: connected since, lag, queue length, last error."""
    settings = settings_from(config)

    async def job(session: AsyncSession) -> list[dict[str, Any]]:
        gb = await local_gb_id(session, settings.federation.node_gb_id)
        return await link_status(session, gb, settings.data_dir, SystemClock().now())

    links = run_db(settings, job)
    if not links:
        out.print("no links: this node has no enrolled parent or child")
        return
    for link in links:
        state = (
            "revoked"
            if link["revoked"]
            else (f"connected since {link['connected_since']}" if link["connected_since"] else "down")
        )
        out.print(
            f"{link['role']:6} {link['gb_id']} {link['name']}: {state}; queue {link['queue']}, "
            f"lag {link['lag_s']} s; last error: {link['last_error'] or '-'}",
            highlight=False,
        )
