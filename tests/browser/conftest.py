"""Browser fixtures: Debian's Chromium through Playwright (sync API) against a live portal.

- ``browser``: one Chromium per test module (launching takes about half a second).
- ``live_server``: the test's ``app`` (built by ``app_factory``) served by werkzeug on a free
  loopback port in a thread, for the length of one test; ``.url`` and ``.app``.
- ``page``: a fresh browser context and page. Any Content Security Policy violation or
  JavaScript error it reports fails the test, even when every assertion passed.
- On failure, a screenshot of every open page goes to ``tests/_artifacts/<test name>.png``.

Waiting is done with Playwright's ``expect`` (auto-retrying, short timeouts), never with sleeps.
SESSION_COOKIE_SECURE is off in the testing settings, so http://127.0.0.1 keeps its session.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, expect, sync_playwright
from werkzeug.serving import make_server

from tests.support.artifacts import ARTIFACTS
from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS, TIMEOUT_MS, BrowserProblems

expect.set_options(timeout=TIMEOUT_MS)


# Module scope, not session: Playwright's sync API runs one instance per thread at a time, so a
# browser held open for the whole session would stop every other module that launches its own
# (tests/sandbox/, or a module overriding ``browser``) with "Sync API inside the asyncio loop".
@pytest.fixture(scope="module")
def browser(prodlike_certificates) -> Iterator[Browser]:
    """Chromium, trusting the production-like stack's server certificate (by its key's pin,
    tests/prodlike), so one browser serves journeys on both the development server and it."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)"
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=[*CHROMIUM_ARGS, *prodlike_certificates.chromium_args],
        )
        yield launched
        launched.close()


@dataclass(frozen=True)
class LiveServer:
    app: Flask
    url: str  # e.g. "http://127.0.0.1:43817" (no trailing slash)


@pytest.fixture
def live_server(app) -> Iterator[LiveServer]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-portal", daemon=True)
    thread.start()
    try:
        yield LiveServer(app, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def browser_problems(request) -> BrowserProblems:
    problems = BrowserProblems()
    request.node._browser_problems = problems
    return problems


@pytest.fixture
def page(browser: Browser, browser_problems: BrowserProblems) -> Iterator[Page]:
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(2 * TIMEOUT_MS)
    opened = browser_problems.watch(context.new_page())
    yield opened
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """Fail a test whose pages reported a CSP violation or a JavaScript error."""
    result = yield
    problems = getattr(item, "_browser_problems", None)
    reported = problems.collect() if problems is not None else []
    if reported:
        raise AssertionError("the browser reported problems:\n  " + "\n  ".join(reported))
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failure, save a screenshot of every open page for the person reading the report."""
    report = yield
    if report.when == "call" and report.failed:
        _screenshots(item)
    return report


def _screenshots(item) -> None:
    browser = item.funcargs.get("browser")
    if browser is None:
        return
    ARTIFACTS.mkdir(exist_ok=True)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.name)
    pages = [page for context in browser.contexts for page in context.pages]
    for number, page in enumerate(pages, start=1):
        suffix = "" if number == 1 else f"-{number}"
        try:
            page.screenshot(path=str(ARTIFACTS / f"{name}{suffix}.png"), full_page=True)
        except Exception as problem:  # noqa: BLE001  (a failed screenshot must not hide the failure)
            item.add_report_section("call", "screenshot", f"could not save {name}: {problem}")


# The journeys' ``portal`` (the development server or the production-like stack) and ``actor``
# (a watched page per person): tests/browser/journey_support.py.
from tests.browser.journey_support import actor, portal  # noqa: E402, F401
