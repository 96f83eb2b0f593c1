"""Server-rendered pages for the three terminals: PC console (/), TV (/tv), phone (/m).

Pages are shells; ES modules fill them from /api/v1. A page without a valid session redirects to the
login page of the same terminal, so a TV never shows a mouse-only form."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from markupsafe import Markup

from xueliang.accounts.deps import caller_from_request, get_ctx
from xueliang.accounts.policy import ROLE_PERMISSIONS, Permission, allows
from xueliang.accounts.views import allowed_next
from xueliang.alarms.models import AlarmState
from xueliang.alarms.workflow import CLOSED, TRANSITIONS
from xueliang.regions.models import Region
from xueliang.web import (
    account_pages,
    gb28181_pages,
    grid_pages,
    hospital_pages,
    i18n,
    portal_pages,
    privacy_pages,
    system_pages,
)

WEB_DIR = Path(__file__).resolve().parent
STATIC_DIR = WEB_DIR / "static"


def _templates() -> Jinja2Templates:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(WEB_DIR / "templates"), autoescape=True, extensions=["jinja2.ext.i18n"]
    )
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    return Jinja2Templates(env=env)


def _script_json(data: dict[str, Any]) -> Markup:
    """JSON safe inside <script>: '<', '>' and '&' only occur in strings, where \\u escapes mean the same."""
    text = json.dumps(data, ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)  # noqa: S704 - escaped above; no markup can end the script element


@functools.cache
def _catalog_json(locale: str) -> str:
    return str(_script_json(i18n.js_catalog(locale)))


def _boot_json(boot: dict[str, Any], locale: str) -> Markup:
    """`boot` plus the locale's `messages` catalog as one JSON object. The catalog (1,000+ messages)
    is serialised once per locale, not on every page load, where it was 0.5 ms of each."""
    head = str(_script_json(boot))
    return Markup(f'{head[:-1]}, "messages": {_catalog_json(locale)}}}')  # noqa: S704 - both escaped


def alarm_workflow() -> dict[str, Any]:
    """The alarm state machine (alarms/workflow.py) for the console's boot JSON: each action with the
    states it may start from and the state it leads to, in the table's order (the console's order of
    buttons; the first one allowed is the suggested next step), and the closed states. The server still
    decides; the console only greys out the buttons that cannot work."""
    order = list(AlarmState)
    return {
        "actions": [
            {"action": action.value, "from": [s.value for s in order if s in sources], "to": to.value}
            for action, (sources, to) in TRANSITIONS.items()
        ],
        "closed": [s.value for s in order if s in CLOSED],
    }


def mount_web(app: FastAPI) -> None:
    templates = _templates()
    workflow = alarm_workflow()
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")

    async def render(
        request: Request, template: str, terminal: str, *, login_required: bool = True, **extra: Any
    ) -> Response:
        ctx = get_ctx(request)
        caller = await caller_from_request(request)
        region = None
        if caller is not None:
            async with ctx.db.read_session() as session:
                region = await session.get(Region, caller.user.region_id)
        if login_required and caller is None:
            return RedirectResponse(f"/login?terminal={terminal}&next={request.url.path}", status_code=303)
        locale = i18n.pick_locale(
            request.cookies.get(i18n.LANG_COOKIE),
            caller.user.locale if caller else None,
            ctx.settings.default_locale,
        )
        tr = i18n.translations(locale)
        me: dict[str, Any] | None = None
        if caller is not None:
            me = {
                "id": caller.user.id,
                "username": caller.user.username,
                "display_name": caller.user.display_name,
                "role": caller.user.role.value,
                "region_id": caller.principal.region_id,
                "region_name": region.name if region else "",
                "region_name_en": region.name_en if region else "",
                "household_id": caller.user.household_id,
                "permissions": sorted(a.value for a in ROLE_PERMISSIONS[caller.user.role]),
            }
        boot = {
            "locale": locale,
            "me": me,
            "csrf": caller.auth.csrf_token if caller else "",
            "timezone": ctx.settings.timezone,
        }
        if terminal == "console":
            boot["alarm_workflow"] = workflow
        context = {
            "request": request,
            "locale": locale,
            "html_lang": i18n.HTML_LANG[locale],
            "terminal": terminal,
            "me": me,
            "csrf_token": boot["csrf"],
            "gettext": tr.gettext,
            "ngettext": tr.ngettext,
            "boot_json": _boot_json(boot, locale),
            **extra,
        }
        response = templates.TemplateResponse(request, template, context)
        response.headers["Cache-Control"] = "no-store"
        return response

    for mount_pages in (
        grid_pages.mount,
        gb28181_pages.mount,
        portal_pages.mount,
        hospital_pages.mount,
        privacy_pages.mount,
        system_pages.mount,
        account_pages.mount,
    ):
        mount_pages(app, render)

    @app.get("/", include_in_schema=False)
    async def console(request: Request) -> Response:
        # the camera map draws the node's base layer: an online tile source's hosts join img-src
        page = await render(request, "console.html", "console", section="cameras")
        return grid_pages.with_tile_hosts(request, page)

    @app.get("/audit", include_in_schema=False)
    async def audit_page(request: Request) -> Response:
        return await render(request, "console.html", "console", section="audit")

    @app.get("/admin", include_in_schema=False)
    async def admin_page(request: Request) -> Response:
        return await render(request, "console.html", "console", section="users")

    @app.get("/alarms", include_in_schema=False)
    async def alarms_page(request: Request) -> Response:
        return await render(request, "console.html", "console", section="alarms")

    @app.get("/playback", include_in_schema=False)
    async def playback_page(request: Request) -> Response:
        # Recorded video: like every recording route, the page does not exist for roles that never see
        # recordings (residents), rather than telling them it is forbidden.
        caller = await caller_from_request(request)
        if caller is not None and not allows(caller.principal, Permission.view_recording):
            return JSONResponse({"code": "not_found", "message": "not found"}, status_code=404)
        return await render(request, "playback.html", "console", section="playback")

    @app.get("/tv", include_in_schema=False)
    async def tv(request: Request) -> Response:
        return await render(request, "tv.html", "tv")

    @app.get("/m", include_in_schema=False)
    async def mobile(request: Request) -> Response:
        return await render(request, "mobile.html", "mobile")

    @app.get("/login", include_in_schema=False)
    async def login_page(request: Request, terminal: str = "console", next: str = "") -> Response:
        terminal = terminal if terminal in ("console", "tv", "mobile") else "console"
        # The "continue" link and the form's `next`: our own pages only, by the API's `landing` rule.
        next_path = allowed_next(next) or ""
        # The TV's variant runs classic ES2015 scripts for old set-top engines (docs/tv.md).
        template = "tv_login.html" if terminal == "tv" else "login.html"
        return await render(request, template, terminal, login_required=False, next_path=next_path)

    @app.get("/lang/{locale}", include_in_schema=False)
    async def switch_language(locale: str, back: str = "/") -> Response:
        target = back if back.startswith("/") and not back.startswith("//") else "/"
        response = RedirectResponse(target, status_code=303)
        if locale in i18n.LOCALES:
            response.set_cookie(i18n.LANG_COOKIE, locale, max_age=365 * 86400, samesite="lax", path="/")
        return response

    @app.get("/m/offline", include_in_schema=False)
    async def mobile_offline(request: Request) -> Response:
        # What the phone app's service worker shows when the network is gone (it caches this page).
        return await render(request, "offline.html", "mobile", login_required=False)

    @app.get("/manifest.webmanifest", include_in_schema=False)
    async def manifest() -> Response:
        return FileResponse(
            STATIC_DIR / "mobile" / "manifest.webmanifest", media_type="application/manifest+json"
        )

    @app.get("/sw.js", include_in_schema=False)
    async def service_worker() -> Response:
        # Served from the root so its scope covers /m; never cached by the HTTP layer so updates land.
        return FileResponse(
            STATIC_DIR / "mobile" / "sw.js",
            media_type="text/javascript",
            headers={"Cache-Control": "no-cache", "Service-Worker-Allowed": "/"},
        )

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}
