"""The back office's read side in Chromium: dashboard (inline SVG charts), transactions list
(search through the real form, errors, pages), a request's detail and the audit log, each
checked by axe-core at desktop width and at 320 px, under the strict CSP as served (any
violation fails the test: tests/browser/conftest.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest
from playwright.sync_api import Page, expect

from tests.browser.axe import AxeAudit
from tests.support.backoffice_read import Req, seed
from tests.support.capture import create_direct
from tests.support.staff import DEFAULT_PASSWORD

pytestmark = pytest.mark.browser


def sign_in(page: Page, base: str, user) -> None:
    page.goto(base + "/login")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code").fill(pyotp.TOTP(user.totp_secret).now())
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Back office")).to_be_visible()


def test_the_read_side_is_accessible_and_needs_no_script(app, live_server, page, make_staff):
    nora = make_staff("agent", username="nora", team="North")
    now = datetime.now(UTC)
    seed(
        app,
        [
            Req(
                n,
                now - timedelta(hours=n),
                nora.id,
                nora.team_id,
                status="succeeded" if n % 2 else "sent",
                paid_after=timedelta(minutes=3) if n % 2 else None,
                card_last4="4242",
            )
            for n in range(1, 31)
        ],
    )
    public_id, _ = create_direct(app, nora.id, reference="INV-9")
    user = make_staff("backoffice", mfa=True)
    base, audit = live_server.url, AxeAudit()

    sign_in(page, base, user)
    expect(
        page.get_by_role("img", name="Payment requests sent and paid, last 7 days")
    ).to_be_visible()
    audit.check(page, "dashboard")

    page.get_by_role("link", name="Transactions").first.click()
    expect(page.get_by_role("heading", name="Transactions")).to_be_visible()
    page.get_by_label("Card last 4 digits").fill("42")
    page.get_by_role("button", name="Search").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Card last 4 digits: enter exactly 4 digits")
    audit.check(page, "transactions, search refused")

    page.get_by_label("Card last 4 digits").fill("4242")
    page.get_by_label("Rows per page").select_option("25")
    page.get_by_role("button", name="Search").click()
    expect(page).to_have_url(f"{base}/backoffice/transactions?card_last4=4242&per_page=25")
    expect(page.locator("table.transactions tbody tr")).to_have_count(15)
    audit.check(page, "transactions, found")

    page.goto(f"{base}/backoffice/transactions?per_page=25")
    page.get_by_role("link", name="Older").click()
    expect(page.locator("table.transactions tbody tr")).to_have_count(6)
    audit.check(page, "transactions, second page")

    page.goto(f"{base}/backoffice/transactions/{public_id}")
    expect(page.get_by_role("heading", name="Timeline")).to_be_visible()
    audit.check(page, "request detail")

    page.get_by_role("link", name="Audit log").click()
    expect(page.get_by_role("status").filter(has_text="The audit trail verifies.")).to_be_visible()
    audit.check(page, "audit log")
    audit.assert_clean()
