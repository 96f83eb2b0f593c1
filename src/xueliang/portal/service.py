"""Portal queries and changes: the directory, services, jobs, prices, subscriptions, notices and the
search index. Plain async functions on the caller's session; they never commit (the caller does, then
calls `content_changed` so the search index is rebuilt). Every change is audited in the same
transaction; what the caller may not see is answered as missing (404)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, and_, cast, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.accounts.models import Role, User
from xueliang.accounts.policy import Principal, scope_filter
from xueliang.audit import service as audit
from xueliang.audit.service import Actor
from xueliang.core.db import database_key
from xueliang.core.errors import Conflict, NotFound, ValidationFailed
from xueliang.portal import schemas as s
from xueliang.portal import upstream
from xueliang.portal.models import (
    EditorScope,
    NoticeRead,
    PortalDepartment,
    PortalJob,
    PortalMarket,
    PortalNotice,
    PortalPrice,
    PortalProduct,
    PortalService,
    PriceAlert,
    PriceSubscription,
)
from xueliang.portal.policy import (
    EditorReach,
    department_filter,
    may_edit_department,
    may_publish_to,
    may_read_notice,
    region_ancestors,
)
from xueliang.regions.models import Household, Region

if TYPE_CHECKING:
    from xueliang.portal.search import SearchIndex

PREVIOUS_LOOKBACK = timedelta(days=14)  # "the previous day" is the latest price within this


def fen(yuan: float) -> int:
    return round(yuan * 100)


def yuan(value: int | None) -> float | None:
    return None if value is None else value / 100


async def _flush_or_conflict(session: AsyncSession, message: str) -> None:
    """A unique constraint that a concurrent request won first (PostgreSQL; SQLite writes one at a
    time) is a 409 for the caller, not a driver error."""
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(message) from exc


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# -- search ------------------------------------------------------------------------------------------


async def search_index(session: AsyncSession) -> SearchIndex:
    """The index of this database, built from published content when missing or stale."""
    from xueliang.portal.search import CACHE, Entry, SearchIndex  # numpy: on the first search, not on import

    key = database_key(session)
    found = CACHE.get(key)
    if found is not None:
        return found
    depts = {d.id: d for d in await session.scalars(select(PortalDepartment))}
    entries = [Entry("department", d.id, d.name, d.name_en, "") for d in depts.values()]
    services = await session.execute(
        select(
            PortalService.id, PortalService.title, PortalService.title_en, PortalService.department_id
        ).where(PortalService.published.is_(True))
    )
    entries += [
        Entry("service", i, t, te, depts[d].name if d in depts else "") for i, t, te, d in services.all()
    ]
    jobs = await session.execute(
        select(
            PortalJob.id,
            PortalJob.title,
            PortalJob.title_en,
            PortalJob.employer,
            PortalJob.city,
            PortalJob.valid_through,
        ).where(PortalJob.published.is_(True))
    )
    entries += [Entry("job", i, t, te, f"{e} · {c}", vt) for i, t, te, e, c, vt in jobs.all()]
    index = SearchIndex(entries)
    CACHE.put(key, index)
    return index


def content_changed(session: AsyncSession) -> None:
    """After a commit that changed services, departments or jobs: the next search rebuilds."""
    from xueliang.portal.search import CACHE

    CACHE.invalidate(database_key(session))


def content_changed_key(key: str) -> None:
    """`content_changed` for the database `key` (`database_key`), from code that holds no session."""
    from xueliang.portal.search import CACHE

    CACHE.invalidate(key)


# -- departments -------------------------------------------------------------------------------------


async def _service_counts(session: AsyncSession) -> dict[int, int]:
    rows = await session.execute(
        select(PortalService.department_id, func.count())
        .where(PortalService.published.is_(True))
        .group_by(PortalService.department_id)
    )
    return {d: n for d, n in rows.all()}


def department_out(d: PortalDepartment, services: int) -> s.DepartmentOut:
    return s.DepartmentOut(
        id=d.id,
        code=d.code,
        name=d.name,
        name_en=d.name_en,
        phones=list(d.phones),
        address=d.address,
        hours=d.hours,
        duties=d.duties,
        duties_en=d.duties_en,
        services=services,
    )


async def list_departments(
    session: AsyncSession, *, q: str | None, limit: int, offset: int, only: frozenset[int] | None = None
) -> s.Page[s.DepartmentOut]:
    stmt = select(PortalDepartment)
    if only is not None:
        stmt = stmt.where(PortalDepartment.id.in_(sorted(only)))
    if q:
        stmt = stmt.where(
            or_(
                PortalDepartment.name.like(_like(q), escape="\\"),
                PortalDepartment.duties.like(_like(q), escape="\\"),
            )
        )
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await session.scalars(stmt.order_by(PortalDepartment.id).limit(limit).offset(offset))
    counts = await _service_counts(session)
    return s.Page(items=[department_out(d, counts.get(d.id, 0)) for d in rows], total=total)


async def get_department(session: AsyncSession, department_id: int) -> PortalDepartment:
    dept = await session.get(PortalDepartment, department_id)
    if dept is None:
        raise NotFound("department not found")
    return dept


async def department_detail(session: AsyncSession, department_id: int) -> s.DepartmentOut:
    dept = await get_department(session, department_id)
    return department_out(dept, (await _service_counts(session)).get(dept.id, 0))


async def _audit(
    session: AsyncSession,
    actor: Actor,
    action: str,
    now: datetime,
    kind: str,
    target: int,
    detail: dict[str, Any],
) -> None:
    await audit.append(session, actor, action, at=now, target_type=kind, target_id=target, detail=detail)


async def create_department(
    session: AsyncSession, reach: EditorReach, actor: Actor, body: s.DepartmentIn, *, now: datetime
) -> PortalDepartment:
    if not reach.county:
        raise NotFound("department not found")
    if (await session.scalars(select(PortalDepartment.id).where(PortalDepartment.code == body.code))).first():
        raise Conflict(f"department {body.code!r} already exists")
    dept = PortalDepartment(**body.model_dump(), updated_at=now)
    session.add(dept)
    await session.flush()
    await _audit(
        session, actor, "portal.department.create", now, "portal_department", dept.id, {"code": dept.code}
    )
    return dept


async def editable_department(
    session: AsyncSession, reach: EditorReach, department_id: int
) -> PortalDepartment:
    dept = await session.get(PortalDepartment, department_id)
    if dept is None or not may_edit_department(reach, dept.id):
        raise NotFound("department not found")
    return dept


async def update_department(
    session: AsyncSession,
    reach: EditorReach,
    actor: Actor,
    department_id: int,
    patch: s.DepartmentPatch,
    *,
    now: datetime,
) -> PortalDepartment:
    dept = await editable_department(session, reach, department_id)
    await upstream.refuse_if_owned_above(session, "department", dept.id)
    changes = patch.model_dump(exclude_unset=True)
    for name, value in changes.items():
        if value is not None:  # null is "no change", as for services: these columns hold no nulls
            setattr(dept, name, value)
    dept.updated_at = now
    await _audit(
        session,
        actor,
        "portal.department.update",
        now,
        "portal_department",
        dept.id,
        {"fields": sorted(changes)},
    )
    return dept


# -- services ----------------------------------------------------------------------------------------


def _brief(row: PortalService, departments: dict[int, tuple[str, str]]) -> s.ServiceBrief:
    name, name_en = departments.get(row.department_id, ("", ""))
    return s.ServiceBrief(
        id=row.id,
        code=row.code,
        title=row.title,
        title_en=row.title_en,
        department_id=row.department_id,
        department=name,
        department_en=name_en,
        categories=list(row.categories),
        published=row.published,
    )


def service_out(row: PortalService, department: tuple[str, str]) -> s.ServiceOut:
    return s.ServiceOut(
        **_brief(row, {row.department_id: department}).model_dump(),
        conditions=row.conditions,
        materials=list(row.materials),
        where=row.where,
        when=row.when,
        time_limit=row.time_limit,
        fees=row.fees,
        phone=row.phone,
        online_url=row.online_url,
        summary=row.summary,
        updated_at=row.updated_at,
    )


async def list_services(
    session: AsyncSession,
    reach: EditorReach,
    *,
    category: str | None = None,
    department_id: int | None = None,
    q: str | None = None,
    published: bool | None = None,
    manage: bool = False,
    limit: int,
    offset: int,
) -> s.Page[s.ServiceBrief]:
    """Residents' view (`manage` False): published only. Editors' view: what they may edit."""
    stmt = select(PortalService)
    if manage:
        stmt = stmt.where(department_filter(reach, PortalService.department_id))
        if published is not None:
            stmt = stmt.where(PortalService.published.is_(published))
    else:
        stmt = stmt.where(PortalService.published.is_(True))
    if category:
        if category not in s.CATEGORIES:
            raise ValidationFailed(f"unknown category {category!r}")
        stmt = stmt.where(cast(PortalService.categories, String).like(f'%"{category}"%'))
    if department_id is not None:
        stmt = stmt.where(PortalService.department_id == department_id)
    if q:
        stmt = stmt.where(PortalService.title.like(_like(q), escape="\\"))
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = (
        await session.execute(  # with the department's names in the same query, not all 60 read apart
            stmt.add_columns(PortalDepartment.name, PortalDepartment.name_en)
            .outerjoin(PortalDepartment, PortalDepartment.id == PortalService.department_id)
            .order_by(PortalService.code)
            .limit(limit)
            .offset(offset)
        )
    ).all()
    items = [_brief(r, {r.department_id: (name or "", name_en or "")}) for r, name, name_en in rows]
    return s.Page(items=items, total=total)


async def categories(session: AsyncSession) -> list[s.CategoryOut]:
    counts = dict.fromkeys(s.CATEGORIES, 0)
    for cats in await session.scalars(
        select(PortalService.categories).where(PortalService.published.is_(True))
    ):
        for c in cats:
            if c in counts:
                counts[c] += 1
    return [s.CategoryOut(code=c, name=n, name_en=e, count=counts[c]) for c, (n, e) in s.CATEGORIES.items()]


async def get_service(session: AsyncSession, reach: EditorReach, service_id: int) -> PortalService:
    row = await session.get(PortalService, service_id)
    if row is None or not (row.published or may_edit_department(reach, row.department_id)):
        raise NotFound("service not found")
    return row


async def editable_service(session: AsyncSession, reach: EditorReach, service_id: int) -> PortalService:
    row = await session.get(PortalService, service_id)
    if row is None or not may_edit_department(reach, row.department_id):
        raise NotFound("service not found")
    return row


async def department_name(session: AsyncSession, department_id: int) -> tuple[str, str]:
    """(name, English name) of a service's department."""
    dept = await session.get(PortalDepartment, department_id)
    return (dept.name, dept.name_en) if dept is not None else ("", "")


