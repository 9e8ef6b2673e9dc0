"""A real CSP violation in Chromium reaches POST /csp-report and is stored without anything
personal.

Chromium sends reports through the Reporting API (``report-to`` + ``Reporting-Endpoints``)
only for pages served over HTTPS, so this module serves the portal over TLS with a throwaway
certificate (werkzeug's "adhoc") and launches its own Chromium that accepts it. The page's
CSP is exactly what production sends; the violation is provoked by inserting an inline
script, as a skimmer would.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy import select
from werkzeug.serving import make_server

from tests.support.capture import create_direct, path_of
from tests.support.chromium import CHROMIUM, CHROMIUM_ARGS
from tests.support.payments import wait_for

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, "--ignore-certificate-errors"]
        )
        yield launched
        launched.close()


@pytest.fixture
def tls_portal(app):
    server = make_server("127.0.0.1", 0, app, threaded=True, ssl_context="adhoc")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def reports(app):
    from portal.extensions import db
    from portal.models.csp_report import CspReport

    with app.app_context():
        rows = db.session.execute(select(CspReport)).scalars().all()
        db.session.expunge_all()
        return rows


def test_an_injected_inline_script_is_blocked_and_reported(app, browser, tls_portal, make_staff):
    _, url = create_direct(app, make_staff("agent").id)
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    blocked = []
    page.on("console", lambda message: blocked.append(message.text))
    try:
        page.goto(f"{tls_portal}{path_of(url)}?email=jane@example.com#top")
        page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.skimmed = true'; document.body.appendChild(s); }"
        )
        assert page.evaluate("() => window.skimmed") is None  # the CSP stopped it
        (row,) = wait_for(lambda: reports(app))
    finally:
        context.close()
    assert any("Content Security Policy" in text for text in blocked)
    assert row.report_format == "reports+json"
    assert row.document_uri == f"{tls_portal}/c/<token>"
    assert row.blocked_uri == "inline"
    assert row.effective_directive == "script-src-elem" and row.disposition == "enforce"
    token = path_of(url).rsplit("/", 1)[1]
    for value in vars(row).values():
        assert token not in str(value) and "jane" not in str(value)


def test_a_report_from_a_page_whose_address_holds_a_card_number_is_stored_scrubbed(
    app, browser, tls_portal
):
    """Chromium reports the full address of the page; what is stored keeps neither the card
    number in its path, nor the digits in its query, nor its fragment."""
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    try:
        page.goto(f"{tls_portal}/orders/4111-1111-1111-1111/receipt/98765432?ref=5555555555554444")
        page.evaluate(
            "() => { const s = document.createElement('script');"
            " s.textContent = 'window.skimmed = true'; document.body.appendChild(s); }"
        )
        (row,) = wait_for(lambda: reports(app))
    finally:
        context.close()
    assert row.document_uri == f"{tls_portal}/orders/<digits>/receipt/<digits>"
    for value in vars(row).values():
        beyond_origin = str(value).replace(tls_portal, "")  # its port may hold any digits
        for digits in ("4111", "98765432", "5555"):
            assert digits not in beyond_origin
