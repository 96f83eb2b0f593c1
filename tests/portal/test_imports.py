"""Bulk imports: all rows are checked first, one bad row and nothing is written, and the answer names
every bad line; editors import only into their departments; jobs also as JSON-LD JobPosting."""

from __future__ import annotations

import json

import httpx

from tests.support.alarms import Login

IMPORT = "/api/v1/portal/admin/import"


async def count(c: httpx.AsyncClient, path: str, **params: str) -> int:
    return int((await c.get(path, params={"limit": "1", **params})).json()["total"])


def csv_body(*lines: str) -> str:
    return "\n".join(lines) + "\n"


SERVICES_HEADER = "code,department,title,title_en,categories,materials,time_limit,fees,published"


async def test_services_csv_with_bad_lines_writes_nothing_and_names_them(plogin: Login) -> None:
    admin = await plogin("admin")
    before = await count(admin, "/api/v1/portal/admin/services")
    bad = csv_body(
        SERVICES_HEADER,
        "IMP-1,rsj,灵活就业社保补贴申领,Flexible employment subsidy,"
        "employment|social_security,身份证|申请表,5个工作日,不收费,true",
        "IMP-2,rsj,某项服务,,nonsense,,,,true",  # line 3: unknown category
        "IMP-3,nowhere,另一项服务,,birth,,,,true",  # line 4: unknown department
        "IMP-4,mzj,,,birth,,,,true",  # line 5: no title
        "IMP-1,rsj,重复一行,,birth,,,,true",  # line 6: repeats line 2
    )
    r = await admin.post(f"{IMPORT}/services", content=bad.encode(), headers={"content-type": "text/csv"})
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "import_invalid"
    assert [e["line"] for e in body["errors"]] == [3, 4, 5, 6]
    assert "categories" in body["errors"][0]["message"] and "nowhere" in body["errors"][1]["message"]
    assert "title" in body["errors"][2]["message"] and "line 3" in body["message"]
    assert await count(admin, "/api/v1/portal/admin/services") == before

    good = csv_body(
        SERVICES_HEADER,
        bad.splitlines()[1],
        "IMP-5,mzj,敬老卡申领,,elderly_care,身份证,即时办结,不收费,false",
    )
    r = await admin.post(f"{IMPORT}/services", params={"format": "csv"}, content=good.encode())
    assert r.status_code == 200, r.text
    assert r.json() == {"created": 2, "updated": 0}
    assert await count(admin, "/api/v1/portal/admin/services") == before + 2
    found = (await admin.get("/api/v1/portal/services", params={"q": "灵活就业社保补贴"})).json()["items"]
    assert found[0]["categories"] == ["employment", "social_security"]
    r = await admin.post(f"{IMPORT}/services", params={"format": "csv"}, content=good.encode())
    assert r.json() == {"created": 0, "updated": 2}, "a second import updates by code"


async def test_department_editor_imports_only_into_their_departments(plogin: Login) -> None:
    editor = await plogin("editor-rsj")
    rows = [
        {
            "code": "IMP-R1",
            "department": "rsj",
            "title": "技能人才评价证书查询",
            "categories": ["employment"],
        },
        {"code": "IMP-R2", "department": "mzj", "title": "殡葬补贴申领", "categories": ["civil_affairs"]},
    ]
    r = await editor.post(f"{IMPORT}/services", json=rows)
    assert r.status_code == 422
    assert [(e["line"], e["message"]) for e in r.json()["errors"]] == [(2, "department 'mzj' not found")]
    r = await editor.post(f"{IMPORT}/services", json=rows[:1])
    assert r.status_code == 200 and r.json()["created"] == 1
    dept = {"code": "new-dept", "name": "县新部门"}
    r = await editor.post(f"{IMPORT}/departments", json=[dept])
    assert r.status_code == 422 and r.json()["errors"][0]["line"] == 1
    r = await editor.post(
        f"{IMPORT}/prices", content=b"day,product,market,price\n2026-12-01,baicai,county,1.5\n"
    )
    assert r.status_code == 422 and r.json()["code"] == "forbidden_scope"