async def create_service(
    session: AsyncSession, reach: EditorReach, actor: Actor, body: s.ServiceIn, *, now: datetime
) -> PortalService:
    await editable_department(session, reach, body.department_id)
    if (await session.scalars(select(PortalService.id).where(PortalService.code == body.code))).first():
        raise Conflict(f"service {body.code!r} already exists")
    row = PortalService(**body.model_dump(), updated_at=now)
    session.add(row)
    await session.flush()
    await _audit(
        session,
        actor,
        "portal.service.create",
        now,
        "portal_service",
        row.id,
        {"code": row.code, "department_id": row.department_id, "published": row.published},
    )
    return row


async def update_service(
    session: AsyncSession,
    reach: EditorReach,
    actor: Actor,
    service_id: int,
    patch: s.ServicePatch,
    *,
    now: datetime,
) -> PortalService:
    row = await editable_service(session, reach, service_id)
    await upstream.refuse_if_owned_above(session, "service", row.id)
    changes = patch.model_dump(exclude_unset=True)
    if changes.get("department_id") is not None:
        await editable_department(session, reach, changes["department_id"])
    for name, value in changes.items():
        if value is not None:
            setattr(row, name, value)
    row.updated_at = now
    await _audit(
        session, actor, "portal.service.update", now, "portal_service", row.id, {"fields": sorted(changes)}
    )
    return row


