"""The service portal on the phone and the PC (issue 17), in Chromium on the seeded demo county: a
resident on a 390x844 phone finds a service by full pinyin, subscribes to a price with a threshold and
books then cancels a hospital place for a household member; a content editor on the PC imports a CSV
with one bad line (sees the line's error, nothing written), fixes it, publishes and previews the
service as the TV shows it. Screenshots go to test-artifacts/ (browser-portal-*.png)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import FilePayload, Page, expect

from tests.support.browser import NewPage, api_json, login_form
from xueliang.seed.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser

RESIDENT = "res-v08"  # a village no other browser test books for
SERVICE_TITLE = "茶园补贴申领"
SERVICE_PINYIN = "chayuanbutie"


def shot(page: Page, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"browser-portal-{name}.png"), animations="disabled")


def ok(r: httpx.Response) -> Any:
    assert r.is_success, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json() if r.content else None


def id_number(birth: str = "19480615", seq: str = "201") -> str:
    """A valid GB 11643 number (Mao County's area code), its check digit computed here."""
    body = "513223" + birth + seq
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


def test_phone_portal_search_subscribe_book(new_page: NewPage, live_server: Any, artifacts: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    with httpx.Client(base_url=f"{live_server.url}/api/v1", timeout=15) as admin:
        r = ok(admin.post("/auth/login", json={"username": "admin", "password": DEMO_PASSWORD}))
        admin.headers["X-CSRF-Token"] = r["csrf_token"]
        dept = ok(admin.get("/portal/departments", params={"limit": 1}))["items"][0]
        service = ok(
            admin.post(
                "/portal/admin/services",
                json={
                    "code": f"pw-{tag}",
                    "department_id": dept["id"],
                    "title": SERVICE_TITLE,
                    "title_en": "Tea garden subsidy",
                    "categories": ["farming"],
                    "conditions": "本县茶农",
                    "materials": ["身份证", "茶园承包合同"],
                    "where": "县政务服务中心 5 号窗口",
                    "time_limit": "10 个工作日",
                    "fees": "免费",
                    "phone": "0837-7420000",
                    "published": True,
                },
            )
        )

    page = new_page(390, 844, is_mobile=True, has_touch=True)
    login_form(page, live_server.url, RESIDENT, "mobile", "/m")
    # The /m home leads to the portal.
    page.locator("a[href='/m/portal#services']").click()
    expect(page.locator("#portal")).to_have_attribute("data-ready", "services")

    # Search by full pinyin: the service, then its detail with "before you start" first.
    page.fill("#p-q", SERVICE_PINYIN)
    page.keyboard.press("Enter")
    hit = page.locator(f'[data-hit="service:{service["id"]}"]')
    expect(hit).to_be_visible()
    shot(page, artifacts, "phone-search")
    hit.click()
    expect(page.locator("#portal .p-fact h3").first).to_have_text("办理条件")
    expect(page.locator("#portal")).to_contain_text("茶园承包合同")
    expect(page.locator("#portal a.p-tel")).to_have_attribute("href", "tel:08377420000")
    shot(page, artifacts, "phone-service")

    # Prices: open a product, see the 30-day chart, subscribe with a 5 % threshold.
    page.locator("#p-nav a[data-section=prices]").click()
    expect(page.locator("#portal")).to_have_attribute("data-ready", "prices")
    product = page.locator("#portal table a[data-product-id]").first
    product_id = product.get_attribute("data-product-id")
    shot(page, artifacts, "phone-prices")
    product.click()
    expect(page.locator("#portal svg.p-chart path.p-chart-line")).to_be_visible()
    if page.locator("#p-unsubscribe").count():  # a rerun on a reused database: start from no subscription
        page.click("#p-unsubscribe")
    page.fill("#p-sub-pct", "5")
    page.click("#p-sub-save")
    expect(page.locator("#p-subscribed")).to_contain_text("5")
    shot(page, artifacts, "phone-price")
    subs = api_json(page, live_server.url, "/portal/subscriptions")
    assert [s["threshold_percent"] for s in subs if str(s["product_id"]) == product_id] == [5.0]

    # Hospital: a place of the last bookable session (well before the cancel cut-off), a new household
    # member, confirm, the serial number; then cancel it.
    page.locator("#p-nav a[data-section=booking]").click()
    page.locator("#portal a[href^='#booking-hospital/']").first.click()
    page.locator("#portal a[href^='#booking-dept/']").first.click()
    expect(page.locator("#portal")).to_have_attribute("data-ready", "booking-dept")
    shot(page, artifacts, "phone-sessions")
    page.locator("#portal a[href^='#booking-session/']").last.click()
    page.locator("#portal .p-place:enabled").first.click()
    expect(page.locator("#p-member-form")).to_be_visible()
    page.fill("#p-member-name", "王桂英")
    good = id_number()
    bad = good[:-1] + ("1" if good[-1] != "1" else "2")
    page.fill("#p-member-id", bad)  # a wrong check digit: refused by the server's check
    page.fill("#p-member-phone", "13800001234")
    page.click("#p-member-save")
    expect(page.locator("#p-member-error")).not_to_be_empty()
    page.fill("#p-member-id", good)
    page.click("#p-member-save")
    expect(page.locator("#p-book")).to_be_visible()
    page.click("#p-book")
    serial = page.locator("#p-serial b")
    expect(serial).to_have_text(re.compile(r"^[AP]\d+$"))
    shot(page, artifacts, "phone-booked")
    page.click("#p-cancel")
    page.click("#p-cancel-yes")
    expect(page.locator("#p-serial small")).to_have_text("已取消")
    page.click("#p-my-bookings")
    expect(page.locator("#portal [data-state=cancelled]").first).to_be_visible()
    shot(page, artifacts, "phone-bookings")


SERVICES_CSV = (
    "code,department,title,title_en,categories,summary,conditions,materials,where,when,time_limit,fees,phone,"
    "online_url,published\n"
    "{code}-1,rsj,灵活就业登记{tag},Flexible employment registration,employment,登记灵活就业,"
    "本县居民,身份证|户口簿,"
    "县政务服务中心,工作日,即时办结,不收费,0837-7422001,,false\n"
    "{code}-2,{bad},就业困难人员认定{tag},,employment,认定,本县居民,身份证,县政务服务中心,工作日,5个工作日,不收费,"
    "0837-7422001,,false\n"
)


def csv_file(data: bytes) -> FilePayload:
    return {"name": "services.csv", "mimeType": "text/csv", "buffer": data}


def test_editor_imports_publishes_previews(new_page: NewPage, live_server: Any, artifacts: Path) -> None:
    tag = uuid.uuid4().hex[:6]
    page = new_page(1440, 900)
    login_form(page, live_server.url, "editor", "console")
    page.goto(f"{live_server.url}/portal-admin")  # the login's `next` accepts only the console's own pages
    expect(page.locator("#pa-body")).to_have_attribute("data-ready", "services")

    # A CSV with a bad department code on line 3: the line's error, and nothing written.
    bad = SERVICES_CSV.format(code=f"pw{tag}", tag=tag, bad="no-such-dept").encode()
    page.set_input_files("#pa-file", files=csv_file(bad))
    page.click("#pa-import")
    expect(page.locator('#pa-import-result li[data-line="3"]')).to_contain_text("3")
    expect(page.locator('#pa-import-result li[data-line="2"]')).to_have_count(0)
    shot(page, artifacts, "admin-import-error")
    found = api_json(page, live_server.url, f"/portal/admin/services?q={tag}")
    assert found["total"] == 0

    # Fixed: both rows are written, as drafts.
    good = SERVICES_CSV.format(code=f"pw{tag}", tag=tag, bad="rsj").encode()
    page.set_input_files("#pa-file", files=csv_file(good))
    page.click("#pa-import")
    expect(page.locator("#pa-import-result .pa-ok")).to_be_visible()
    page.fill("#pa-q", tag)
    rows = page.locator("#pa-list tbody tr")
    expect(rows).to_have_count(2)
    row = page.locator(f'#pa-list tr[data-code="pw{tag}-1"]')
    expect(row.locator(".badge")).to_have_text("草稿")

    # Publish it; residents' search finds it now.
    row.locator("[data-publish]").click()
    expect(row.locator(".badge")).to_have_text("已发布")
    service_id = row.get_attribute("data-id")
    hits = api_json(page, live_server.url, f"/portal/search?q=灵活就业登记{tag}")
    assert [h["id"] for h in hits["items"]] == [int(str(service_id))]

    # The preview: the TV's own stylesheet in a 1280x720 frame, "before you start" first.
    row.locator("[data-preview]").click()
    frame = page.frame_locator("#pa-preview-frame")
    expect(frame.locator("#preview-title")).to_have_text(f"灵活就业登记{tag}")
    expect(frame.locator(".tv-fact h3").first).to_have_text("办理条件")
    expect(frame.locator(".tv-facts-grid")).to_contain_text("户口簿")
    shot(page, artifacts, "admin-preview")

    # Prices: one form for a day, a box per product and market (today's price as the hint); an empty
    # form is refused in the page, nothing is sent.
    page.locator("#pa-tabs [data-kind=prices]").click()
    boxes = page.locator("#pa-prices-form .pa-price-box")
    products = api_json(page, live_server.url, "/portal/prices/products")
    markets = api_json(page, live_server.url, "/portal/prices/markets")
    expect(boxes).to_have_count(len(products) * len(markets))
    expect(boxes.first).not_to_have_attribute("placeholder", "")
    page.locator("#pa-prices-form button[type=submit]").click()
    expect(page.locator(".toast").last).to_contain_text("请至少填写一个价格")
    shot(page, artifacts, "admin-prices")
