"""The grid domain's pages on the three terminals; the data comes from /api/v1/grid.

/m/grid is the grid worker's phone app (today's route and visits, check-ins, visits and incident reports
queued offline); /grid is the console of station operators and duty officers (board, incidents, video
patrol tours, routes, coverage). A role that may do neither gets the page as missing (404), as the API
answers it, rather than a page that could only show refusals. With an online tile source (Tianditu,
an XYZ URL) the pages' Content Security Policy also lets images come from the source's hosts."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from xueliang.accounts.deps import caller_from_request
from xueliang.accounts.policy import Permission, allows
from xueliang.core.context import AppContext
from xueliang.core.headers import CSP
from xueliang.grid.config import GridSettings
from xueliang.grid.tiles import tile_hosts
from xueliang.web.pages import Render

NOT_FOUND = {"code": "not_found", "message": "not found"}


def with_tile_hosts(request: Request, response: Response) -> Response:
    ctx: AppContext = request.app.state.ctx
    settings = ctx.services.get(GridSettings)
    hosts = tile_hosts(settings) if settings is not None else []
    if hosts:
        img = "img-src 'self' data: blob:"
        response.headers["Content-Security-Policy"] = CSP.replace(img, " ".join([img, *hosts]))
    return response


def mount(app: FastAPI, render: Render) -> None:
    @app.get("/m/grid", include_in_schema=False)
    async def grid_mobile(request: Request) -> Response:
        caller = await caller_from_request(request)
        if caller is not None and not allows(caller.principal, Permission.patrol):
            return JSONResponse(NOT_FOUND, status_code=404)
        return with_tile_hosts(request, await render(request, "grid_mobile.html", "mobile"))

    @app.get("/grid", include_in_schema=False)
    async def grid_console(request: Request) -> Response:
        caller = await caller_from_request(request)
        if caller is not None and not allows(caller.principal, Permission.manage_grid):
            return JSONResponse(NOT_FOUND, status_code=404)
        return with_tile_hosts(request, await render(request, "grid_console.html", "console", section="grid"))