async def publish_service(
    session: AsyncSession,
    reach: EditorReach,
    actor: Actor,
    service_id: int,
    published: bool,
    *,
    now: datetime,
) -> PortalService:
    row = await editable_service(session, reach, service_id)
    await upstream.refuse_if_owned_above(session, "service", row.id)
    row.published = published
    row.updated_at = now
    action = "portal.service.publish" if published else "portal.service.unpublish"
    await _audit(session, actor, action, now, "portal_service", row.id, {"code": row.code})
    return row


# -- jobs --------------------------------------------------------------------------------------------


def job_out(row: PortalJob) -> s.JobOut:
    return s.JobOut(
        id=row.id,
        title=row.title,
        title_en=row.title_en,
        employer=row.employer,
        city=row.city,
        type=row.job_type,
        salary_min=row.salary_min,
        salary_max=row.salary_max,
        salary_unit=row.salary_unit,
        work_hours=row.work_hours,
        requirements=row.requirements,
        contact=row.contact,
        date_posted=row.date_posted,
        valid_through=row.valid_through,
        department_id=row.department_id,
        published=row.published,
    )


async def list_jobs(
    session: AsyncSession,
    reach: EditorReach,
    *,
    now: datetime,
    city: str | None = None,
    job_type: str | None = None,
    q: str | None = None,
    published: bool | None = None,
    manage: bool = False,
    limit: int,
    offset: int,
) -> s.Page[s.JobOut]:
    """Residents see published postings still valid (expired ones vanish by themselves); editors see
    every posting they may edit, expired ones too."""
    stmt = select(PortalJob)
    if manage:
        stmt = stmt.where(department_filter(reach, PortalJob.department_id))
        if published is not None:
            stmt = stmt.where(PortalJob.published.is_(published))
    else:
        stmt = stmt.where(PortalJob.published.is_(True), PortalJob.valid_through > now)
    if city:
        stmt = stmt.where(PortalJob.city == city)
    if job_type:
        if job_type not in s.JOB_TYPES:
            raise ValidationFailed(f"unknown job type {job_type!r}; known: {', '.join(s.JOB_TYPES)}")
        stmt = stmt.where(PortalJob.job_type == job_type)
    if q:
        stmt = stmt.where(
            or_(PortalJob.title.like(_like(q), escape="\\"), PortalJob.employer.like(_like(q), escape="\\"))
        )
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = await session.scalars(
        stmt.order_by(PortalJob.date_posted.desc(), PortalJob.id.desc()).limit(limit).offset(offset)
    )
    return s.Page(items=[job_out(r) for r in rows], total=total)


async def job_cities(session: AsyncSession, *, now: datetime) -> list[s.CityOut]:
    rows = await session.execute(
        select(PortalJob.city, func.count())
        .where(PortalJob.published.is_(True), PortalJob.valid_through > now)
        .group_by(PortalJob.city)
        .order_by(func.count().desc(), PortalJob.city)
    )
    return [s.CityOut(city=c, count=n) for c, n in rows.all()]


async def get_job(session: AsyncSession, reach: EditorReach, job_id: int, *, now: datetime) -> PortalJob:
    row = await session.get(PortalJob, job_id)
    if row is None:
        raise NotFound("job not found")
    if may_edit_department(reach, row.department_id):
        return row
    if not row.published or row.valid_through <= now:
        raise NotFound("job not found")
    return row


async def editable_job(session: AsyncSession, reach: EditorReach, job_id: int) -> PortalJob:
    row = await session.get(PortalJob, job_id)
    if row is None or not may_edit_department(reach, row.department_id):
        raise NotFound("job not found")
    return row


def _job_columns(values: dict[str, Any]) -> dict[str, Any]:
    if "type" in values:
        values["job_type"] = values.pop("type")
    return values


