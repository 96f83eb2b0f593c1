"""`/login?next=` only ever links to our own pages: the "continue" link of a logged-in caller and the
`next` the login form sends follow the API's `landing` rule, so a crafted login link can neither run
script (`javascript:`) nor send the user off-site (`//host`, `https://host`, `/\\host`)."""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable

import httpx
import pytest

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


@pytest.mark.parametrize("wanted", HOSTILE)
async def test_login_page_drops_foreign_next(
    login: Callable[[str], Awaitable[httpx.AsyncClient]], client: httpx.AsyncClient, wanted: str
) -> None:
    op = await login("op-qingxi")
    for terminal, home in (("console", "/"), ("tv", "/tv"), ("mobile", "/m")):
        r = await op.get("/login", params={"terminal": terminal, "next": wanted})
        assert r.status_code == 200
        assert continue_link(r.text) == home, (terminal, wanted)
        assert form_next(r.text) == ""
    anonymous = await client.get("/login", params={"next": wanted})
    assert form_next(anonymous.text) == ""
    for page in (r.text, anonymous.text):  # no link of the page leaves the site or runs script
        for href in re.findall(r'href="([^"]*)"', page):
            target = html.unescape(href)
            assert target.startswith("/") and target[1:2] not in ("/", "\\"), target


OWN = [("/alarms", "/alarms"), ("/tv/", "/tv/"), ("/audit?x=1", "/audit")]


@pytest.mark.parametrize(("wanted", "kept"), OWN)
async def test_login_page_keeps_own_pages(
    login: Callable[[str], Awaitable[httpx.AsyncClient]], wanted: str, kept: str
) -> None:
    op = await login("op-qingxi")
    r = await op.get("/login", params={"next": wanted})
    assert continue_link(r.text) == kept
    assert form_next(r.text) == kept
    body = {"username": "op-qingxi", "password": "xueliang-demo", "next": wanted}
    landing = await op.post("/api/v1/auth/login", json=body)
    assert landing.json()["landing"] == kept  # the page and the API apply one rule
