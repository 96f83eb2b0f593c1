"""Every API route with an integer id in its path or query answers an id that no column can hold with
422 and the documented JSON body, never a driver error and a 500 (issue 14). The routes come from the
OpenAPI document, so a new route is covered when it is added."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from fastapi import FastAPI

Login = Callable[..., Awaitable[httpx.AsyncClient]]
TOO_BIG = (2**31, 2**63)  # the first id a PostgreSQL INTEGER cannot hold; the first SQLite cannot


def id_requests(app: FastAPI) -> list[tuple[str, str, dict[str, str]]]:
    document: dict[str, Any] = app.openapi()
    found: list[tuple[str, str, dict[str, str]]] = []
    for template, operations in document["paths"].items():
        for method, operation in operations.items():
            params = operation.get("parameters", [])
            ids = [p for p in params if p["name"].endswith("_id") and _is_int(p["schema"])]
            for param in ids:
                for value in TOO_BIG:
                    values = {p["name"]: "1" for p in params if p["in"] == "path"}
                    if param["in"] == "path":
                        values[param["name"]] = str(value)
                        found.append((method.upper(), _fill(template, values), {}))
                    else:
                        found.append((method.upper(), _fill(template, values), {param["name"]: str(value)}))
    return found


def _is_int(schema: dict[str, Any]) -> bool:
    options = schema.get("anyOf", [schema])
    return any(o.get("type") == "integer" for o in options)


def _fill(template: str, values: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template)


async def test_ids_no_column_can_hold_are_422_on_every_route(app: FastAPI, login: Login) -> None:
    admin = await login("admin")
    requests = [*id_requests(app), ("GET", "/api/v1/audit", {"before_seq": str(2**63)})]  # a 64-bit seq
    assert len(requests) >= 40, requests
    wrong = []
    for method, path, query in requests:
        body = {} if method in ("POST", "PUT", "PATCH") else None
        try:
            r = await admin.request(method, path, params=query, json=body)
        except Exception as exc:  # the in-process transport raises what a server would answer 500 to
            wrong.append((method, path, query, 500, repr(exc)[:120]))
            continue
        if r.status_code != 422 or r.json().get("code") != "invalid":
            wrong.append((method, path, query, r.status_code, r.text[:120]))
    assert not wrong, wrong
