"""The browser fixtures of tests/support/browser.py (Debian's Chromium through Playwright) for the
privacy pages; a package of its own so the browser's event loop is gone before other asyncio tests run."""

from tests.support.browser import browser, new_page, playwright  # noqa: F401 - re-exported fixtures
