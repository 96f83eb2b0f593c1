"""The login page asks for the one-time code when the account has a second factor (issue 14, MFA): the
password alone answers `mfa_required`, the page shows the code field, and a recovery code logs in."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pyotp
import pytest
from playwright.sync_api import expect

from tests.support.browser import NewPage
from xueliang.seed.demo import DEMO_PASSWORD

pytestmark = pytest.mark.browser


def test_login_page_asks_for_the_code_of_an_account_with_a_second_factor(
    new_page: NewPage, live_server: Any
) -> None:
    username = (
        f"op-mfa-{uuid.uuid4().hex[:6]}"  # its own user: the shared server's demo users stay as they are
    )
    password = "mfa-" + DEMO_PASSWORD
    with httpx.Client(base_url=live_server.url, timeout=20) as c:
        r = c.post("/api/v1/auth/login", json={"username": "admin", "password": DEMO_PASSWORD})
        c.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        r = c.post(
            "/api/v1/users",
            json={"username": username, "password": password, "role": "operator", "region_code": "513223101"},
        )
        assert r.status_code == 201, r.text
        creds = {"username": username, "password": password}
        secret = c.post("/api/v1/auth/mfa/enroll", json=creds).json()["secret"]
        r = c.post("/api/v1/auth/mfa/confirm", json={**creds, "otp": pyotp.TOTP(secret).now()})
        assert r.status_code == 200, r.text
        recovery = r.json()["recovery_codes"][0]

    page = new_page(1280, 800)
    page.goto(f"{live_server.url}/login")
    assert page.is_hidden("#otp")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-submit")
    page.wait_for_selector("#otp", state="visible")
    assert page.is_visible("#login-error")
    assert page.evaluate("document.activeElement.id") == "otp"
    page.evaluate("document.getElementById('login-error').textContent = ''")
    page.fill("#otp", "000000")
    page.click("#login-submit")
    expect(page.locator("#login-error")).to_have_text(
        re.compile(r"\S")
    )  # (no wait_for_function: the CSP has no eval)
    assert "/login" in page.url
    page.fill("#otp", recovery)
    page.click("#login-submit")
    page.wait_for_url(f"{live_server.url}/")