def posting(title: str, **extra: object) -> dict[str, object]:
    return {
        "@context": "https://schema.org/",
        "@type": "JobPosting",
        "title": title,
        "hiringOrganization": {"@type": "Organization", "name": "绵阳长虹配套电子有限公司"},
        "jobLocation": {"@type": "Place", "address": {"@type": "PostalAddress", "addressLocality": "绵阳"}},
        "employmentType": "FULL_TIME",
        "baseSalary": {
            "@type": "MonetaryAmount",
            "currency": "CNY",
            "value": {"@type": "QuantitativeValue", "minValue": 5000, "maxValue": 7000, "unitText": "MONTH"},
        },
        "workHours": "两班倒",
        "qualifications": "18-40岁",
        "applicationContact": {"@type": "ContactPoint", "telephone": "0816-0000000"},
        "datePosted": "2026-12-01",
        "validThrough": "2099-01-31T00:00:00+08:00",
        **extra,
    }


async def test_jobs_from_json_ld_jobposting(plogin: Login) -> None:
    admin = await plogin("admin")
    before = await count(admin, "/api/v1/portal/admin/jobs")
    bad = [
        posting("贴片机操作员"),
        posting("质检员", validThrough="不是日期"),
        {"@type": "Event", "name": "x"},
    ]
    r = await admin.post(
        f"{IMPORT}/jobs", content=json.dumps(bad).encode(), headers={"content-type": "application/ld+json"}
    )
    assert r.status_code == 422
    assert [e["line"] for e in r.json()["errors"]] == [2, 3]
    assert await count(admin, "/api/v1/portal/admin/jobs") == before
    graph = {
        "@context": "https://schema.org/",
        "@graph": [posting("贴片机操作员", published=True), posting("质检员")],
    }
    r = await admin.post(f"{IMPORT}/jobs", params={"format": "jsonld"}, content=json.dumps(graph).encode())
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 2
    jobs = (await admin.get("/api/v1/portal/admin/jobs", params={"q": "贴片机操作员"})).json()["items"]
    job = jobs[0]
    assert (job["city"], job["salary_min"], job["salary_max"], job["salary_unit"]) == (
        "绵阳",
        5000,
        7000,
        "MONTH",
    )
    assert job["employer"] == "绵阳长虹配套电子有限公司" and job["contact"] == "0816-0000000"


async def test_prices_csv_all_or_nothing(plogin: Login) -> None:
    admin = await plogin("admin")
    day = "2020-06-01"  # long before the seed's days: the latest day stays the seed's
    bad = csv_body(
        "day,product,market,price",
        f"{day},baicai,county,1.35",
        f"{day},baicai,county,1.40",  # line 3: repeats line 2
        f"{day},durian,county,30",  # line 4: unknown product
        "2020-02-30,li,county,4",  # line 5: no such day
        f"{day},li,qingxi,-1",  # line 6: not a price
    )
    r = await admin.post(f"{IMPORT}/prices", content=bad.encode())
    assert r.status_code == 422
    assert [e["line"] for e in r.json()["errors"]] == [3, 4, 5, 6]
    assert (await admin.get("/api/v1/portal/prices", params={"day": day})).json()["items"] == []
    good = csv_body("day,product,market,price", f"{day},baicai,county,1.35", f"{day},li,qingxi,4.10")
    r = await admin.post(f"{IMPORT}/prices", content=good.encode())
    assert r.status_code == 200 and r.json()["created"] == 2
    rows = (await admin.get("/api/v1/portal/prices", params={"day": day})).json()["items"]
    assert sorted(x["price"] for x in rows) == [1.35, 4.1]
    garbage = await admin.post(f"{IMPORT}/prices", content=b"\xff\xfe\x00")
    assert garbage.status_code == 422 and garbage.json()["code"] == "invalid"
    nul = await admin.post(f"{IMPORT}/prices", content=b"day,product,market,price\n2020-06-02,li,\x00,1\n")
    assert nul.status_code == 422 and nul.json()["errors"][0]["line"] == 2