async def create_job(
    session: AsyncSession, reach: EditorReach, actor: Actor, body: s.JobIn, *, now: datetime
) -> PortalJob:
    if not may_edit_department(reach, body.department_id):
        raise NotFound("department not found")
    if body.department_id is not None:
        await get_department(session, body.department_id)
    row = PortalJob(**_job_columns(body.model_dump()), updated_at=now)
    session.add(row)
    await session.flush()
    await _audit(
        session, actor, "portal.job.create", now, "portal_job", row.id, {"title": row.title, "city": row.city}
    )
    return row


async def update_job(
    session: AsyncSession, reach: EditorReach, actor: Actor, job_id: int, patch: s.JobPatch, *, now: datetime
) -> PortalJob:
    row = await editable_job(session, reach, job_id)
    await upstream.refuse_if_owned_above(session, "job", row.id)
    changes = _job_columns(patch.model_dump(exclude_unset=True))
    for name, value in changes.items():
        if value is not None or name in ("salary_min", "salary_max"):
            setattr(row, name, value)
    if row.salary_min is not None and row.salary_max is not None and row.salary_max < row.salary_min:
        raise ValidationFailed("salary_max is below salary_min")
    row.updated_at = now
    await _audit(session, actor, "portal.job.update", now, "portal_job", row.id, {"fields": sorted(changes)})
    return row


async def publish_job(
    session: AsyncSession, reach: EditorReach, actor: Actor, job_id: int, published: bool, *, now: datetime
) -> PortalJob:
    row = await editable_job(session, reach, job_id)
    await upstream.refuse_if_owned_above(session, "job", row.id)
    row.published = published
    row.updated_at = now
    action = "portal.job.publish" if published else "portal.job.unpublish"
    await _audit(session, actor, action, now, "portal_job", row.id, {"title": row.title})
    return row


# -- prices ------------------------------------------------------------------------------------------


async def products(session: AsyncSession) -> list[PortalProduct]:
    return list(await session.scalars(select(PortalProduct).order_by(PortalProduct.id)))


async def markets(session: AsyncSession) -> list[PortalMarket]:
    return list(await session.scalars(select(PortalMarket).order_by(PortalMarket.id)))


async def latest_day(session: AsyncSession) -> date | None:
    return (await session.execute(select(func.max(PortalPrice.day)))).scalar_one()


async def _previous(
    session: AsyncSession, day: date, pairs: set[tuple[int, int]] | None = None
) -> dict[tuple[int, int], int]:
    """The latest price before `day` of each product x market (within PREVIOUS_LOOKBACK)."""
    rows = await session.execute(
        select(PortalPrice.product_id, PortalPrice.market_id, PortalPrice.price_fen)
        .where(PortalPrice.day < day, PortalPrice.day >= day - PREVIOUS_LOOKBACK)
        .order_by(PortalPrice.day.desc())
    )
    found: dict[tuple[int, int], int] = {}
    for p, m, price in rows.all():
        if (p, m) not in found and (pairs is None or (p, m) in pairs):
            found[(p, m)] = price
    return found


def change_pct(price: int, previous: int | None) -> float | None:
    if previous is None or previous == 0:
        return None
    return round((price - previous) * 100 / previous, 2)


async def price_rows(
    session: AsyncSession, *, day: date | None, market_id: int | None = None, product_id: int | None = None
) -> s.PricesOut:
    day = day or await latest_day(session)
    if day is None:
        return s.PricesOut(day=None, items=[])
    stmt = (
        select(PortalPrice, PortalProduct, PortalMarket)
        .join(PortalProduct, PortalProduct.id == PortalPrice.product_id)
        .join(PortalMarket, PortalMarket.id == PortalPrice.market_id)
        .where(PortalPrice.day == day)
        .order_by(PortalProduct.id, PortalMarket.id)
    )
    if market_id is not None:
        stmt = stmt.where(PortalPrice.market_id == market_id)
    if product_id is not None:
        stmt = stmt.where(PortalPrice.product_id == product_id)
    rows = (await session.execute(stmt)).all()
    previous = await _previous(session, day)
    items = []
    for price, prod, market in rows:
        prev = previous.get((prod.id, market.id))
        items.append(
            s.PriceRow(
                product_id=prod.id,
                product=prod.name,
                product_en=prod.name_en,
                unit=prod.unit,
                market_id=market.id,
                market=market.name,
                market_en=market.name_en,
                day=price.day,
                price=price.price_fen / 100,
                previous=yuan(prev),
                change=yuan(None if prev is None else price.price_fen - prev),
                change_pct=change_pct(price.price_fen, prev),
            )
        )
    return s.PricesOut(day=day, items=items)


async def movers(session: AsyncSession, *, day: date | None, limit: int) -> s.MoversOut:
    table = await price_rows(session, day=day)
    moved = [r for r in table.items if r.change_pct is not None]
    risers = sorted((r for r in moved if (r.change_pct or 0) > 0), key=lambda r: -(r.change_pct or 0))
    fallers = sorted((r for r in moved if (r.change_pct or 0) < 0), key=lambda r: r.change_pct or 0)
    return s.MoversOut(day=table.day, risers=risers[:limit], fallers=fallers[:limit])


