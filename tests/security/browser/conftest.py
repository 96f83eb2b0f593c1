"""The browser for this package's tests (see tests/support/browser.py: package-scoped, so Playwright's
event loop is gone before later asyncio tests start)."""

from tests.support.browser import browser, new_page, playwright  # noqa: F401 - the package's browser
