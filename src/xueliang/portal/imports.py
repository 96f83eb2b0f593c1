"""Bulk imports of portal content: departments, services and jobs from CSV or JSON (jobs also JSON-LD
JobPosting), prices from CSV.

All or nothing: every row is parsed, validated and checked against the editor's reach first; if any
row is bad, nothing is written and the answer names each bad line (CSV: the file's line, the header
being line 1; JSON: the item's number from 1). Only then are the rows written, in the caller's
transaction, with one audit row for the import."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from xueliang.audit import service as audit
from xueliang.audit.service import Actor
from xueliang.core.errors import ValidationFailed
from xueliang.portal import schemas as s
from xueliang.portal import service, upstream
from xueliang.portal.models import PortalDepartment, PortalJob, PortalMarket, PortalProduct, PortalService
from xueliang.portal.policy import EditorReach, may_edit_department

KINDS = ("services", "jobs", "departments", "prices")
LIST_FIELDS = {"phones", "materials", "categories"}
MAX_ROWS = 20_000


@dataclass(frozen=True)
class RowError:
    line: int
    message: str


class ImportRejected(ValidationFailed):
    code = "import_invalid"

    def __init__(self, errors: list[RowError]) -> None:
        shown = "; ".join(f"line {e.line}: {e.message}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"nothing imported: {shown}{more}")
        self.errors = errors


def _csv_rows(text: str) -> list[tuple[int, dict[str, Any]]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    rows: list[tuple[int, dict[str, Any]]] = []
    try:
        return _read_csv(reader, rows)
    except csv.Error as exc:  # a NUL byte, a field beyond the csv module's limit, an unclosed quote
        raise ImportRejected([RowError(reader.line_num or 1, f"not CSV: {exc}")]) from exc


def _read_csv(
    reader: csv.DictReader[str], rows: list[tuple[int, dict[str, Any]]]
) -> list[tuple[int, dict[str, Any]]]:
    for raw in reader:
        row: dict[str, Any] = {}
        for key, value in raw.items():
            if key is None:
                raise ImportRejected([RowError(reader.line_num, "more fields than the header names")])
            value = (value or "").strip()
            if value == "":
                continue
            row[key.strip()] = (
                [v.strip() for v in value.split("|") if v.strip()] if key.strip() in LIST_FIELDS else value
            )
        rows.append((reader.line_num, row))
    return rows


def _json_items(text: str) -> list[Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ImportRejected([RowError(exc.lineno, f"not JSON: {exc.msg}")]) from exc
    if isinstance(data, dict):
        data = data.get("items", data.get("@graph", [data]))
    if not isinstance(data, list):
        raise ImportRejected([RowError(1, "expected a list of objects")])
    return data


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _jobposting(item: dict[str, Any]) -> dict[str, Any]:
    """schema.org JobPosting -> our job fields."""
    if item.get("@type", "JobPosting") != "JobPosting":
        raise ValueError(f"@type must be JobPosting, not {item.get('@type')!r}")
    org = item.get("hiringOrganization")
    employer = org.get("name") if isinstance(org, dict) else org
    location = _first(item.get("jobLocation"))
    city = None
    if isinstance(location, dict):
        address = location.get("address")
        city = address.get("addressLocality") if isinstance(address, dict) else address
    salary = item.get("baseSalary")
    value = salary.get("value") if isinstance(salary, dict) else None
    low = high = unit = None
    if isinstance(value, dict):
        low = value.get("minValue", value.get("value"))
        high = value.get("maxValue", value.get("value"))
        unit = value.get("unitText")
    contact = item.get("applicationContact")
    if isinstance(contact, dict):
        contact = " ".join(str(contact[k]) for k in ("name", "telephone", "email") if contact.get(k))
    out = {
        "title": item.get("title"),
        "employer": employer,
        "city": city,
        "type": _first(item.get("employmentType")),
        "salary_min": low,
        "salary_max": high,
        "salary_unit": unit,
        "work_hours": item.get("workHours"),
        "requirements": item.get("qualifications")
        or item.get("experienceRequirements")
        or item.get("description"),
        "contact": contact,
        "date_posted": item.get("datePosted"),
        "valid_through": item.get("validThrough"),
        "department": item.get("department"),
    }
    return {k: v for k, v in out.items() if v is not None}


def parse(text: str, fmt: str, kind: str) -> tuple[list[tuple[int, dict[str, Any]]], list[RowError]]:
    """The rows with their lines, and the lines that are not even rows (checked on with the others)."""
    if kind not in KINDS:
        raise ValidationFailed(f"unknown import {kind!r}; known: {', '.join(KINDS)}")
    if fmt not in ("csv", "json", "jsonld"):
        raise ValidationFailed("format must be csv, json or jsonld")
    if kind == "prices" and fmt != "csv":
        raise ValidationFailed("prices are imported from CSV")
    if fmt == "jsonld" and kind != "jobs":
        raise ValidationFailed("JSON-LD imports are JobPosting jobs")
    errors: list[RowError] = []
    if fmt == "csv":
        rows = _csv_rows(text)
    else:
        rows = []
        for n, item in enumerate(_json_items(text), start=1):
            if not isinstance(item, dict):
                errors.append(RowError(n, "expected an object"))
                continue
            try:
                rows.append((n, _jobposting(item) if fmt == "jsonld" else dict(item)))
            except ValueError as exc:
                errors.append(RowError(n, str(exc)))
    if not rows and not errors:
        raise ImportRejected([RowError(1, "no rows")])
    if len(rows) > MAX_ROWS:
        raise ImportRejected([RowError(rows[MAX_ROWS][0], f"at most {MAX_ROWS} rows per import")])
    return rows, errors


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(x) for x in e['loc']) or 'row'}: {e['msg']}" for e in exc.errors(include_url=False)
    )


def _model(model: type[BaseModel], data: dict[str, Any]) -> BaseModel:
    return model.model_validate(data)


async def run(
    session: AsyncSession,
    reach: EditorReach,
    actor: Actor,
    kind: str,
    text: str,
    fmt: str,
    *,
    now: Any,
) -> s.ImportResult:
    rows, errors = parse(text, fmt, kind)
    depts = {d.code: d for d in await session.scalars(select(PortalDepartment))}
    checked: list[tuple[int, BaseModel]] = []

    def dept_id(line: int, row: dict[str, Any], required: bool) -> bool:
        code = row.pop("department", None) or row.pop("department_code", None)
        if code is None:
            if "department_id" in row:
                return True
            if required:
                errors.append(RowError(line, "department: required (a department code)"))
                return False
            return True
        dept = depts.get(str(code))
        if dept is None or not may_edit_department(reach, dept.id):
            errors.append(RowError(line, f"department {code!r} not found"))
            return False
        row["department_id"] = dept.id
        return True

    if kind == "prices":
        return await _prices(session, actor, rows, now=now)
    owned = await upstream.owned_ids(session, kind.removesuffix("s"))  # copies of content from above

    seen: set[Any] = set()
    errors = list(errors)
    for line, row in rows:
        try:
            if kind == "departments":
                model = _model(s.DepartmentIn, row)
                assert isinstance(model, s.DepartmentIn)
                existing = depts.get(model.code)
                if (existing is None and not reach.county) or (
                    existing is not None and not may_edit_department(reach, existing.id)
                ):
                    errors.append(RowError(line, f"department {model.code!r}: outside what you may change"))
                    continue
                if existing is not None and existing.id in owned:
                    errors.append(RowError(line, f"department {model.code!r}: {upstream.OWNED_ABOVE}"))
                    continue
                key: Any = model.code
            elif kind == "services":
                if not dept_id(line, row, required=True):
                    continue
                model = _model(s.ServiceIn, row)
                assert isinstance(model, s.ServiceIn)
                if not may_edit_department(reach, model.department_id):
                    errors.append(RowError(line, "department not found"))
                    continue
                key = model.code
            else:
                if not dept_id(line, row, required=False):
                    continue
                model = _model(s.JobIn, row)
                assert isinstance(model, s.JobIn)
                if not may_edit_department(reach, model.department_id):
                    errors.append(RowError(line, "a job of no department needs the county scope"))
                    continue
                key = (model.title, model.employer, model.city, model.date_posted)
        except ValidationError as exc:
            errors.append(RowError(line, _problems(exc)))
            continue
        if key in seen:
            errors.append(
                RowError(line, f"repeats an earlier row ({key if isinstance(key, str) else key[0]})")
            )
            continue
        seen.add(key)
        checked.append((line, model))
    if errors:
        raise ImportRejected(sorted(errors, key=lambda e: e.line))

    created = updated = 0
    if kind == "departments":
        for _, model in checked:
            assert isinstance(model, s.DepartmentIn)
            existing = depts.get(model.code)
            if existing is None:
                session.add(PortalDepartment(**model.model_dump(), updated_at=now))
                created += 1
            else:
                for name, value in model.model_dump().items():
                    setattr(existing, name, value)
                existing.updated_at = now
                updated += 1
    elif kind == "services":
        codes = [m.code for _, m in checked if isinstance(m, s.ServiceIn)]
        have = {
            r.code: r
            for r in await session.scalars(select(PortalService).where(PortalService.code.in_(codes)))
        }
        for line, model in checked:
            assert isinstance(model, s.ServiceIn)
            current = have.get(model.code)
            if current is not None and not may_edit_department(reach, current.department_id):
                raise ImportRejected([RowError(line, f"service {model.code!r}: outside what you may change")])
            if current is not None and current.id in owned:
                raise ImportRejected([RowError(line, f"service {model.code!r}: {upstream.OWNED_ABOVE}")])
            if current is None:
                session.add(PortalService(**model.model_dump(), updated_at=now))
                created += 1
            else:
                for name, value in model.model_dump().items():
                    setattr(current, name, value)
                current.updated_at = now
                updated += 1
    else:
        for line, model in checked:
            assert isinstance(model, s.JobIn)
            found = (
                await session.scalars(
                    select(PortalJob).where(
                        PortalJob.title == model.title,
                        PortalJob.employer == model.employer,
                        PortalJob.city == model.city,
                        PortalJob.date_posted == model.date_posted,
                    )
                )
            ).first()
            if found is not None and found.id in owned:
                raise ImportRejected([RowError(line, f"job {model.title!r}: {upstream.OWNED_ABOVE}")])
            values = model.model_dump()
            values["job_type"] = values.pop("type")
            if found is None:
                session.add(PortalJob(**values, updated_at=now))
                created += 1
            else:
                for name, value in values.items():
                    setattr(found, name, value)
                found.updated_at = now
                updated += 1
    await session.flush()
    await audit.append(
        session,
        actor,
        f"portal.import.{kind}",
        at=now,
        target_type="portal_import",
        target_id=kind,
        detail={"format": fmt, "created": created, "updated": updated},
    )
    return s.ImportResult(created=created, updated=updated)


async def _prices(
    session: AsyncSession, actor: Actor, rows: list[tuple[int, dict[str, Any]]], *, now: Any
) -> s.ImportResult:
    """CSV columns: day, product (code), market (code), price (yuan)."""
    prods = {p.code: p.id for p in await session.scalars(select(PortalProduct))}
    owned = await upstream.owned_ids(session, "product")  # the county's products: priced above
    mkts = {m.code: m.id for m in await session.scalars(select(PortalMarket))}
    errors: list[RowError] = []
    by_day: dict[date, dict[tuple[int, int], service.NewPrice]] = {}
    for line, row in rows:
        problems = []
        try:
            day = s.PricesIn.model_validate(
                {"day": row.get("day"), "items": [{"product_id": 1, "market_id": 1, "price": 1}]}
            ).day
        except ValidationError:
            problems.append(f"day: not a date between 1970 and 2200: {row.get('day')!r}")
            day = None
        product = prods.get(str(row.get("product", "")))
        if product is None:
            problems.append(f"product: unknown code {row.get('product')!r}")
        elif product in owned:
            problems.append(f"product {row.get('product')!r}: {upstream.OWNED_ABOVE}")
        market = mkts.get(str(row.get("market", "")))
        if market is None:
            problems.append(f"market: unknown code {row.get('market')!r}")
        try:
            price = float(row.get("price", ""))
            if not 0 < price <= 1_000_000 or price != price:
                raise ValueError
        except ValueError:
            problems.append(f"price: not a positive number of yuan: {row.get('price')!r}")
            price = 0.0
        if problems:
            errors.append(RowError(line, "; ".join(problems)))
            continue
        assert day is not None and product is not None and market is not None
        day_prices = by_day.setdefault(day, {})
        if (product, market) in day_prices:
            errors.append(RowError(line, "repeats an earlier row (same day, product and market)"))
            continue
        day_prices[(product, market)] = service.NewPrice(product, market, service.fen(price))
    if errors:
        raise ImportRejected(errors)
    written = 0
    for day in sorted(by_day):
        n, _ = await service.set_prices(
            session, actor, day, list(by_day[day].values()), now=now, audit_it=False
        )
        written += n
    await audit.append(
        session,
        actor,
        "portal.import.prices",
        at=now,
        target_type="portal_import",
        target_id="prices",
        detail={"days": len(by_day), "prices": written},
    )
    return s.ImportResult(created=written, updated=0)
