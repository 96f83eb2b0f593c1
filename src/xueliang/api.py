"""Wires every domain's router under /api/v1 and turns errors into JSON `{code, message}`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException

from xueliang.accounts.views import router as accounts_router
from xueliang.alarms.views import router as alarms_router
from xueliang.audit.views import router as audit_router
from xueliang.cameras.views import router as cameras_router
from xueliang.core.errors import AppError
from xueliang.federation.views import router as federation_router
from xueliang.gb28181.views import router as gb28181_router
from xueliang.grid.views import router as grid_router
from xueliang.hospital.views import router as hospital_router
from xueliang.media.plane.health_views import router as health_router
from xueliang.portal.views import router as portal_router
from xueliang.recordings.views import router as recordings_router
from xueliang.regions.views import router as regions_router

API_PREFIX = "/api/v1"


class FieldProblem(BaseModel):
    """One problem of a 422: the request field, or the line of an imported file (portal imports)."""

    model_config = ConfigDict(extra="allow")

    field: str | None = None
    line: int | None = None
    message: str


class ErrorOut(BaseModel):
    """Every 4xx answer of the API (install_error_handlers below): a stable `code` and a `message`; a
    422 lists its fields in `errors`. Documented on every operation as "4XX", so clients and the
    schema fuzzer (tests/security/test_fuzz_schemathesis.py) know the body of each refusal."""

    model_config = ConfigDict(extra="allow")

    code: str
    message: str
    errors: list[FieldProblem] | None = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    "4XX": {"model": ErrorOut, "description": "Refused: the JSON error body, `code` says why"}
}


def api_router() -> APIRouter:
    router = APIRouter(prefix=API_PREFIX)
    # FastAPI tries included routes one by one, so order is cost: alarms first (a press must not wait
    # for fifty other routes to be tried; it cost ~10 % of the server's CPU in an alarm storm), and
    # health_router before cameras_router: /cameras/health must win over /cameras/{camera_id}.
    for sub in (
        alarms_router,
        accounts_router,
        regions_router,
        health_router,
        cameras_router,
        audit_router,
        recordings_router,
        grid_router,
        portal_router,
        hospital_router,
        gb28181_router,
        federation_router,
    ):
        router.include_router(sub)
    return router


def _error(status: int, code: str, message: str, **extra: object) -> JSONResponse:
    return JSONResponse({"code": code, "message": message, **extra}, status_code=status)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    async def app_error(_request: Request, exc: AppError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"), "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems) or "invalid request"
        return _error(422, "invalid", summary, errors=problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}
        return _error(exc.status_code, codes.get(exc.status_code, "http_error"), str(exc.detail))
