"""The portal API under /api/v1/portal (docs/portal-api.md): thin routes over `portal/service.py`.

Any logged-in caller reads published content; notices only those aimed at their region; price
subscriptions and alerts only their own. Content management needs `manage_portal` (403 on collection
routes for other roles) and then the editor's reach: an object outside it answers 404, exactly like a
missing one. A route that changes content commits, then drops the search index."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.deps import Caller, Ctx, CurrentCaller, ReadSession, Session, require
from xueliang.accounts.policy import Permission
from xueliang.core.bounds import PathId, QueryId
from xueliang.core.errors import ValidationFailed
from xueliang.notify.hub import Event, Hub
from xueliang.portal import imports, push, service, upstream
from xueliang.portal import schemas as s
from xueliang.portal.policy import EditorReach, editor_reach

router = APIRouter(prefix="/portal", tags=["portal"])

Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
MAX_IMPORT_BYTES = 8 * 1024 * 1024  # the node lets 8 MiB through to /api/v1/portal (core/settings.py)


async def _reach(session: AsyncSession, caller: Caller) -> EditorReach:
    return await editor_reach(session, caller.principal)


async def _editor(session: AsyncSession, caller: Caller) -> EditorReach:
    require(caller, Permission.manage_portal)
    return await editor_reach(session, caller.principal)


# -- search ------------------------------------------------------------------------------------------


@router.get("/search", response_model=s.Page[s.SearchHitOut])
async def search(
    caller: CurrentCaller,
    session: ReadSession,
    ctx: Ctx,
    t9: Annotated[str | None, Query(max_length=32, pattern=r"^[0-9]*$")] = None,
    q: Annotated[str | None, Query(max_length=64)] = None,
    kinds: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> s.Page[s.SearchHitOut]:
    """T9 digits (TV remote) or pinyin / initials / Chinese (phone, PC) over services, departments and
    jobs; best matches first."""
    del caller
    wanted = None
    if kinds:
        wanted = frozenset(k.strip() for k in kinds.split(",") if k.strip())
        unknown = wanted - {"service", "department", "job"}
        if unknown:
            raise ValidationFailed(f"unknown kinds {sorted(unknown)}; known: service, department, job")
    index = await service.search_index(session)
    hits, total = index.search(t9=t9 or None, q=q or None, kinds=wanted, now=ctx.clock.now(), limit=limit)
    return s.Page(
        items=[
            s.SearchHitOut(
                kind=h.entry.kind,
                id=h.entry.id,
                title=h.entry.title,
                title_en=h.entry.title_en,
                subtitle=h.entry.subtitle,
                match=h.match,
            )
            for h in hits
        ],
        total=total,
    )


# -- directory and services --------------------------------------------------------------------------


@router.get("/categories", response_model=list[s.CategoryOut])
async def categories(caller: CurrentCaller, session: ReadSession) -> list[s.CategoryOut]:
    del caller
    return await service.categories(session)


@router.get("/departments", response_model=s.Page[s.DepartmentOut])
async def departments(
    caller: CurrentCaller,
    session: ReadSession,
    q: Annotated[str | None, Query(max_length=64)] = None,
    editable: bool = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> s.Page[s.DepartmentOut]:
    """`editable=true`: only the departments the caller may put content under (the editor form's
    choices; none for a caller who edits nothing, all for a county-wide editor)."""
    only = None
    if editable:
        reach = await _reach(session, caller)
        only = None if reach.county else reach.departments
    return await service.list_departments(session, q=q, only=only, limit=limit, offset=offset)


@router.get("/departments/{department_id}", response_model=s.DepartmentOut)
async def department(caller: CurrentCaller, session: ReadSession, department_id: PathId) -> s.DepartmentOut:
    del caller
    return await service.department_detail(session, department_id)


@router.get("/services", response_model=s.Page[s.ServiceBrief])
async def services(
    caller: CurrentCaller,
    session: ReadSession,
    category: Annotated[str | None, Query(max_length=32)] = None,
    department_id: QueryId | None = None,
    q: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> s.Page[s.ServiceBrief]:
    return await service.list_services(
        session,
        await _reach(session, caller),
        category=category,
        department_id=department_id,
        q=q,
        limit=limit,
        offset=offset,
    )


@router.get("/services/{service_id}", response_model=s.ServiceOut)
async def service_detail(caller: CurrentCaller, session: ReadSession, service_id: PathId) -> s.ServiceOut:
    row = await service.get_service(session, await _reach(session, caller), service_id)
    return service.service_out(row, await service.department_name(session, row.department_id))


# -- jobs --------------------------------------------------------------------------------------------


@router.get("/jobs", response_model=s.Page[s.JobOut])
async def jobs(
    caller: CurrentCaller,
    session: ReadSession,
    ctx: Ctx,
    city: Annotated[str | None, Query(max_length=64)] = None,
    type: Annotated[str | None, Query(max_length=16)] = None,
    q: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> s.Page[s.JobOut]:
    return await service.list_jobs(
        session,
        await _reach(session, caller),
        now=ctx.clock.now(),
        city=city,
        job_type=type,
        q=q,
        limit=limit,
        offset=offset,
    )


@router.get("/jobs/cities", response_model=list[s.CityOut])
async def job_cities(caller: CurrentCaller, session: ReadSession, ctx: Ctx) -> list[s.CityOut]:
    del caller
    return await service.job_cities(session, now=ctx.clock.now())


@router.get("/jobs/{job_id}", response_model=s.JobOut)
async def job(caller: CurrentCaller, session: ReadSession, ctx: Ctx, job_id: PathId) -> s.JobOut:
    row = await service.get_job(session, await _reach(session, caller), job_id, now=ctx.clock.now())
    return service.job_out(row)


# -- prices ------------------------------------------------------------------------------------------


@router.get("/prices/products", response_model=list[s.ProductOut])
async def products(caller: CurrentCaller, session: ReadSession) -> list[s.ProductOut]:
    del caller
    return [
        s.ProductOut(id=p.id, code=p.code, name=p.name, name_en=p.name_en, kind=p.kind, unit=p.unit)
        for p in await service.products(session)
    ]


@router.get("/prices/markets", response_model=list[s.MarketOut])
async def markets(caller: CurrentCaller, session: ReadSession) -> list[s.MarketOut]:
    del caller
    return [
        s.MarketOut(id=m.id, code=m.code, name=m.name, name_en=m.name_en)
        for m in await service.markets(session)
    ]


@router.get("/prices", response_model=s.PricesOut)
async def prices(
    caller: CurrentCaller,
    session: ReadSession,
    day: s.Day | None = None,
    market_id: QueryId | None = None,
    product_id: QueryId | None = None,
) -> s.PricesOut:
    del caller
    return await service.price_rows(session, day=day, market_id=market_id, product_id=product_id)


@router.get("/prices/movers", response_model=s.MoversOut)
async def price_movers(
    caller: CurrentCaller,
    session: ReadSession,
    day: s.Day | None = None,
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
) -> s.MoversOut:
    del caller
    return await service.movers(session, day=day, limit=limit)


@router.get("/prices/series", response_model=s.SeriesOut)
async def price_series(
    caller: CurrentCaller,
    session: ReadSession,
    product_id: QueryId,
    market_id: QueryId | None = None,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
) -> s.SeriesOut:
    del caller
    return await service.series(session, product_id=product_id, market_id=market_id, days=days)


# -- subscriptions and price alerts (own) ------------------------------------------------------------


@router.get("/subscriptions", response_model=list[s.SubscriptionOut])
async def subscriptions(caller: CurrentCaller, session: ReadSession) -> list[s.SubscriptionOut]:
    return await service.list_subscriptions(session, caller.principal)


@router.post("/subscriptions", response_model=s.SubscriptionOut, status_code=201)
async def subscribe(
    body: s.SubscriptionIn, caller: CurrentCaller, session: Session, ctx: Ctx
) -> s.SubscriptionOut:
    sub = await service.subscribe(session, caller.principal, body, now=ctx.clock.now())
    out = await service.subscription_out(session, sub)
    await session.commit()
    return out


@router.delete("/subscriptions/{subscription_id}", status_code=204)
async def unsubscribe(caller: CurrentCaller, session: Session, subscription_id: PathId) -> Response:
    await service.unsubscribe(session, caller.principal, subscription_id)
    await session.commit()
    return Response(status_code=204)


@router.get("/price-alerts", response_model=s.Page[s.PriceAlertOut])
async def price_alerts(
    caller: CurrentCaller,
    session: ReadSession,
    unread: bool | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> s.Page[s.PriceAlertOut]:
    return await service.list_alerts(session, caller.principal, unread=unread, limit=limit, offset=offset)


@router.post("/price-alerts/{alert_id}/read", status_code=204)
async def read_price_alert(caller: CurrentCaller, session: Session, ctx: Ctx, alert_id: PathId) -> Response:
    await service.read_alert(session, caller.principal, alert_id, now=ctx.clock.now())
    await session.commit()
    await _push(ctx, push.user_event(caller.user.id))
    return Response(status_code=204)


# -- notices -----------------------------------------------------------------------------------------


@router.get(
    "/banner",
    response_model=s.BannerOut,
    responses={304: {"description": "nothing the banner shows changed since the ETag sent"}},
)
async def banner(request: Request, caller: CurrentCaller, ctx: Ctx) -> Response:
    """One poll for the TV and phone: unread urgent notices (full-screen banner) and unread counts.
    A poll that sends back the last ETag gets 304 without a database read while nothing changed
    (portal/push.py); the tag is taken before the read, so a change during it is never hidden."""
    tag = ctx.services.require(push.BannerVersions).etag(caller)
    headers = {"ETag": tag, "Cache-Control": "private, no-cache"}
    sent = request.headers.get("if-none-match", "")
    if sent and tag in (t.strip() for t in sent.split(",")):
        return Response(status_code=304, headers=headers)
    async with ctx.db.read_session() as session:
        out = await service.banner(session, caller.principal)
    return JSONResponse(out.model_dump(mode="json"), headers=headers)


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}},
)
async def events(caller: CurrentCaller, ctx: Ctx) -> StreamingResponse:
    """Push for the TV and phone (server-sent events): nudges to re-read the banner (`notices`,
    `mine`) or the household's hospital messages (`messages`); `bye` when the session ends
    (within 30 s of a logout or revoke) or the user opened too many streams. See portal/push.py."""
    return StreamingResponse(
        push.stream(ctx, caller),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _push(ctx: Ctx, event: Event) -> None:
    """After the commit only: a nudge must never announce a change that was rolled back."""
    await ctx.services.require(Hub).publish(event)


@router.get("/notices", response_model=s.Page[s.NoticeOut])
async def notices(
    caller: CurrentCaller,
    session: ReadSession,
    unread: bool | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> s.Page[s.NoticeOut]:
    return await service.notices_for(session, caller.principal, unread=unread, limit=limit, offset=offset)


@router.get("/notices/urgent", response_model=list[s.NoticeOut])
async def urgent_notices(caller: CurrentCaller, session: ReadSession) -> list[s.NoticeOut]:
    return await service.urgent_for(session, caller.principal)


@router.get("/notices/managed", response_model=s.Page[s.ManagedNoticeOut])
async def managed_notices(
    caller: CurrentCaller, session: ReadSession, limit: Limit = 50, offset: Offset = 0
) -> s.Page[s.ManagedNoticeOut]:
    require(caller, Permission.publish_notices)
    return await service.managed_notices(session, caller.principal, limit=limit, offset=offset)


@router.post("/notices", response_model=s.NoticeOut, status_code=201)
async def publish_notice(body: s.NoticeIn, caller: CurrentCaller, session: Session, ctx: Ctx) -> s.NoticeOut:
    require(caller, Permission.publish_notices)
    notice = await service.publish_notice(
        session, caller.principal, caller.actor, caller.user.display_name, body, now=ctx.clock.now()
    )
    out = await service.notice_detail(session, caller.principal, notice.id)
    await session.commit()
    await _push(ctx, push.notice_event(notice.region_path))
    return out


@router.get("/notices/{notice_id}", response_model=s.NoticeOut)
async def notice(caller: CurrentCaller, session: ReadSession, notice_id: PathId) -> s.NoticeOut:
    return await service.notice_detail(session, caller.principal, notice_id)


@router.post("/notices/{notice_id}/read", status_code=204)
async def read_notice(caller: CurrentCaller, session: Session, ctx: Ctx, notice_id: PathId) -> Response:
    await service.mark_read(session, caller.principal, notice_id, now=ctx.clock.now())
    await session.commit()
    await _push(ctx, push.user_event(caller.user.id))
    return Response(status_code=204)


@router.get("/notices/{notice_id}/reads", response_model=s.NoticeReadsOut)
async def notice_reads(
    caller: CurrentCaller, session: Session, ctx: Ctx, notice_id: PathId
) -> s.NoticeReadsOut:
    """Which households read it (the publisher's side); audited, as it names households."""
    out = await service.notice_reads(session, caller.principal, caller.actor, notice_id, now=ctx.clock.now())
    await session.commit()
    return out


@router.post("/notices/{notice_id}/withdraw", response_model=s.ManagedNoticeOut)
async def withdraw_notice(
    caller: CurrentCaller, session: Session, ctx: Ctx, notice_id: PathId
) -> s.ManagedNoticeOut:
    n = await service.withdraw_notice(session, caller.principal, caller.actor, notice_id, now=ctx.clock.now())
    out = await service.managed_notice_out(session, caller.principal, n)
    await session.commit()
    await _push(ctx, push.notice_event(n.region_path))
    return out


# -- content management ------------------------------------------------------------------------------


@router.get("/admin/services", response_model=s.Page[s.ServiceBrief])
async def admin_services(
    caller: CurrentCaller,
    session: ReadSession,
    department_id: QueryId | None = None,
    published: bool | None = None,
    category: Annotated[str | None, Query(max_length=32)] = None,
    q: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> s.Page[s.ServiceBrief]:
    reach = await _editor(session, caller)
    return await service.list_services(
        session,
        reach,
        category=category,
        department_id=department_id,
        q=q,
        published=published,
        manage=True,
        limit=limit,
        offset=offset,
    )


async def _service_out(session: AsyncSession, row_id: int, reach: EditorReach) -> s.ServiceOut:
    row = await service.get_service(session, reach, row_id)
    return service.service_out(row, await service.department_name(session, row.department_id))


@router.post("/admin/services", response_model=s.ServiceOut, status_code=201)
async def create_service(
    body: s.ServiceIn, caller: CurrentCaller, session: Session, ctx: Ctx
) -> s.ServiceOut:
    reach = await _editor(session, caller)
    row = await service.create_service(session, reach, caller.actor, body, now=ctx.clock.now())
    out = await _service_out(session, row.id, reach)
    await session.commit()
    service.content_changed(session)
    return out


@router.patch("/admin/services/{service_id}", response_model=s.ServiceOut)
async def update_service(
    body: s.ServicePatch, caller: CurrentCaller, session: Session, ctx: Ctx, service_id: PathId
) -> s.ServiceOut:
    reach = await _editor(session, caller)
    await service.update_service(session, reach, caller.actor, service_id, body, now=ctx.clock.now())
    out = await _service_out(session, service_id, reach)
    await session.commit()
    service.content_changed(session)
    return out


@router.post("/admin/services/{service_id}/{action}", response_model=s.ServiceOut)
async def publish_service(
    caller: CurrentCaller,
    session: Session,
    ctx: Ctx,
    service_id: PathId,
    action: Literal["publish", "unpublish"],
) -> s.ServiceOut:
    reach = await _editor(session, caller)
    await service.publish_service(
        session, reach, caller.actor, service_id, action == "publish", now=ctx.clock.now()
    )
    out = await _service_out(session, service_id, reach)
    await session.commit()
    service.content_changed(session)
    return out


@router.get("/admin/jobs", response_model=s.Page[s.JobOut])
async def admin_jobs(
    caller: CurrentCaller,
    session: ReadSession,
    ctx: Ctx,
    published: bool | None = None,
    city: Annotated[str | None, Query(max_length=64)] = None,
    q: Annotated[str | None, Query(max_length=64)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> s.Page[s.JobOut]:
    reach = await _editor(session, caller)
    return await service.list_jobs(
        session,
        reach,
        now=ctx.clock.now(),
        city=city,
        q=q,
        published=published,
        manage=True,
        limit=limit,
        offset=offset,
    )


@router.post("/admin/jobs", response_model=s.JobOut, status_code=201)
async def create_job(body: s.JobIn, caller: CurrentCaller, session: Session, ctx: Ctx) -> s.JobOut:
    reach = await _editor(session, caller)
    row = await service.create_job(session, reach, caller.actor, body, now=ctx.clock.now())
    out = service.job_out(row)
    await session.commit()
    service.content_changed(session)
    return out


@router.patch("/admin/jobs/{job_id}", response_model=s.JobOut)
async def update_job(
    body: s.JobPatch, caller: CurrentCaller, session: Session, ctx: Ctx, job_id: PathId
) -> s.JobOut:
    reach = await _editor(session, caller)
    row = await service.update_job(session, reach, caller.actor, job_id, body, now=ctx.clock.now())
    out = service.job_out(row)
    await session.commit()
    service.content_changed(session)
    return out


@router.post("/admin/jobs/{job_id}/{action}", response_model=s.JobOut)
async def publish_job(
    caller: CurrentCaller, session: Session, ctx: Ctx, job_id: PathId, action: Literal["publish", "unpublish"]
) -> s.JobOut:
    reach = await _editor(session, caller)
    row = await service.publish_job(
        session, reach, caller.actor, job_id, action == "publish", now=ctx.clock.now()
    )
    out = service.job_out(row)
    await session.commit()
    service.content_changed(session)
    return out


@router.post("/admin/departments", response_model=s.DepartmentOut, status_code=201)
async def create_department(
    body: s.DepartmentIn, caller: CurrentCaller, session: Session, ctx: Ctx
) -> s.DepartmentOut:
    reach = await _editor(session, caller)
    dept = await service.create_department(session, reach, caller.actor, body, now=ctx.clock.now())
    out = service.department_out(dept, 0)
    await session.commit()
    service.content_changed(session)
    return out


@router.patch("/admin/departments/{department_id}", response_model=s.DepartmentOut)
async def update_department(
    body: s.DepartmentPatch, caller: CurrentCaller, session: Session, ctx: Ctx, department_id: PathId
) -> s.DepartmentOut:
    reach = await _editor(session, caller)
    await service.update_department(session, reach, caller.actor, department_id, body, now=ctx.clock.now())
    out = await service.department_detail(session, department_id)
    await session.commit()
    service.content_changed(session)
    return out


@router.post("/admin/prices", response_model=s.PricesWritten)
async def publish_prices(
    body: s.PricesIn, caller: CurrentCaller, session: Session, ctx: Ctx
) -> s.PricesWritten:
    """A day's prices (a repeat the same day corrects them); subscribers get their price alerts."""
    reach = await _editor(session, caller)
    if not reach.county:
        raise ValidationFailed("prices are published by county-wide editors", code="forbidden_scope")
    items = [service.NewPrice(i.product_id, i.market_id, service.fen(i.price)) for i in body.items]
    await upstream.refuse_if_owned_above(session, "product", *(i.product_id for i in items))  # the county's
    written, alerts = await service.set_prices(session, caller.actor, body.day, items, now=ctx.clock.now())
    await session.commit()
    if alerts:
        await _push(ctx, push.alerts_event())
    return s.PricesWritten(day=body.day, written=written, alerts=alerts)


@router.post("/admin/import/{what}", response_model=s.ImportResult)
async def import_content(
    request: Request,
    caller: CurrentCaller,
    session: Session,
    ctx: Ctx,
    what: Literal["services", "jobs", "departments", "prices"],
    format: Literal["csv", "json", "jsonld"] | None = None,
) -> s.ImportResult | JSONResponse:
    """The file is the request body. All rows are checked first; any bad row and nothing is written,
    and the answer names every bad line."""
    reach = await _editor(session, caller)
    if what == "prices" and not reach.county:
        raise ValidationFailed("prices are published by county-wide editors", code="forbidden_scope")
    raw = await request.body()
    if len(raw) > MAX_IMPORT_BYTES:
        raise ValidationFailed(f"an import may hold at most {MAX_IMPORT_BYTES // (1024 * 1024)} MiB")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationFailed("the file must be UTF-8") from exc
    fmt = format or _format_of(request.headers.get("content-type", ""))
    try:
        result = await imports.run(session, reach, caller.actor, what, text, fmt, now=ctx.clock.now())
    except imports.ImportRejected as exc:
        await session.rollback()
        return JSONResponse(
            {
                "code": exc.code,
                "message": exc.message,
                "errors": [{"line": e.line, "message": e.message} for e in exc.errors],
            },
            status_code=exc.status,
        )
    await session.commit()
    service.content_changed(session)
    if what == "prices":
        await _push(ctx, push.alerts_event())  # subscribers' price alerts: the banners' counts moved
    return result


def _format_of(content_type: str) -> str:
    kind = content_type.split(";")[0].strip().lower()
    if kind == "application/ld+json":
        return "jsonld"
    if kind == "application/json":
        return "json"
    return "csv"


@router.get("/admin/editors/{user_id}", response_model=s.EditorScopeOut)
async def editor_scope(caller: CurrentCaller, session: ReadSession, user_id: PathId) -> s.EditorScopeOut:
    require(caller, Permission.manage_users)
    return await service.editor_scope(session, user_id)


@router.put("/admin/editors/{user_id}", response_model=s.EditorScopeOut)
async def set_editor_scope(
    body: s.EditorScopeIn, caller: CurrentCaller, session: Session, ctx: Ctx, user_id: PathId
) -> s.EditorScopeOut:
    require(caller, Permission.manage_users)
    out = await service.set_editor_scope(session, caller.actor, user_id, body, now=ctx.clock.now())
    await session.commit()
    return out
