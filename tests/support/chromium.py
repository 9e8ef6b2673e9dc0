"""Chromium as the browser tests (tests/browser/, tests/sandbox/) run it: Debian's binary and
its flags, how long Playwright waits, and the watcher that turns a page's CSP violation or
JavaScript error into a failure (``tests/browser/conftest.py`` applies it to every test's
pages)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Milliseconds Playwright waits for an element or a navigation before failing.
TIMEOUT_MS = 5_000
#: What Chromium's console says when the CSP blocks something.
CSP_MARKERS = ("Refused to", "Content Security Policy")


class BrowserProblems:
    """Collects CSP violations and JavaScript errors that pages report.

    HTTP error answers ("Failed to load resource: ... 404") are not problems: a page may
    legitimately fetch something that answers 4xx.
    """

    def __init__(self) -> None:
        self.problems: list[str] = []
        self.pages: list[Page] = []

    def watch(self, page: Page) -> Page:
        self.pages.append(page)
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.problems.append(f"JavaScript error: {error}"))
        return page

    def _on_console(self, message) -> None:
        if any(marker in message.text for marker in CSP_MARKERS):
            self.problems.append(f"CSP violation ({message.type}): {message.text}")

    def collect(self) -> list[str]:
        """The problems so far, after letting every open page deliver its pending events."""
        for page in self.pages:
            if not page.is_closed():
                page.evaluate("0")  # a round trip: events queued before it are delivered
        return list(self.problems)
