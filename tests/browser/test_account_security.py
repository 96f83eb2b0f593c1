"""The account page in Chromium (issue 14, MFA and sessions): a user sets up a second factor — the
password, the QR code of the otpauth URI (drawn by the server), a code computed here with pyotp from
the key the page shows — and sees the ten recovery codes once; their other session is listed and ended
from the page (it stops working at once); an admin resets the factor from the admin section."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from playwright.sync_api import expect

from tests.support import db
from tests.support.browser import NewPage
from xueliang.seed.demo import DEMO_PASSWORD

# The page's logic does not depend on the database (the API under it is tested on both backends in
# tests/security/test_mfa_sessions.py): the SQLite pass runs it.
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(db.BACKEND != "sqlite", reason="the page is the same on both backends: SQLite pass"),
]


def test_enrol_a_second_factor_see_codes_once_end_a_session_and_admin_reset(
    new_page: NewPage, live_server: Any, artifacts: Path
) -> None:
    username = f"op-acct-{uuid.uuid4().hex[:6]}"  # its own user: the shared demo users stay as they are
    password = "acct-" + DEMO_PASSWORD
    creds = {"username": username, "password": password}
    with httpx.Client(base_url=live_server.url, timeout=20) as admin:
        r = admin.post("/api/v1/auth/login", json={"username": "admin", "password": DEMO_PASSWORD})
        admin.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        r = admin.post("/api/v1/users", json={**creds, "role": "operator", "region_code": "513223101"})
        assert r.status_code == 201, r.text
        user_id = r.json()["id"]

    page = new_page(1280, 900)
    page.goto(f"{live_server.url}/login?next=/account")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_url(f"{live_server.url}/account")
    page.wait_for_selector("#acct[data-ready='1']")
    expect(page.locator("#mfa-status")).to_have_text("未设置第二验证因素。")  # zh-CN first
    assert page.input_value("#mfa-username") == username  # the logged-in user's, read-only

    page.fill("#mfa-password", password)
    page.click("#mfa-start-btn")
    page.wait_for_selector("#mfa-setup", state="visible")
    page.wait_for_function("document.getElementById('mfa-qr').naturalWidth > 100")  # the QR code drew
    secret = page.inner_text("#mfa-secret").strip()
    page.fill("#mfa-otp", pyotp.TOTP(secret).now())
    page.click("#mfa-confirm-btn")
    page.wait_for_selector("#mfa-codes", state="visible")
    codes = page.locator("#mfa-code-list li").all_inner_texts()
    assert len(codes) == 10 and len(set(codes)) == 10, codes
    page.screenshot(path=str(artifacts / "account-mfa-codes.png"), full_page=True)

    with httpx.Client(base_url=live_server.url, timeout=20) as phone:
        r = phone.post("/api/v1/auth/login", json={**creds, "otp": codes[0]})  # a recovery code, once
        assert r.status_code == 200, r.text
        page.reload()
        page.wait_for_selector("#acct[data-ready='1']")
        assert page.is_hidden("#mfa-codes") and page.is_hidden("#mfa-start")  # shown that once only
        expect(page.locator("#mfa-status")).to_contain_text("9")  # recovery codes left
        rows = page.locator("#sessions tbody tr")
        expect(rows).to_have_count(2)
        page.locator("#sessions tbody button").click()  # the one that is not this session
        expect(rows).to_have_count(1)
        assert phone.get("/api/v1/me").status_code == 401  # ended at once

    admin_page = new_page(1280, 900)
    admin_page.goto(f"{live_server.url}/login?next=/account")
    admin_page.fill("#username", "admin")
    admin_page.fill("#password", DEMO_PASSWORD)
    admin_page.click("#login-submit")
    admin_page.wait_for_selector("#acct[data-ready='1']")
    admin_page.select_option("#admin-user", str(user_id))
    admin_page.click("#admin-show")
    expect(admin_page.locator("#admin-sessions tbody tr")).to_have_count(1)
    admin_page.once("dialog", lambda d: d.accept())
    admin_page.click("#admin-reset")
    expect(admin_page.locator("#admin-result")).to_have_text("已重置第二验证因素，该用户的会话已全部结束。")
    page.reload()
    page.wait_for_url(f"{live_server.url}/account")  # the page works without a session...
    page.wait_for_selector("#acct[data-ready='1']")
    assert page.is_visible("#mfa-start") and page.is_hidden("#sessions-panel")  # ...offering set-up only
