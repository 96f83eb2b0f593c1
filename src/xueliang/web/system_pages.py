"""The admin console's system page (/system): disk, recording health, cameras offline, node CPU and
memory; the data comes from `GET /api/v1/ops/system` (ops/system.py), refreshed every 5 s by
static/js/system/console.js. A role that may not manage users gets the page as missing (404), as the
API answers it with a refusal."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from xueliang.accounts.deps import caller_from_request
from xueliang.accounts.policy import Permission, allows
from xueliang.web.pages import Render

NOT_FOUND = {"code": "not_found", "message": "not found"}


def mount(app: FastAPI, render: Render) -> None:
    @app.get("/system", include_in_schema=False)
    async def system_console(request: Request) -> Response:
        caller = await caller_from_request(request)
        if caller is not None and not allows(caller.principal, Permission.manage_users):
            return JSONResponse(NOT_FOUND, status_code=404)
        return await render(request, "system.html", "console", section="system")
