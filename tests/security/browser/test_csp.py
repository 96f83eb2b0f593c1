"""Every page works under the Content Security Policy (issue 14, item 10): no violation is reported
(an inline script or handler, an eval, a source from elsewhere would be), and the boot data still
reaches the scripts as window.XL. A page someone adds with inline script fails here."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage

from tests.support.browser import NewPage, login_form

pytestmark = pytest.mark.browser

RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`);
});
"""

FETCH_CSP = "async () => (await fetch(location.href)).headers.get('content-security-policy')"

# user, terminal, pages
VISITS = [
    ("admin", "console", ["/", "/admin", "/alarms"]),
    ("auditor", "console", ["/audit"]),
    ("res-v01", "tv", ["/tv"]),
    ("res-v01", "mobile", ["/m"]),
]


def test_no_page_violates_the_csp(new_page: NewPage, live_server: Any) -> None:
    for username, terminal, paths in VISITS:
        page = new_page(1280, 800)
        page.context.add_init_script(RECORD_VIOLATIONS)
        console: list[str] = []

        def remember(message: ConsoleMessage, seen: list[str] = console) -> None:
            if message.type == "error":
                seen.append(message.text)

        page.on("console", remember)
        login_form(page, live_server.url, username, terminal=terminal)
        for path in ["/login", *paths]:
            page.goto(f"{live_server.url}{path}")
            page.wait_for_load_state("load")  # module scripts have run by then
            header = page.evaluate(FETCH_CSP)
            assert header and "script-src 'self'" in header, path
            assert page.evaluate("typeof window.XL === 'object' && window.XL !== null"), path
            violations = page.evaluate("window.__cspViolations")
            assert violations == [], (username, path, violations)
        assert not [text for text in console if "Content Security Policy" in text], (username, console)
