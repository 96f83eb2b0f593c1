"""Second factors and sessions (issue 14): TOTP enrolment with recovery codes shown once, login with a
code (each code once, recovery codes once), the setting that makes it compulsory for admins, operators
and auditors, an admin's reset; a user's list of their sessions with revoke, an admin revoking anyone's
(audited, and the revoked session stops working at once)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tests.support.app import make_settings
from tests.support.db import seed_database
from xueliang.accounts.config import AccountSettings
from xueliang.accounts.mfa_models import MfaCredential
from xueliang.app import create_app
from xueliang.audit.models import AuditEvent
from xueliang.core.clock import ManualClock
from xueliang.seed.demo import DEMO_PASSWORD


@pytest.fixture(scope="module")
def mfa_url(make_db_url: Callable[[], str]) -> str:
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


def client(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("10.6.0.1", 4000))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def login(c: httpx.AsyncClient, username: str, otp: str = "") -> httpx.Response:
    r = await c.post("/api/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD, "otp": otp})
    if r.status_code == 200:
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return r


async def test_totp_enrolment_login_and_recovery_codes(mfa_url: str, tmp_path: Path) -> None:
    clock = ManualClock(datetime.now(UTC).replace(microsecond=0))
    creds = {"username": "op-shimen", "password": DEMO_PASSWORD}
    async with node(mfa_url, tmp_path, clock, mfa_required=True) as app, client(app) as c:
        r = await login(c, "op-shimen")
        assert r.status_code == 403 and r.json()["code"] == "mfa_enrollment_required", r.text
        assert (await login(c, "res-v01")).status_code == 200  # residents are not asked
        wrong = await c.post("/api/v1/auth/mfa/enroll", json={**creds, "password": "wrong-password"})
        assert wrong.status_code == 401
        r = await c.post("/api/v1/auth/mfa/enroll", json=creds)
        assert r.status_code == 200, r.text
        secret = r.json()["secret"]
        assert r.json()["otpauth_uri"].startswith("otpauth://totp/") and secret in r.json()["otpauth_uri"]
        totp = pyotp.TOTP(secret)
        assert (await login(c, "op-shimen")).json()["code"] == "mfa_enrollment_required"  # not confirmed yet
        r = await c.post("/api/v1/auth/mfa/confirm", json={**creds, "otp": "000000"})
        assert r.status_code == 401 and r.json()["code"] == "bad_otp"
        r = await c.post("/api/v1/auth/mfa/confirm", json={**creds, "otp": totp.at(clock.now())})
        assert r.status_code == 200, r.text
        codes = r.json()["recovery_codes"]
        assert len(codes) == 10 and len(set(codes)) == 10
        async with app.state.ctx.db.read_session() as session:
            stored = await session.scalar(select(MfaCredential.secret_sealed))
        assert stored is not None and secret not in stored  # sealed, not in clear
        again = await c.post("/api/v1/auth/mfa/enroll", json=creds)
        assert again.status_code == 409  # replacing a factor needs an admin's reset

        assert (await login(c, "op-shimen")).json()["code"] == "mfa_required"
        assert (await login(c, "op-shimen", "123456")).json()["code"] == "bad_otp"
        clock.advance(30)
        code = totp.at(clock.now())
        r = await login(c, "op-shimen", code)
        assert r.status_code == 200, r.text
        assert (await login(c, "op-shimen", code)).json()["code"] == "bad_otp"  # a code is good once
        status = (await c.get("/api/v1/me/mfa")).json()
        assert status == {"enrolled": True, "required": True, "recovery_codes_left": 10}
        r = await login(c, "op-shimen", codes[0].upper())
        assert r.status_code == 200, r.text  # a recovery code, any case...
        assert (await login(c, "op-shimen", codes[0])).json()["code"] == "bad_otp"  # ...once
        assert (await c.get("/api/v1/me/mfa")).json()["recovery_codes_left"] == 9

        async with client(app) as admin_client:
            clock.advance(30)
            admin_creds = {"username": "admin", "password": DEMO_PASSWORD}
            admin = await c.post("/api/v1/auth/mfa/enroll", json=admin_creds)
            admin_totp = pyotp.TOTP(admin.json()["secret"])
            await admin_client.post(
                "/api/v1/auth/mfa/confirm",
                json={**admin_creds, "otp": admin_totp.at(clock.now())},
            )
            clock.advance(30)
            assert (await login(admin_client, "admin", admin_totp.at(clock.now()))).status_code == 200
            users = {u["username"]: u["id"] for u in (await admin_client.get("/api/v1/users")).json()}
            reset = await admin_client.delete(f"/api/v1/users/{users['op-shimen']}/mfa")
            assert reset.status_code == 204
            assert (await c.get("/api/v1/me")).status_code == 401  # the reset ended the user's sessions
            assert (await admin_client.delete(f"/api/v1/users/{users['op-shimen']}/mfa")).status_code == 404
            assert (await admin_client.delete(f"/api/v1/users/{users['admin']}/mfa")).status_code == 204
        assert (await login(c, "op-shimen")).json()["code"] == "mfa_enrollment_required"


async def test_sessions_can_be_listed_and_revoked(mfa_url: str, tmp_path: Path) -> None:
    clock = ManualClock(datetime.now(UTC))
    async with (
        node(mfa_url, tmp_path, clock) as app,
        client(app) as phone,
        client(app) as tv,
        client(app) as admin,
        client(app) as other_admin,
    ):
        assert (await login(phone, "res-v03")).status_code == 200
        assert (await login(tv, "res-v03")).status_code == 200
        mine = (await phone.get("/api/v1/me/sessions")).json()
        assert len(mine) == 2 and sum(s["current"] for s in mine) == 1
        tv_session = next(s for s in mine if not s["current"])
        r = await phone.delete(f"/api/v1/me/sessions/{tv_session['id']}")
        assert r.status_code == 204
        assert (await tv.get("/api/v1/me")).status_code == 401  # at once, not when the cache expires
        assert (await phone.get("/api/v1/me")).status_code == 200

        assert (await login(admin, "admin")).status_code == 200
        assert (await login(other_admin, "op-qingxi")).status_code == 200
        users = {u["username"]: u["id"] for u in (await admin.get("/api/v1/users")).json()}
        admin_sessions = (await admin.get("/api/v1/me/sessions")).json()
        # someone else's session is answered like a missing one
        r = await phone.delete(f"/api/v1/me/sessions/{admin_sessions[0]['id']}")
        assert r.status_code == 404 and r.json()["code"] == "not_found"
        assert (await phone.get(f"/api/v1/users/{users['res-v03']}/sessions")).status_code == 403

        listed = (await admin.get(f"/api/v1/users/{users['res-v03']}/sessions")).json()
        assert [s["id"] for s in listed] == [s["id"] for s in mine if s["current"]]
        r = await admin.delete(f"/api/v1/users/{users['res-v03']}/sessions/{listed[0]['id']}")
        assert r.status_code == 204
        assert (await phone.get("/api/v1/me")).status_code == 401
        assert (await login(phone, "res-v03")).status_code == 200
        assert (await admin.delete(f"/api/v1/users/{users['res-v03']}/sessions")).status_code == 204
        assert (await phone.get("/api/v1/me")).status_code == 401
        # an operator's scope is their township: a user elsewhere is not there
        assert (await other_admin.get(f"/api/v1/users/{users['admin']}/sessions")).status_code in (403, 404)

        async with app.state.ctx.db.read_session() as session:
            actions = list(
                await session.scalars(
                    select(AuditEvent.action).where(
                        AuditEvent.action.in_(["auth.session_revoke", "user.sessions_view"]),
                        AuditEvent.target_id == str(users["res-v03"]),
                    )
                )
            )
        assert actions.count("auth.session_revoke") == 3 and actions.count("user.sessions_view") == 1
