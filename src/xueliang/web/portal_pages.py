"""The portal domain's pages on the phone and the PC (issue 17); the data comes from /api/v1/portal and
/api/v1/hospital. The TV's portal screens live in tv.html (static/js/tv/), not here.

- `/m/portal`: the phone layout, `/portal`: the PC layout; the same ES modules (static/js/portal/) fill
  both, for any logged-in user.
- `/portal-admin`: content management for portal editors and admin, and notice publishing for the
  roles that publish notices; it does not exist (404, the API's body) for anyone else, as /playback.
- `/portal-admin/preview`: a page styled by the TV's own CSS, shown in a 1280x720 frame of the admin
  page, so an editor sees a draft "as the TV shows it" without a TV login or a household.
- `/portal/qr.svg?text=https://...`: a service's online link as a QR code, so a phone can scan it off
  the PC's screen (logged-in callers, http(s) links only: not an open QR service)."""

from __future__ import annotations

import io

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from xueliang.accounts.deps import caller_from_request
from xueliang.accounts.policy import Permission, allows
from xueliang.core.headers import CSP
from xueliang.web.pages import Render

# The preview may be framed by our own pages only (every other page keeps frame-ancestors 'none').
PREVIEW_CSP = CSP.replace("frame-ancestors 'none'", "frame-ancestors 'self'")
ADMIN_PERMISSIONS = (Permission.manage_portal, Permission.publish_notices)
MAX_QR_TEXT = 500  # the longest online link a service may hold (portal/schemas.py)


def qr_svg(text: str) -> bytes:
    """The QR code of `text` as SVG (segno draws it; the grid's check-in codes use it too)."""
    import segno  # imported when first used: only this route needs it

    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="svg", scale=4, border=2, xmldecl=False)
    return buf.getvalue()


def _not_found() -> Response:
    return JSONResponse({"code": "not_found", "message": "not found"}, status_code=404)


async def _may_admin(request: Request) -> bool | None:
    """None when nobody is logged in (render sends them to the login page), else whether the caller
    edits content or publishes notices."""
    caller = await caller_from_request(request)
    if caller is None:
        return None
    return any(allows(caller.principal, p) for p in ADMIN_PERMISSIONS)


def mount(app: FastAPI, render: Render) -> None:
    @app.get("/m/portal", include_in_schema=False)
    async def portal_mobile(request: Request) -> Response:
        return await render(request, "portal_mobile.html", "mobile")

    @app.get("/portal", include_in_schema=False)
    async def portal_console(request: Request) -> Response:
        return await render(request, "portal.html", "console", section="portal")

    @app.get("/portal-admin", include_in_schema=False)
    async def portal_admin(request: Request) -> Response:
        if await _may_admin(request) is False:
            return _not_found()
        return await render(request, "portal_admin.html", "console", section="portal-admin")

    @app.get("/portal-admin/preview", include_in_schema=False)
    async def portal_preview(request: Request) -> Response:
        if await _may_admin(request) is False:
            return _not_found()
        response = await render(request, "portal_preview.html", "console")
        response.headers["Content-Security-Policy"] = PREVIEW_CSP
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        return response

    @app.get("/portal/qr.svg", include_in_schema=False)
    async def portal_qr(request: Request, text: str = "") -> Response:
        if await caller_from_request(request) is None:
            return JSONResponse({"code": "not_logged_in", "message": "not logged in"}, status_code=401)
        if not text.startswith(("https://", "http://")) or len(text) > MAX_QR_TEXT:
            return JSONResponse(
                {"code": "invalid", "message": f"text: an http(s) link of at most {MAX_QR_TEXT} characters"},
                status_code=422,
            )
        return Response(
            qr_svg(text), media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=3600"}
        )
