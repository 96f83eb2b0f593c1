"""The hospital domain's pages; the data comes from /api/v1/hospital (docs/hospital-api.md).

/hospital is the console of hospital staff (their hospital) and the county admin (every hospital): the
day's list with attended / no-show, the coming sessions with set-up and stop, departments and doctors.
A role that may not manage a hospital gets the page as missing (404), as the staff API answers it,
rather than a page that could only show refusals."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from xueliang.accounts.deps import caller_from_request, get_ctx
from xueliang.accounts.policy import Permission, allows
from xueliang.web.pages import Render

NOT_FOUND = {"code": "not_found", "message": "not found"}


def mount(app: FastAPI, render: Render) -> None:
    @app.get("/hospital", include_in_schema=False)
    async def hospital_console(request: Request) -> Response:
        caller = await caller_from_request(request)
        if caller is not None and not allows(caller.principal, Permission.manage_hospital):
            return JSONResponse(NOT_FOUND, status_code=404)
        # "Today" is the node's (its injected clock, its time zone), not the browser's: the day list and
        # the 14 days of sessions start from the day the API calls today.
        ctx = get_ctx(request)
        today = ctx.clock.now().astimezone(ZoneInfo(ctx.settings.timezone)).date()
        return await render(
            request, "hospital_console.html", "console", section="hospital", today=today.isoformat()
        )
