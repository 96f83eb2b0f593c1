"""The admin console's cascade page (/cascade): each upper (provincial) GB/T 28181 platform the county
node registers to, with its link's state, last keepalive, last error and catalog age. The data comes
from `GET /api/v1/gb28181/uppers` (gb28181/cascade/views.py), refreshed every 5 s by
static/js/gb28181/cascade.js. Only county admins manage upper platforms: other roles get the page as
missing (404), as the API refuses them."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from xueliang.accounts.deps import caller_from_request
from xueliang.accounts.models import Role
from xueliang.web.pages import Render

NOT_FOUND = {"code": "not_found", "message": "not found"}


def mount(app: FastAPI, render: Render) -> None:
    @app.get("/cascade", include_in_schema=False)
    async def cascade_console(request: Request) -> Response:
        caller = await caller_from_request(request)
        if caller is not None and caller.principal.role is not Role.admin:
            return JSONResponse(NOT_FOUND, status_code=404)
        return await render(request, "gb28181_cascade.html", "console", section="cascade")
