"""The global route matrix (issue 14): every route of the node, in every domain and every process role,
is named in exactly one registry of tests/security/route_matrix.py with the policy it is meant to have,
and the node is asked whether it keeps it:

- completeness: a route no registry names (a domain's new route), one named twice, or one named that
  no longer exists fails here, whoever added it;
- every parameterless GET (API and pages): exactly the declared roles get through, every other role is
  refused (403, or 404 where the route hides itself), an anonymous caller is sent to log in;
- every scoped route with an id that no domain matrix already asks: a user of another area gets exactly
  what a missing id gets (404, the same body), for objects of the demo county made or read here.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, APIWebSocketRoute, iter_route_contexts
from sqlalchemy import select
from starlette.routing import Mount, Route, WebSocketRoute
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from tests.security.route_matrix import EVERYONE, REGISTRIES, ROLE_USER, Policy
from tests.support import db
from tests.support.alarms import Login, logins_to
from tests.support.app import LiveServer, make_settings
from tests.support.db import seed_database
from xueliang.accounts.deps import SESSION_COOKIE
from xueliang.alarms.config import AlarmSettings
from xueliang.alarms.models import MobilizationTask
from xueliang.app import create_app
from xueliang.cameras.models import Camera
from xueliang.media.config import MediaSettings
from xueliang.recordings.models import ExportState, RecordingExport
from xueliang.regions.models import Region
from xueliang.seed.demo import DEMO_PASSWORD

ROOT = Path(__file__).resolve().parents[2]
MISSING = 2**31 - 1
Key = tuple[str, str]


def route_keys(app: FastAPI) -> set[Key]:
    """(method, path template) of every route: HTTP methods (HEAD goes with GET), "WS" for WebSockets,
    a mount as GET of its prefix."""
    keys: set[Key] = set()
    for rc in iter_route_contexts(app.routes):
        route, path = rc.original_route, rc.path or ""
        if isinstance(route, APIWebSocketRoute | WebSocketRoute):
            keys.add(("WS", path))
        elif isinstance(route, Mount):
            keys.add(("GET", path))
        elif isinstance(route, APIRoute | Route):
            keys |= {(m, path) for m in rc.methods or () if m != "HEAD"}
        else:  # a kind of route this walk does not know must not slip through unseen
            keys.add(("?", f"{type(route).__name__} {path}"))
    return keys


def every_route() -> set[Key]:
    """The routes of the app as each process role builds it (media engine and alarm services on)."""
    full = {"media": MediaSettings(enabled=True), "alarms": AlarmSettings()}
    keys: set[Key] = set()
    # "all" (one process) has every route but one: --role web's redirect of live requests to the media
    # process that owns the camera; --role media and worker build subsets of "all".
    for url, role in (
        ("sqlite+aiosqlite:///unused.db", "all"),
        ("postgresql+asyncpg://nobody@127.0.0.1:1/unused", "web"),
    ):
        app = create_app(make_settings(url, Path("unused"), role=role, **full), migrate_on_start=False)
        keys |= route_keys(app)
    return keys


def test_every_route_is_in_exactly_one_registry() -> None:
    routes = every_route()
    assert len(routes) >= 200, len(routes)
    named: dict[Key, list[str]] = {}
    for name, registry in REGISTRIES.items():
        for key in registry:
            named.setdefault(key, []).append(name)
    uncovered = sorted(routes - set(named))
    twice = sorted((k, v) for k, v in named.items() if len(v) > 1)
    gone = sorted(set(named) - routes)
    assert not uncovered, "routes no registry of tests/security/route_matrix.py names:\n" + "\n".join(
        f"  {m} {p}" for m, p in uncovered
    )
    assert not twice, f"routes named in two registries: {twice}"
    assert not gone, f"registry entries for routes that no longer exist: {gone}"


def test_every_policy_is_complete() -> None:
    """A scoped route says where its other-area request is made; that test exists; "here" entries say
    how to fill their path parameters; a token or public route says why."""
    for registry in REGISTRIES.values():
        for (method, path), policy in registry.items():
            where = f"{method} {path}"
            assert policy.roles and policy.roles <= EVERYONE, where
            if policy.kind in ("public", "token"):
                assert policy.why, where
            if policy.kind != "scoped":
                continue
            assert policy.scopes and policy.checked, where
            if policy.checked == "here":
                assert set(re.findall(r"\{(\w+)", path)) == set(policy.params), where
            else:
                assert (ROOT / policy.checked).is_file(), where


# -- asked of a running node ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def matrix_url(make_db_url: Callable[[], str]) -> str:
    """A copy of the demo county of its own: the other-area requests would change shared data if a
    policy failed, and the facts below add an alarm, a lock and a user."""
    url = make_db_url()
    seed_database(url)
    return url


@pytest.fixture
async def mapp(matrix_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    app = create_app(make_settings(matrix_url, tmp_path), migrate_on_start=False)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def mlogin(mapp: FastAPI) -> AsyncIterator[Login]:
    async with logins_to(mapp) as do:
        yield do


def anonymous(app: FastAPI) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50010))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


def refused(r: httpx.Response) -> bool:
    return r.status_code in (403, 404)


def reached(r: httpx.Response) -> bool:
    """Past the role check: an answer, a 422 on the query, or a 404 of the route's own (a feature that
    is off on this node, such as federation) rather than the plain `not_found` a refusal hides behind."""
    if r.status_code < 400 or r.status_code == 422:
        return True
    return r.status_code == 404 and r.json().get("code") not in ("not_found", None)


@pytest.mark.skipif(db.BACKEND != "sqlite", reason="role checks are the same on both backends: SQLite pass")
async def test_parameterless_gets_let_exactly_the_declared_roles_in(mapp: FastAPI, mlogin: Login) -> None:
    clients = {role: await mlogin(username) for role, username in ROLE_USER.items()}
    resident = clients["resident"]
    here = route_keys(mapp)  # the test's node runs no media engine: its live routes are not there
    problems: list[str] = []
    asked = 0
    async with anonymous(mapp) as anon:
        for name, registry in REGISTRIES.items():
            for (method, path), policy in registry.items():
                if method != "GET" or "{" in path or path == "/static" or policy.kind in ("token", "scoped"):
                    continue
                if (method, path) not in here:
                    continue
                asked += 1
                r = await anon.get(path, params=policy.query, follow_redirects=False)
                if policy.kind == "public":
                    ok = r.status_code < 400 or r.status_code == 422
                elif r.status_code == 303:  # a page: to the login page, which comes back here
                    ok = r.headers["location"].startswith("/login") and not path.startswith("/api/")
                else:
                    ok = r.status_code == 401 and r.json().get("code") == "not_logged_in"
                if not ok:
                    problems.append(f"anonymous {path} ({name}, {policy.kind}) -> {r.status_code}")
                # role routes: every role; a page for everyone: one role shows that a session gets in
                # (everyone's API routes are every domain's daily bread, and some are dear to start:
                # the portal's search index)
                if policy.kind == "roles":
                    askers = list(clients.items())
                else:
                    askers = [] if path.startswith("/api/") else [("resident", resident)]
                for role, c in askers:
                    r = await c.get(path, params=policy.query, follow_redirects=False)
                    let_in = policy.kind in ("public", "user") or role in policy.roles
                    got_in = reached(r)
                    if let_in != got_in or (not got_in and not refused(r)):
                        problems.append(f"{role} {path} ({name}: {sorted(policy.roles)}) -> {r.status_code}")
    assert asked >= 70, asked
    assert not problems, "\n".join(problems)


@pytest.mark.skipif(db.BACKEND != "sqlite", reason="role checks are the same on both backends: SQLite pass")
def test_websockets_let_exactly_the_declared_roles_in(live_server: LiveServer) -> None:
    """Each WebSocket of the running node (the real server: the handshake is HTTP), asked without a
    session and as each role: refused (the handshake answered 403) or let in, as the registry says."""
    app = live_server.server.config.app
    assert isinstance(app, FastAPI)
    here = route_keys(app)
    sockets = [(p, policy) for r in REGISTRIES.values() for (m, p), policy in r.items() if m == "WS"]
    sockets = [(p, policy) for p, policy in sockets if ("WS", p) in here]
    assert len(sockets) >= 3, sockets
    cookies = {}
    with httpx.Client(base_url=live_server.url, timeout=20) as c:
        for role, username in ROLE_USER.items():
            r = c.post("/api/v1/auth/login", json={"username": username, "password": DEMO_PASSWORD})
            assert r.status_code == 200, r.text
            cookies[role] = r.cookies[SESSION_COOKIE]
            c.cookies.clear()

    def let_in(path: str, cookie: str | None) -> bool:
        headers = {"Cookie": f"{SESSION_COOKIE}={cookie}"} if cookie else {}
        url = live_server.url.replace("http", "ws", 1) + path
        try:
            with connect(url, additional_headers=headers, open_timeout=20):
                return True
        except InvalidStatus as refused:
            assert refused.response.status_code == 403, (path, refused.response.status_code)
            return False

    problems = []
    for path, policy in sockets:
        if let_in(path, None):
            problems.append(f"anonymous {path}")
        askers = cookies.items() if policy.kind == "roles" else [("resident", cookies["resident"])]
        for role, cookie in askers:
            expected = policy.kind == "user" or role in policy.roles
            if let_in(path, cookie) != expected:
                problems.append(f"{role} {path}: expected {'in' if expected else 'refused'}")
    assert not problems, problems


async def facts_of(app: FastAPI, login: Login) -> dict[str, int]:
    """Objects of Qingxi township (513223101) and its village 1, made or looked up; the other-area
    users are of Shimen township (513223102)."""
    op, resident = await login("op-qingxi"), await login("res-v01")
    alarm = await resident.post("/api/v1/alarms", json={"uuid": str(uuid.uuid4()), "source": "app"})
    assert alarm.status_code in (200, 201), alarm.text
    facts = {"alarm": int(alarm.json()["alarm"]["id"])}
    assert (await op.post(f"/api/v1/alarms/{facts['alarm']}/mobilize")).status_code == 201
    async with app.state.ctx.db.read_session() as s:
        regions = {code: rid for code, rid in (await s.execute(select(Region.code, Region.id))).all()}
        facts["township"], facts["village"] = regions["513223101"], regions["513223101201"]
        facts["camera"] = await s.scalar(
            select(Camera.id).join(Region, Region.id == Camera.region_id).where(Region.code == "513223101201")
        )
        facts["task"] = await s.scalar(select(MobilizationTask.id))
    now = datetime.now(UTC).replace(microsecond=0)
    span = {
        "camera_id": facts["camera"],
        "from": (now - timedelta(hours=1)).isoformat(),
        "to": now.isoformat(),
    }
    lock = await op.post("/api/v1/recordings/locks", json={**span, "reason": "matrix"})
    assert lock.status_code == 201, lock.text
    facts["lock"] = lock.json()["id"]
    async with app.state.ctx.db.session() as s:  # an export needs recorded video: a finished one's row
        export = RecordingExport(
            camera_id=facts["camera"],
            starts_at=now - timedelta(hours=1),
            ends_at=now,
            reason="matrix",
            user_id=None,
            username="op-qingxi",
            created_at=now,
            state=ExportState.failed,
        )
        s.add(export)
        await s.commit()
        facts["export"] = export.id
    assert all(isinstance(v, int) for v in facts.values()), facts
    return facts


async def test_another_area_gets_what_a_missing_id_gets(mapp: FastAPI, mlogin: Login) -> None:
    """...and the roles the registry leaves out are refused on the real object (403 or 404), even in its
    own village; its own township's operator reaches it (so the ids are real)."""
    facts = await facts_of(mapp, mlogin)
    clients: dict[str, httpx.AsyncClient] = {}

    async def as_user(username: str) -> httpx.AsyncClient:
        if username not in clients:
            clients[username] = await mlogin(username)
        return clients[username]

    problems: list[str] = []
    asked = 0
    for name, registry in REGISTRIES.items():
        for (method, path), policy in registry.items():
            if policy.kind != "scoped" or policy.checked != "here":
                continue
            asked += 1
            c = await as_user(policy.foreign)
            real = fill(path, policy, facts)
            missing = fill(path, policy, facts, missing=True)
            kwargs: dict[str, Any] = {"params": policy.query}
            if policy.body is not None:
                kwargs["json"] = policy.body
            where = f"{method} {path} ({name})"
            other = await c.request(method, real, **kwargs)
            gone = await c.request(method, missing, **kwargs)
            if gone.status_code != 404 or gone.json().get("code") != "not_found":
                problems.append(f"{where} missing id -> {gone.status_code} {gone.text[:80]}")
            elif (other.status_code, other.json()) != (404, gone.json()):
                problems.append(
                    f"{where} as {policy.foreign} -> {other.status_code} {other.text[:80]} "
                    f"(missing: {gone.text[:80]})"
                )
            for role in sorted(EVERYONE - policy.roles):
                r = await (await as_user(ROLE_USER[role])).request(method, real, **kwargs)
                if not refused(r):
                    problems.append(f"{where} as {role} -> {r.status_code} {r.text[:80]}")
            if method == "GET":  # the fact is real: its own area reaches it
                own = await (await as_user("op-qingxi")).get(real, params=policy.query)
                if own.status_code != 200:
                    problems.append(f"{where} as op-qingxi -> {own.status_code} {own.text[:80]}")
    assert asked >= 20, asked
    assert not problems, "\n".join(problems)


def fill(path: str, policy: Policy, facts: dict[str, int], missing: bool = False) -> str:
    """The path with its parameters: the fact's id (for the first id, MISSING when asked), or a literal."""
    first = True

    def one(m: re.Match[str]) -> str:
        nonlocal first
        value = policy.params[m[1]]
        if value not in facts:
            return value
        out = MISSING if missing and first else facts[value]
        first = False
        return str(out)

    return re.sub(r"\{(\w+)(?::\w+)?\}", one, path)
