"""Every API route of every domain, asked without a session, answers 401 `not_logged_in` — never data,
never a 500. Routes that take a signed `token` instead of a session (playback, export downloads) answer
a 4xx without one (their token checks are tested with their domain).
The routes come from the OpenAPI document, so a route a new domain adds is covered when it is added;
the few that are public on purpose are named here with the reason."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi import FastAPI

# Public on purpose: logging in, and what a login page or a device needs before it has a session.
PUBLIC = {
    ("POST", "/api/v1/auth/login"),  # the login itself
    ("POST", "/api/v1/auth/token"),  # devices' bearer token, from credentials
    ("POST", "/api/v1/auth/logout"),  # ends a session if there is one; harmless without
    ("POST", "/api/v1/auth/mfa/enroll"),  # second-factor enrolment checks the password itself
    ("POST", "/api/v1/auth/mfa/confirm"),  # ... and the code
    ("POST", "/api/v1/federation/join"),  # a child node enrolls with a one-time code and its key
    ("GET", "/api/v1/federation/anchor"),  # a child node asks with a request signed by its node key
}


def _fill(template: str) -> str:
    return re.sub(r"\{(\w+)\}", "1", template)


async def test_every_api_route_refuses_an_anonymous_caller(app: FastAPI, client: httpx.AsyncClient) -> None:
    document: dict[str, Any] = app.openapi()
    asked = 0
    problems = []
    for template, operations in document["paths"].items():
        for method in operations:
            key = (method.upper(), template)
            if key in PUBLIC:
                continue
            asked += 1
            body: dict[str, Any] | None = {} if key[0] in ("POST", "PUT", "PATCH") else None
            r = await client.request(key[0], _fill(template), json=body)
            token_route = any(p["name"] == "token" for p in operations[method].get("parameters", []))
            refused = 400 <= r.status_code < 500 if token_route else r.status_code == 401
            if not refused or (not token_route and r.json().get("code") != "not_logged_in"):
                problems.append((key, r.status_code, r.text[:100]))
    assert asked >= 150, asked  # 175 today (180 operations, 5 public)
    assert not problems, "\n".join(f"{k[0]} {k[1]} -> {s}: {t}" for k, s, t in problems)