async def series(session: AsyncSession, *, product_id: int, market_id: int | None, days: int) -> s.SeriesOut:
    prod = await session.get(PortalProduct, product_id)
    if prod is None:
        raise NotFound("product not found")
    end = await latest_day(session)
    stmt = (
        select(PortalPrice.market_id, PortalPrice.day, PortalPrice.price_fen)
        .where(PortalPrice.product_id == product_id)
        .order_by(PortalPrice.market_id, PortalPrice.day)
    )
    if end is not None:
        stmt = stmt.where(PortalPrice.day > end - timedelta(days=days))
    if market_id is not None:
        stmt = stmt.where(PortalPrice.market_id == market_id)
    names = {m.id: m.name for m in await markets(session)}
    if market_id is not None and market_id not in names:
        raise NotFound("market not found")
    by_market: dict[int, list[s.PointOut]] = {}
    for m, d, price in (await session.execute(stmt)).all():
        by_market.setdefault(m, []).append(s.PointOut(day=d, price=price / 100))
    wanted = [market_id] if market_id is not None else sorted(names)
    return s.SeriesOut(
        product_id=prod.id,
        product=prod.name,
        unit=prod.unit,
        series=[s.MarketSeries(market_id=m, market=names[m], points=by_market.get(m, [])) for m in wanted],
    )


@dataclass(frozen=True)
class NewPrice:
    product_id: int
    market_id: int
    price_fen: int


async def set_prices(
    session: AsyncSession,
    actor: Actor,
    day: date,
    items: Sequence[NewPrice],
    *,
    now: datetime,
    audit_it: bool = True,
) -> tuple[int, int]:
    """Writes the day's prices (a repeat corrects them) and the price alerts of the subscriptions they
    concern. Returns (prices written, alerts made)."""
    product_ids = {i.product_id for i in items}
    market_ids = {i.market_id for i in items}
    known_products = set(
        await session.scalars(select(PortalProduct.id).where(PortalProduct.id.in_(product_ids)))
    )
    known_markets = set(await session.scalars(select(PortalMarket.id).where(PortalMarket.id.in_(market_ids))))
    for item in items:
        if item.product_id not in known_products:
            raise NotFound("product not found")
        if item.market_id not in known_markets:
            raise NotFound("market not found")
    existing = {
        (r.product_id, r.market_id): r
        for r in await session.scalars(
            select(PortalPrice).where(PortalPrice.day == day, PortalPrice.product_id.in_(product_ids))
        )
    }
    latest: dict[tuple[int, int], NewPrice] = {(i.product_id, i.market_id): i for i in items}
    for (p, m), item in latest.items():
        row = existing.get((p, m))
        if row is None:
            session.add(
                PortalPrice(product_id=p, market_id=m, day=day, price_fen=item.price_fen, published_at=now)
            )
        else:
            row.price_fen = item.price_fen
            row.published_at = now
    await _flush_or_conflict(session, "another editor published prices of this day meanwhile; try again")
    alerts = await _make_alerts(session, day, latest, now=now)
    if audit_it:
        await audit.append(
            session,
            actor,
            "portal.prices.publish",
            at=now,
            target_type="portal_prices",
            target_id=day.isoformat(),
            detail={"day": day.isoformat(), "prices": len(latest), "alerts": alerts},
        )
    return len(latest), alerts


def alert_reason(sub: PriceSubscription, price: int, previous: int | None) -> str | None:
    """Why this new price concerns the subscriber, or None. No thresholds: every new price. A
    percentage: a move of at least that much since the previous day. A level: the price moved past it
    (it was not past it the previous day, or there was no previous day)."""
    if sub.threshold_percent is None and sub.above_fen is None and sub.below_fen is None:
        return "published"
    pct = change_pct(price, previous)
    if sub.threshold_percent is not None and pct is not None and abs(pct) >= sub.threshold_percent:
        return "threshold_percent"
    if (
        sub.above_fen is not None
        and price >= sub.above_fen
        and (previous is None or previous < sub.above_fen)
    ):
        return "above"
    if (
        sub.below_fen is not None
        and price <= sub.below_fen
        and (previous is None or previous > sub.below_fen)
    ):
        return "below"
    return None


async def _make_alerts(
    session: AsyncSession, day: date, prices: dict[tuple[int, int], NewPrice], *, now: datetime
) -> int:
    if not prices:
        return 0
    subs = list(
        await session.scalars(
            select(PriceSubscription).where(PriceSubscription.product_id.in_({p for p, _ in prices}))
        )
    )
    if not subs:
        return 0
    previous = await _previous(session, day, set(prices))
    already = {
        (a.subscription_id, a.market_id, a.price_fen)
        for a in await session.scalars(
            select(PriceAlert).where(
                PriceAlert.day == day, PriceAlert.subscription_id.in_([x.id for x in subs])
            )
        )
    }
    made = 0
    for sub in subs:
        for (p, m), item in prices.items():
            if p != sub.product_id or (sub.market_id is not None and sub.market_id != m):
                continue
            prev = previous.get((p, m))
            reason = alert_reason(sub, item.price_fen, prev)
            if reason is None or (sub.id, m, item.price_fen) in already:
                continue
            session.add(
                PriceAlert(
                    user_id=sub.user_id,
                    subscription_id=sub.id,
                    product_id=p,
                    market_id=m,
                    day=day,
                    price_fen=item.price_fen,
                    previous_fen=prev,
                    reason=reason,
                    created_at=now,
                )
            )
            made += 1
    await session.flush()
    return made


# -- subscriptions and price alerts (the caller's own) -----------------------------------------------


async def subscription_out(session: AsyncSession, sub: PriceSubscription) -> s.SubscriptionOut:
    prod = await session.get(PortalProduct, sub.product_id)
    market = await session.get(PortalMarket, sub.market_id) if sub.market_id is not None else None
    return s.SubscriptionOut(
        id=sub.id,
        product_id=sub.product_id,
        product=prod.name if prod else "",
        market_id=sub.market_id,
        market=market.name if market else None,
        threshold_percent=sub.threshold_percent,
        price_above=yuan(sub.above_fen),
        price_below=yuan(sub.below_fen),
        created_at=sub.created_at,
    )


