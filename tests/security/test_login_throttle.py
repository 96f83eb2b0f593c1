"""Login throttling by delay (issue 14, item 8): failures slow the next try, per account and per
address, twice as long each time up to a cap; the right password works once the delay has passed (a
hard lock refused it for 15 minutes); the delay holds across processes (another app on the same
database); the client address is taken from X-Forwarded-For only when the peer is a trusted proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.support.app import make_settings
from tests.support.db import seed_database
from xueliang.accounts.config import AccountSettings
from xueliang.accounts.deps import forwarded_client
from xueliang.accounts.throttle import Rule
from xueliang.app import create_app
from xueliang.audit.models import AuditEvent
from xueliang.core.clock import ManualClock
from xueliang.seed.demo import DEMO_PASSWORD
from xueliang.server import uvicorn_config

WRONG = "not-the-password"


@pytest.fixture(scope="module")
def throttle_url(make_db_url: Callable[[], str]) -> str:
    url = make_db_url()
    seed_database(url)
    return url


@asynccontextmanager
async def node(url: str, data_dir: Path, clock: ManualClock, **accounts: object) -> AsyncIterator[FastAPI]:
    app = create_app(
        make_settings(url, data_dir, accounts=AccountSettings(**accounts)),  # type: ignore[arg-type]
        clock=clock,
        migrate_on_start=False,
    )
    async with app.router.lifespan_context(app):
        yield app


def from_address(app: FastAPI, address: str, **headers: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 4000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver", headers=headers)


async def try_login(client: httpx.AsyncClient, username: str, password: str) -> int:
    r = await client.post("/api/v1/auth/login", json={"username": username, "password": password})
    if r.status_code == 429:
        assert r.json()["code"] == "login_locked" and " s" in r.json()["message"], r.text
    return r.status_code


def test_the_delay_doubles_up_to_its_cap() -> None:
    rule = Rule(free=3, first_s=1.0, max_s=30.0)
    assert [rule.delay(n) for n in range(9)] == [0, 0, 0, 1, 2, 4, 8, 16, 30]
    assert rule.delay(10_000) == 30.0


async def test_the_right_password_works_after_the_delay_from_any_process(
    throttle_url: str, tmp_path: Path
) -> None:
    clock = ManualClock(datetime.now(UTC))
    per_account_only = {"login_free_failures_per_address": 100}  # the address's own delay is tested below
    async with (
        node(throttle_url, tmp_path / "a", clock, **per_account_only) as first,
        node(throttle_url, tmp_path / "b", clock, **per_account_only) as second,
        from_address(first, "10.8.0.1") as attacker,
        from_address(second, "10.8.0.2") as owner,
        from_address(second, "10.8.0.3") as traveller,
    ):
        for _ in range(3):  # free failures: no delay
            assert await try_login(attacker, "gw-03", WRONG) == 401
        # 3 failures: 1 s to wait, and the other process knows it (the failures are in the database)
        assert await try_login(owner, "gw-03", DEMO_PASSWORD) == 429
        assert await try_login(attacker, "gw-03", WRONG) == 429  # refused tries do not count...
        clock.advance(1.1)
        assert await try_login(attacker, "gw-03", WRONG) == 401  # ...so this is the 4th failure: 2 s
        clock.advance(1.1)
        assert await try_login(owner, "gw-03", DEMO_PASSWORD) == 429
        clock.advance(1.0)
        assert await try_login(owner, "gw-03", DEMO_PASSWORD) == 200  # never locked out for long
        assert await try_login(attacker, "gw-03", WRONG) == 401  # a success starts the account afresh
        for _ in range(12):  # a long attack: the wait grows but stops at the cap (30 s)
            clock.advance(30.0)
            assert await try_login(attacker, "gw-03", WRONG) == 401
        # from an address it never logged in from, the account waits at most the cap...
        assert await try_login(traveller, "gw-03", DEMO_PASSWORD) == 429
        clock.advance(29.0)
        assert await try_login(traveller, "gw-03", DEMO_PASSWORD) == 429
        clock.advance(1.1)
        assert await try_login(traveller, "gw-03", DEMO_PASSWORD) == 200
        for _ in range(6):
            clock.advance(30.0)
            assert await try_login(attacker, "gw-03", WRONG) == 401
        # ...and where it has logged in before, the attacker's failures do not hold it up at all
        assert await try_login(owner, "gw-03", DEMO_PASSWORD) == 200


async def test_an_address_is_slowed_across_accounts_and_proxies_are_believed_only_if_trusted(
    throttle_url: str, tmp_path: Path
) -> None:
    clock = ManualClock(datetime.now(UTC))
    settings = {"trusted_proxies": ["10.7.0.0/24"], "login_free_failures_per_address": 4}
    async with node(throttle_url, tmp_path, clock, **settings) as app:
        proxy = "10.7.0.5"
        async with (
            from_address(app, proxy, **{"X-Forwarded-For": "198.51.100.7"}) as behind_proxy,
            from_address(app, proxy, **{"X-Forwarded-For": "198.51.100.8"}) as neighbour,
            from_address(app, "203.0.113.9", **{"X-Forwarded-For": "198.51.100.7"}) as spoofer,
        ):
            for name in ("gw-04", "gw-05", "gw-06", "gw-07"):
                assert await try_login(behind_proxy, name, WRONG) == 401
            # the address behind the proxy waits, for every account...
            assert await try_login(behind_proxy, "gw-08", DEMO_PASSWORD) == 429
            # ...but not everyone behind the same proxy, nor someone who only claims that address
            assert await try_login(neighbour, "gw-08", DEMO_PASSWORD) == 200
            assert await try_login(spoofer, "gw-09", DEMO_PASSWORD) == 200
        async with app.state.ctx.db.read_session() as session:
            addresses = set(
                await session.scalars(
                    select(AuditEvent.address).where(
                        AuditEvent.actor.in_(["gw-04", "gw-08", "gw-09"]), AuditEvent.at >= clock.now()
                    )
                )
            )
        assert addresses == {"198.51.100.7", "198.51.100.8", "203.0.113.9"}


def test_forwarded_for_is_read_from_the_nearest_hop() -> None:
    trusted = ("10.0.0.0/8", "::1")
    assert forwarded_client("10.0.0.1", ["1.1.1.1, 2.2.2.2"], trusted) == "2.2.2.2"  # not the left
    assert forwarded_client("10.0.0.1", ["1.1.1.1", "2.2.2.2, 10.0.0.9"], trusted) == "2.2.2.2"
    assert forwarded_client("8.8.8.8", ["1.1.1.1"], trusted) == "8.8.8.8"  # untrusted peer
    assert forwarded_client("10.0.0.1", [], trusted) == "10.0.0.1"
    assert forwarded_client("::1", ["garbage"], trusted) == "garbage"
    assert forwarded_client("10.0.0.1", ["1.1.1.1"], ()) == "10.0.0.1"  # no proxies configured


def test_trusted_proxies_must_be_addresses() -> None:
    with pytest.raises(ValueError, match="not an IP address"):
        AccountSettings(trusted_proxies=["proxy.example"])


def test_serve_believes_forwarded_headers_only_from_trusted_proxies(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}"
    plain = uvicorn_config(FastAPI(), make_settings(url, tmp_path))
    assert plain.proxy_headers is False  # uvicorn's default would trust 127.0.0.1 (or $FORWARDED_ALLOW_IPS)
    behind = make_settings(url, tmp_path, accounts=AccountSettings(trusted_proxies=["10.7.0.0/24"]))
    config = uvicorn_config(FastAPI(), behind)
    assert config.proxy_headers is True and config.forwarded_allow_ips == ["10.7.0.0/24"]
