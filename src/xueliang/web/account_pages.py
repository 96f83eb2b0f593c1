"""The account page, /account: second factor (TOTP) enrolment and the caller's sessions; for admins, a
section to reset a user's second factor and end their sessions (issue 14, MFA).

The page also works without a session: where `mfa_required` is on, an admin, operator or auditor
without a factor cannot log in until they enrol, so enrolment asks for the password itself (as the
API's /auth/mfa/enroll does). The otpauth:// URI's QR code is drawn here, on the server (segno, as the
portal's link codes): the secret travels in a POST body, never in a URL that a log could keep."""

from __future__ import annotations

import io
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from xueliang.web.pages import Render

OTPAUTH = "otpauth://totp/"
MAX_URI = 512


def totp_qr_svg(uri: str) -> bytes:
    import segno  # imported when first used: only this route and the portal's QR codes need it

    buf = io.BytesIO()
    segno.make(uri, error="m").save(buf, kind="svg", scale=5, border=2, xmldecl=False)
    return buf.getvalue()


def _invalid(message: str) -> JSONResponse:
    return JSONResponse({"code": "invalid", "message": message}, status_code=422)


def mount(app: FastAPI, render: Render) -> None:
    @app.get("/account", include_in_schema=False)
    async def account(request: Request) -> Response:
        return await render(request, "account.html", "console", login_required=False, section="account")

    @app.post("/account/totp-qr.svg", include_in_schema=False)
    async def totp_qr(request: Request) -> Response:
        """The QR code of an otpauth://totp/ URI (only those: not an open QR service)."""
        try:
            body: Any = await request.json()
        except ValueError:
            return _invalid("a JSON body {uri} is needed")
        uri = body.get("uri") if isinstance(body, dict) else None
        if not isinstance(uri, str) or not uri.startswith(OTPAUTH) or len(uri) > MAX_URI:
            return _invalid(f"uri: an {OTPAUTH} URI of at most {MAX_URI} characters")
        return Response(totp_qr_svg(uri), media_type="image/svg+xml", headers={"Cache-Control": "no-store"})