async def list_subscriptions(session: AsyncSession, p: Principal) -> list[s.SubscriptionOut]:
    subs = await session.scalars(
        select(PriceSubscription).where(PriceSubscription.user_id == p.user_id).order_by(PriceSubscription.id)
    )
    return [await subscription_out(session, sub) for sub in subs]


async def subscribe(
    session: AsyncSession, p: Principal, body: s.SubscriptionIn, *, now: datetime
) -> PriceSubscription:
    if await session.get(PortalProduct, body.product_id) is None:
        raise NotFound("product not found")
    if body.market_id is not None and await session.get(PortalMarket, body.market_id) is None:
        raise NotFound("market not found")
    if body.price_above is not None and body.price_below is not None and body.price_below >= body.price_above:
        raise ValidationFailed("price_below must be under price_above")
    market_match = (
        PriceSubscription.market_id.is_(None)
        if body.market_id is None
        else PriceSubscription.market_id == body.market_id
    )
    dup = await session.scalars(
        select(PriceSubscription.id).where(
            PriceSubscription.user_id == p.user_id,
            PriceSubscription.product_id == body.product_id,
            market_match,
        )
    )
    if dup.first() is not None:
        raise Conflict("already subscribed to this product and market")
    sub = PriceSubscription(
        user_id=p.user_id,
        product_id=body.product_id,
        market_id=body.market_id,
        threshold_percent=body.threshold_percent,
        above_fen=None if body.price_above is None else fen(body.price_above),
        below_fen=None if body.price_below is None else fen(body.price_below),
        created_at=now,
    )
    session.add(sub)
    await _flush_or_conflict(session, "already subscribed to this product and market")
    return sub


async def unsubscribe(session: AsyncSession, p: Principal, subscription_id: int) -> None:
    sub = await session.get(PriceSubscription, subscription_id)
    if sub is None or sub.user_id != p.user_id:
        raise NotFound("subscription not found")
    await session.delete(sub)
    await session.flush()


REASON_TEXT = {
    "published": ("今日新价", "new price"),
    "threshold_percent": ("价格变动超过您设的幅度", "moved more than your threshold"),
    "above": ("价格涨过您设的价位", "rose past your level"),
    "below": ("价格跌破您设的价位", "fell past your level"),
}


async def list_alerts(
    session: AsyncSession, p: Principal, *, unread: bool | None, limit: int, offset: int
) -> s.Page[s.PriceAlertOut]:
    stmt = select(PriceAlert).where(PriceAlert.user_id == p.user_id)
    if unread is True:
        stmt = stmt.where(PriceAlert.read_at.is_(None))
    elif unread is False:
        stmt = stmt.where(PriceAlert.read_at.is_not(None))
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = list(await session.scalars(stmt.order_by(PriceAlert.id.desc()).limit(limit).offset(offset)))
    prods = {x.id: x for x in await products(session)}
    mkts = {x.id: x for x in await markets(session)}
    items = []
    for a in rows:
        prod, market = prods[a.product_id], mkts[a.market_id]
        pct = change_pct(a.price_fen, a.previous_fen)
        zh, en = REASON_TEXT.get(a.reason, ("", ""))
        change_zh = "" if pct is None else f"，较前日{'+' if pct >= 0 else ''}{pct:g}%"
        change_en = "" if pct is None else f", {'+' if pct >= 0 else ''}{pct:g}% on the previous day"
        items.append(
            s.PriceAlertOut(
                id=a.id,
                subscription_id=a.subscription_id,
                product_id=a.product_id,
                product=prod.name,
                market_id=a.market_id,
                market=market.name,
                day=a.day,
                price=a.price_fen / 100,
                previous=yuan(a.previous_fen),
                change_pct=pct,
                reason=a.reason,
                message=f"{market.name}{prod.name} {a.price_fen / 100:.2f}元/{prod.unit}{change_zh}（{zh}）",
                message_en=f"{prod.name_en or prod.name} at {market.name_en or market.name}: "
                f"{a.price_fen / 100:.2f} yuan/{prod.unit}{change_en} ({en})",
                created_at=a.created_at,
                read_at=a.read_at,
            )
        )
    return s.Page(items=items, total=total)


async def read_alert(session: AsyncSession, p: Principal, alert_id: int, *, now: datetime) -> None:
    alert = await session.get(PriceAlert, alert_id)
    if alert is None or alert.user_id != p.user_id:
        raise NotFound("price alert not found")
    if alert.read_at is None:
        alert.read_at = now
        await session.flush()


# -- notices -----------------------------------------------------------------------------------------


def _reaching(p: Principal) -> Any:
    return and_(
        PortalNotice.region_path.in_(region_ancestors(p.region_path)), PortalNotice.withdrawn_at.is_(None)
    )


async def _region_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {
        i: n
        for i, n in (await session.execute(select(Region.id, Region.name).where(Region.id.in_(ids)))).all()
    }


def _notice_out(n: PortalNotice, region: str, read: bool) -> s.NoticeOut:
    return s.NoticeOut(
        id=n.id,
        title=n.title,
        title_en=n.title_en,
        body=n.body,
        body_en=n.body_en,
        urgent=n.urgent,
        region_id=n.region_id,
        region=region,
        publisher=n.publisher,
        published_at=n.published_at,
        read=read,
    )


