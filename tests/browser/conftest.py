"""Playwright fixtures for the browser tests: Debian's Chromium, one browser for this package, a fresh
context per page (see tests/support/browser.py); the real node for the live-video tests is the `node`
fixture of tests/conftest.py.

The browser lives for this package only (not the whole session), so Playwright's private event loop is
gone before any later asyncio test starts."""

from tests.support.browser import browser, new_page, playwright  # noqa: F401 - the package's browser
