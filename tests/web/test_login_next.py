"""`/login?next=` only ever links to our own pages: the "continue" link of a logged-in caller and the
`next` the login form sends follow the API's `landing` rule, so a crafted login link can neither run
script (`javascript:`) nor send the user off-site (`//host`, `https://host`, `/\\host`)."""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute

from xueliang.accounts.views import allowed_next

HOSTILE = [
    "javascript:alert(document.domain)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "//evil.example",
    "//evil.example/tv",
    "https://evil.example",
    "http://evil.example/m",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "///evil.example",
    "evil.example",
]


def continue_link(page: str) -> str:
    found = re.search(r'<p class="login-already">.*?<a href="([^"]*)"', page, re.S)
    assert found, "a logged-in caller gets a continue link"
    return html.unescape(found.group(1))


def form_next(page: str) -> str:
    found = re.search(r'<form id="login-form"[^>]*data-next="([^"]*)"', page)
    assert found
    return html.unescape(found.group(1))


async def test_login_page_drops_foreign_next(
    login: Callable[[str], Awaitable[httpx.AsyncClient]], client: httpx.AsyncClient
) -> None:
    """Every hostile `next` against one app (an app per case cost a second each, twice per `make test`)."""
    op = await login("op-qingxi")
    for wanted in HOSTILE:
        for terminal, home in (("console", "/"), ("tv", "/tv"), ("mobile", "/m")):
            r = await op.get("/login", params={"terminal": terminal, "next": wanted})
            assert r.status_code == 200
            assert continue_link(r.text) == home, (terminal, wanted)
            assert form_next(r.text) == "", wanted
        anonymous = await client.get("/login", params={"next": wanted})
        assert form_next(anonymous.text) == "", wanted
        for page in (r.text, anonymous.text):  # no link of the page leaves the site or runs script
            for href in re.findall(r'href="([^"]*)"', page):
                target = html.unescape(href)
                assert target.startswith("/") and target[1:2] not in ("/", "\\"), (wanted, target)


OWN = [("/alarms", "/alarms"), ("/tv/", "/tv/"), ("/audit?x=1", "/audit")]


async def test_login_page_keeps_own_pages(login: Callable[[str], Awaitable[httpx.AsyncClient]]) -> None:
    op = await login("op-qingxi")
    for wanted, kept in OWN:
        r = await op.get("/login", params={"next": wanted})
        assert continue_link(r.text) == kept, wanted
        assert form_next(r.text) == kept, wanted
        body = {"username": "op-qingxi", "password": "xueliang-demo", "next": wanted}
        landing = await op.post("/api/v1/auth/login", json=body)
        assert landing.json()["landing"] == kept, wanted  # the page and the API apply one rule


async def test_every_page_that_asks_for_a_login_is_a_page_login_returns_to(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """A page that sends an anonymous caller to /login?next=<itself> must be accepted as `next`, or the
    user lands somewhere else after logging in (a new domain's page forgotten in ALLOWED_NEXT)."""
    pages = [
        route.path
        for route in app.routes
        if isinstance(route, APIRoute)
        and "GET" in (route.methods or set())
        and "{" not in route.path
        and not route.path.startswith(("/api/", "/static"))
    ]
    asking = []
    for path in pages:
        r = await client.get(path, follow_redirects=False)
        location = r.headers.get("location", "")
        if r.status_code in (302, 303, 307) and location.startswith("/login"):
            asking.append(path)
            assert allowed_next(path) == path, f"{path} asks for a login but login will not return there"
    assert {"/", "/tv", "/m", "/grid", "/portal"} <= set(asking), asking