async def _outs(session: AsyncSession, p: Principal, rows: Sequence[PortalNotice]) -> list[s.NoticeOut]:
    names = await _region_names(session, {n.region_id for n in rows})
    read = set()
    if rows:
        read = set(
            await session.scalars(
                select(NoticeRead.notice_id).where(
                    NoticeRead.user_id == p.user_id, NoticeRead.notice_id.in_([n.id for n in rows])
                )
            )
        )
    return [_notice_out(n, names.get(n.region_id, ""), n.id in read) for n in rows]


def _unread(p: Principal) -> Any:
    mine = select(NoticeRead.id).where(
        NoticeRead.notice_id == PortalNotice.id, NoticeRead.user_id == p.user_id
    )
    return ~mine.exists()


async def notices_for(
    session: AsyncSession, p: Principal, *, unread: bool | None, limit: int, offset: int
) -> s.Page[s.NoticeOut]:
    stmt = select(PortalNotice).where(_reaching(p))
    if unread is True:
        stmt = stmt.where(_unread(p))
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    read = (
        select(NoticeRead.id)
        .where(NoticeRead.notice_id == PortalNotice.id, NoticeRead.user_id == p.user_id)
        .exists()
    )
    rows = (
        await session.execute(  # with the region's name and the caller's read flag: one query, not three
            stmt.add_columns(Region.name, read)
            .outerjoin(Region, Region.id == PortalNotice.region_id)
            .order_by(PortalNotice.published_at.desc(), PortalNotice.id.desc())
            .limit(limit)
            .offset(offset)
        )
    ).all()
    return s.Page(
        items=[_notice_out(n, name or "", bool(was_read)) for n, name, was_read in rows], total=total
    )


async def urgent_for(session: AsyncSession, p: Principal) -> list[s.NoticeOut]:
    """Unread urgent notices for the TV's full-screen banner: one query (all unread by definition)."""
    rows = (
        await session.execute(
            select(PortalNotice, Region.name)
            .join(Region, Region.id == PortalNotice.region_id)
            .where(_reaching(p), PortalNotice.urgent.is_(True), _unread(p))
            .order_by(PortalNotice.published_at.desc())
            .limit(20)
        )
    ).all()
    return [_notice_out(n, name, False) for n, name in rows]


async def banner(session: AsyncSession, p: Principal) -> s.BannerOut:
    """What every TV and phone polls: two queries however many notices there are."""
    unread = select(func.count()).select_from(PortalNotice).where(_reaching(p), _unread(p)).scalar_subquery()
    alerts = (
        select(func.count())
        .select_from(PriceAlert)
        .where(PriceAlert.user_id == p.user_id, PriceAlert.read_at.is_(None))
        .scalar_subquery()
    )
    counts = (await session.execute(select(unread, alerts))).one()
    return s.BannerOut(
        urgent=await urgent_for(session, p), notices_unread=counts[0], price_alerts_unread=counts[1]
    )


async def get_notice(session: AsyncSession, p: Principal, notice_id: int) -> PortalNotice:
    n = await session.get(PortalNotice, notice_id)
    if n is None or not may_read_notice(p, n.region_path):
        raise NotFound("notice not found")
    if n.withdrawn_at is not None and not may_publish_to(p, n.region_path):
        raise NotFound("notice not found")
    return n


async def notice_detail(session: AsyncSession, p: Principal, notice_id: int) -> s.NoticeOut:
    return (await _outs(session, p, [await get_notice(session, p, notice_id)]))[0]


async def managed_notice(session: AsyncSession, p: Principal, notice_id: int) -> PortalNotice:
    n = await session.get(PortalNotice, notice_id)
    if n is None or not may_publish_to(p, n.region_path):
        raise NotFound("notice not found")
    return n


async def publish_notice(
    session: AsyncSession, p: Principal, actor: Actor, publisher_name: str, body: s.NoticeIn, *, now: datetime
) -> PortalNotice:
    region = await session.get(Region, body.region_id)
    if region is None or not may_publish_to(p, region.path):
        raise NotFound("region not found")
    n = PortalNotice(
        region_id=region.id,
        region_path=region.path,
        publisher_id=p.user_id or None,
        publisher=publisher_name,
        urgent=body.urgent,
        title=body.title,
        title_en=body.title_en,
        body=body.body,
        body_en=body.body_en,
        published_at=now,
    )
    session.add(n)
    await session.flush()
    await _audit(
        session,
        actor,
        "portal.notice.publish",
        now,
        "portal_notice",
        n.id,
        {"region": region.code, "urgent": n.urgent},
    )
    return n


async def withdraw_notice(
    session: AsyncSession, p: Principal, actor: Actor, notice_id: int, *, now: datetime
) -> PortalNotice:
    n = await managed_notice(session, p, notice_id)
    if n.withdrawn_at is None:
        n.withdrawn_at = now
        await _audit(session, actor, "portal.notice.withdraw", now, "portal_notice", n.id, {})
    return n


async def mark_read(session: AsyncSession, p: Principal, notice_id: int, *, now: datetime) -> None:
    """Idempotent: the first read counts. Only notices aimed at the caller can be read."""
    n = await session.get(PortalNotice, notice_id)
    if n is None or n.withdrawn_at is not None or not p.region_path.startswith(n.region_path):
        raise NotFound("notice not found")
    found = await session.scalars(
        select(NoticeRead.id).where(NoticeRead.notice_id == n.id, NoticeRead.user_id == p.user_id)
    )
    if found.first() is None:
        try:
            async with session.begin_nested():  # a second tap racing the first: already read
                session.add(
                    NoticeRead(notice_id=n.id, user_id=p.user_id, household_id=p.household_id, read_at=now)
                )
        except IntegrityError:
            pass


