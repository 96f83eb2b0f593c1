"""Privacy pages (issue 14): the privacy page of a camera, for residents on TV, phone and PC, and the
console's mask editor and four-eyes approvals.

The privacy page is generated from the camera's data and masks (what it watches, why, who runs it,
how long video is kept, whom to contact, and its picture masked as the viewer receives it). It is
visible exactly to those who may see the camera live; anyone else gets the same 404 as for a missing
camera. The mask editor exists only for those who may draw masks (admins, operators), the approvals
page only for roles that see recordings."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from xueliang.accounts.deps import caller_from_request, get_ctx
from xueliang.accounts.policy import Permission, allows
from xueliang.cameras import masks
from xueliang.cameras.mask_views import PrivacyOut, privacy_out
from xueliang.core.bounds import PathId
from xueliang.core.errors import NotFound
from xueliang.web.pages import Render

NOT_FOUND = {"code": "not_found", "message": "camera not found"}


def mount(app: FastAPI, render: Render) -> None:
    async def facts(request: Request, camera_id: int) -> PrivacyOut | None:
        """The page's facts for the caller, or None where the camera is not theirs to see."""
        caller = await caller_from_request(request)
        if caller is None:
            return None
        async with get_ctx(request).db.read_session() as session:
            try:
                return privacy_out(await masks.privacy_facts(session, caller.principal, camera_id))
            except NotFound:
                return None

    async def privacy_page(request: Request, camera_id: int, template: str, terminal: str) -> Response:
        caller = await caller_from_request(request)
        if caller is None:
            return await render(request, template, terminal)  # the login redirect
        found = await facts(request, camera_id)
        if found is None:
            return JSONResponse(NOT_FOUND, status_code=404)
        return await render(request, template, terminal, camera=found.model_dump())

    @app.get("/privacy/{camera_id}", include_in_schema=False)
    async def privacy(request: Request, camera_id: PathId) -> Response:
        """The camera's privacy page on the phone and the PC (one responsive page)."""
        return await privacy_page(request, camera_id, "privacy.html", "mobile")

    @app.get("/tv/privacy/{camera_id}", include_in_schema=False)
    async def tv_privacy(request: Request, camera_id: PathId) -> Response:
        """The same page for the TV: one column of focusable blocks, ▲ ▼ to read, Back to leave."""
        return await privacy_page(request, camera_id, "tv_privacy.html", "tv")

    @app.get("/masks/{camera_id}", include_in_schema=False)
    async def mask_editor(request: Request, camera_id: PathId) -> Response:
        caller = await caller_from_request(request)
        if caller is None:
            return await render(request, "mask_editor.html", "console")
        found = await facts(request, camera_id)
        if found is None or not masks.may_edit_masks(caller.principal):
            return JSONResponse(NOT_FOUND, status_code=404)
        return await render(
            request, "mask_editor.html", "console", section="masks", camera=found.model_dump()
        )

    @app.get("/approvals", include_in_schema=False)
    async def approvals_page(request: Request) -> Response:
        caller = await caller_from_request(request)
        if caller is not None and not allows(caller.principal, Permission.view_recording):
            return JSONResponse({"code": "not_found", "message": "not found"}, status_code=404)
        return await render(request, "approvals.html", "console", section="approvals")
