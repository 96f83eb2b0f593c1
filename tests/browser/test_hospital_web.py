"""The hospital staff console (issue 17) in Chromium: hs-rmyy logs in and lands on /hospital, sees the
day's list (the seeded bookings), marks one attended, stops a session of the next day with a reason and
sees how many bookings were moved; the API confirms each step. Screenshots go to test-artifacts/
(browser-hospital-*.png).

The node's clock is a ManualClock set to 07:00 of the day the seed booked for (the seed books for its
tomorrow), so the seeded bookings are "today" and their sessions have not started, whatever the hour
the test runs; the page takes its "today" from the node, not from the browser."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.support.app import LiveServer, make_settings
from tests.support.browser import NewPage, api_json, login_form
from tests.support.db import seed_database
from xueliang.app import create_app
from xueliang.core.clock import ManualClock
from xueliang.seed.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser

TZ = ZoneInfo("Asia/Shanghai")


def shot(page: Page, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"browser-hospital-{name}.png"), animations="disabled")


def ok(r: httpx.Response) -> Any:
    assert r.is_success, f"{r.request.method} {r.request.url}: {r.status_code} {r.text}"
    return r.json() if r.content else None


def id_number(birth: str, seq: str) -> str:
    """A valid GB 11643 number (Mao County's area code), its check digit computed here."""
    body = "513223" + birth + seq
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


@contextmanager
def api_client(server: LiveServer, username: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{server.url}/api/v1", timeout=15) as c:
        r = ok(c.post("/auth/login", json={"username": username, "password": DEMO_PASSWORD}))
        c.headers["X-CSRF-Token"] = r["csrf_token"]
        yield c


@pytest.fixture
def hospital_server(
    make_db_url: Callable[[], str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[LiveServer, ManualClock]]:
    """A node of its own (this test writes bookings and stops sessions) on a clock it can set."""
    url = make_db_url()
    seed_database(url)
    clock = ManualClock(datetime.now(UTC))  # the test's own start; moved to the seeded day below
    server = LiveServer(create_app(make_settings(url, tmp_path_factory.mktemp("hosp")), clock=clock))
    server.start()
    yield server, clock
    server.stop()


def test_staff_console_day_list_attended_and_stop(
    new_page: NewPage, hospital_server: tuple[LiveServer, ManualClock], artifacts: Path
) -> None:
    server, clock = hospital_server
    with api_client(server, "hs-rmyy") as staff:
        rmyy = ok(staff.get("/hospital/staff/hospitals"))[0]
        depts = {d["code"]: d for d in ok(staff.get(f"/hospital/hospitals/{rmyy['id']}/departments"))}
        nk = depts["NK"]
        everything = ok(
            staff.get(
                f"/hospital/departments/{nk['id']}/sessions",
                params={"from": "2000-01-01", "to": "2199-12-31"},
            )
        )
        seeded = min(date.fromisoformat(s["day"]) for s in everything)  # the seed's today
    day1, day2 = seeded + timedelta(days=1), seeded + timedelta(days=2)
    target = datetime.combine(day1, time(7, 0), TZ).astimezone(UTC)
    clock.advance((target - clock.now()).total_seconds())

    # Two patients book the first NK morning session of the day after; it will be stopped.
    victim = min(
        (s for s in everything if s["day"] == day2.isoformat() and s["period"] == "morning"),
        key=lambda s: s["doctor_id"],
    )
    with api_client(server, "res-v02") as resident:
        booked = [
            ok(
                resident.post(
                    "/hospital/bookings",
                    json={
                        "session_id": victim["id"],
                        "patient_name": name,
                        "id_number": id_number(birth, "301"),
                        "phone": "13900000001",
                    },
                )
            )
            for name, birth in (("李桂芳", "19500312"), ("李德明", "19480921"))
        ]

    page = new_page(1440, 900)
    login_form(page, server.url, "hs-rmyy")
    expect(page).to_have_url(re.compile(rf"^{re.escape(server.url)}/hospital(#day)?$"))
    console = page.locator("#h-console")
    expect(console).to_have_attribute("data-ready", "day")
    expect(page.locator("#h-day")).to_have_value(day1.isoformat())
    rows = page.locator("#h-day-list tr[data-booking-id]")
    expect(rows).to_have_count(2)  # the seed's two bookings (内科, 骨科) for that day
    expect(rows.first.locator(".h-serial")).to_have_text(re.compile(r"^[AP]01$"))
    shot(page, artifacts, "day")

    first = rows.first
    booking_id = int(first.get_attribute("data-booking-id") or 0)
    first.locator("[data-mark='attended']").click()
    expect(page.locator(f"#h-day-list tr[data-booking-id='{booking_id}']")).to_have_attribute(
        "data-state", "attended"
    )
    day_list = api_json(page, server.url, f"/hospital/staff/day?day={day1.isoformat()}")
    assert {b["id"]: b["state"] for b in day_list}[booking_id] == "attended"

    # The whole ID number, on asking (the read is audited by the API).
    row = page.locator(f"#h-day-list tr[data-booking-id='{booking_id}']")
    row.locator("[data-reveal]").click()
    expect(row).to_have_attribute("data-revealed", "true")
    expect(row.locator("td.h-mono").first).to_have_text(re.compile(r"^513223\d{11}[\dX]$"))

    # Sessions: stop the booked session of the day after, with a reason; both bookings move.
    page.locator(".h-subtabs [data-tab='sessions']").click()
    page.locator("#h-s-dept").select_option(str(nk["id"]))
    expect(console).to_have_attribute("data-ready", "sessions")
    cell = page.locator(f"#h-sessions [data-session-id='{victim['id']}']")
    expect(cell).to_have_attribute("data-booked", "2")
    shot(page, artifacts, "sessions")
    cell.locator("[data-stop]").click()
    expect(page.locator("#h-stop")).to_be_visible()
    page.fill("#h-stop-reason", "医生外出会诊 / doctor away")
    shot(page, artifacts, "stop-dialog")
    page.click("#h-stop-ok")
    result = page.locator("#h-stop-result")
    expect(result).to_be_visible()
    expect(result).to_have_attribute("data-moved", "2")
    expect(result).to_have_attribute("data-cancelled", "0")
    expect(page.locator(f"#h-sessions [data-session-id='{victim['id']}']")).to_have_attribute(
        "data-stopped", "true"
    )
    shot(page, artifacts, "stopped")

    stopped = api_json(page, server.url, f"/hospital/sessions/{victim['id']}")
    assert stopped["stopped"] and stopped["stop_reason"] == "医生外出会诊 / doctor away"
    # The old bookings are "moved" (the household sees them so), their successors live in another
    # session of the department that day, on the staff's list of that day.
    with api_client(server, "res-v02") as resident:
        mine = {b["id"]: b for b in ok(resident.get("/hospital/bookings"))}
    day2_list = {
        b["id"]: b for b in api_json(page, server.url, f"/hospital/staff/day?day={day2.isoformat()}")
    }
    for b in booked:
        assert mine[b["id"]]["state"] == "moved"
        successor = day2_list[mine[b["id"]]["moved_to_id"]]
        assert successor["state"] == "booked" and successor["session_id"] != victim["id"]
        assert successor["patient_name"] == b["patient_name"]

    # The hospital's departments and doctors, as the API offers them.
    page.locator(".h-subtabs [data-tab='departments']").click()
    expect(console).to_have_attribute("data-ready", "departments")
    expect(page.locator("#h-departments .h-dept")).to_have_count(len(depts))
    expect(page.locator(f"#h-departments [data-department-id='{nk['id']}'] li")).to_have_count(3)
    shot(page, artifacts, "departments")