async def _households_total(session: AsyncSession, region_path: str) -> int:
    return (
        await session.execute(
            select(func.count())
            .select_from(Household)
            .join(Region, Region.id == Household.region_id)
            .where(Region.path.startswith(region_path, autoescape=True))
        )
    ).scalar_one()


async def _households_read(session: AsyncSession, notice_ids: list[int]) -> dict[int, int]:
    if not notice_ids:
        return {}
    rows = await session.execute(
        select(NoticeRead.notice_id, func.count(func.distinct(NoticeRead.household_id)))
        .where(NoticeRead.notice_id.in_(notice_ids), NoticeRead.household_id.is_not(None))
        .group_by(NoticeRead.notice_id)
    )
    return {i: c for i, c in rows.all()}


async def managed_notices(
    session: AsyncSession, p: Principal, *, limit: int, offset: int
) -> s.Page[s.ManagedNoticeOut]:
    stmt = select(PortalNotice).where(scope_filter(p, PortalNotice.region_path))
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = list(
        await session.scalars(
            stmt.order_by(PortalNotice.published_at.desc(), PortalNotice.id.desc())
            .limit(limit)
            .offset(offset)
        )
    )
    outs = await _outs(session, p, rows)
    read = await _households_read(session, [n.id for n in rows])
    totals: dict[str, int] = {}
    items = []
    for n, out in zip(rows, outs, strict=True):
        if n.region_path not in totals:
            totals[n.region_path] = await _households_total(session, n.region_path)
        items.append(
            s.ManagedNoticeOut(
                **out.model_dump(),
                households_total=totals[n.region_path],
                households_read=read.get(n.id, 0),
                withdrawn=n.withdrawn_at is not None,
            )
        )
    return s.Page(items=items, total=total)


async def notice_reads(
    session: AsyncSession, p: Principal, actor: Actor, notice_id: int, *, now: datetime
) -> s.NoticeReadsOut:
    """Which households read the notice: personal data, so the reading is audited."""
    n = await managed_notice(session, p, notice_id)
    rows = (
        await session.execute(
            select(NoticeRead, User.username, Household.code, Household.head_name)
            .join(User, User.id == NoticeRead.user_id)
            .outerjoin(Household, Household.id == NoticeRead.household_id)
            .where(NoticeRead.notice_id == n.id)
            .order_by(NoticeRead.read_at)
        )
    ).all()
    reads = [
        s.NoticeReadOut(
            household_id=r.household_id,
            household_code=code,
            head_name=head,
            username=username,
            read_at=r.read_at,
        )
        for r, username, code, head in rows
    ]
    households = {r.household_id for r in reads if r.household_id is not None}
    await _audit(
        session, actor, "portal.notice.reads", now, "portal_notice", n.id, {"households": len(households)}
    )
    return s.NoticeReadsOut(
        notice_id=n.id,
        households_total=await _households_total(session, n.region_path),
        households_read=len(households),
        reads=reads,
    )


async def managed_notice_out(session: AsyncSession, p: Principal, n: PortalNotice) -> s.ManagedNoticeOut:
    out = (await _outs(session, p, [n]))[0]
    return s.ManagedNoticeOut(
        **out.model_dump(),
        households_total=await _households_total(session, n.region_path),
        households_read=(await _households_read(session, [n.id])).get(n.id, 0),
        withdrawn=n.withdrawn_at is not None,
    )


# -- editors -----------------------------------------------------------------------------------------


async def _editor(session: AsyncSession, user_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None or user.role is not Role.portal_editor:
        raise NotFound("portal editor not found")
    return user


async def editor_scope(session: AsyncSession, user_id: int) -> s.EditorScopeOut:
    await _editor(session, user_id)
    ids = [
        r[0]
        for r in (
            await session.execute(select(EditorScope.department_id).where(EditorScope.user_id == user_id))
        ).all()
    ]
    return s.EditorScopeOut(
        user_id=user_id,
        county=any(i is None for i in ids),
        department_ids=sorted(i for i in ids if i is not None),
    )


async def set_editor_scope(
    session: AsyncSession, actor: Actor, user_id: int, body: s.EditorScopeIn, *, now: datetime
) -> s.EditorScopeOut:
    user = await _editor(session, user_id)
    wanted = sorted(set(body.department_ids))
    if wanted:
        known = set(await session.scalars(select(PortalDepartment.id).where(PortalDepartment.id.in_(wanted))))
        missing = [i for i in wanted if i not in known]
        if missing:
            raise NotFound(f"department {missing[0]} not found")
    await session.execute(delete(EditorScope).where(EditorScope.user_id == user.id))
    if body.county:
        session.add(EditorScope(user_id=user.id, department_id=None))
    for dept_id in wanted:
        session.add(EditorScope(user_id=user.id, department_id=dept_id))
    await session.flush()
    await _audit(
        session,
        actor,
        "portal.editor.scope",
        now,
        "user",
        user.id,
        {"username": user.username, "county": body.county, "departments": wanted},
    )
    return s.EditorScopeOut(user_id=user.id, county=body.county, department_ids=wanted)
