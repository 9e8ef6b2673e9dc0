"""The back-office pages a clerk reads after the walk-through's fixes, in Chromium: the
timeline in plain words, the refund list in UK time, a request's data page, a typed-in request
id, and a refusal with its way back; each checked by axe-core (desktop and 320 px)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pyotp
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.axe import AxeAudit
from tests.support.backoffice_write import paid_request
from tests.support.chromium import BrowserProblems
from tests.support.payments import (
    confirm_in_browser,
    customer_at_payment,
    live_portal,
    load_payment,
    opened_pay_page,
    sandbox_settings,
)
from tests.support.staff import DEFAULT_PASSWORD

pytestmark = pytest.mark.browser
SHOTS = os.environ.get("POSTERN_SCREENSHOTS")


@pytest.fixture(params=[{"width": 390, "height": 844}, {"width": 1366, "height": 768}])
def screen(browser: Browser, browser_problems: BrowserProblems, request) -> Iterator[Page]:
    context = browser.new_context(viewport=request.param)
    page = browser_problems.watch(context.new_page())
    yield page
    context.close()


def look(page: Page, audit: AxeAudit, name: str) -> None:
    if SHOTS:
        size = page.viewport_size
        page.screenshot(path=f"{SHOTS}/bo-{name}-{size['width']}.png", full_page=True)
    audit.check(page, name)


def _ask_refund_in_summer(app, public_id: str, staff_id: int) -> None:
    """A refund waiting for approval, asked for at 12:05 UTC on 1 July (13:05 in London)."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from portal.extensions import db
    from portal.models.capture import CaptureRequest
    from portal.models.payment import Payment
    from portal.models.refund import Refund

    summer = datetime(2026, 7, 1, 12, 5, tzinfo=UTC)
    with app.app_context():
        payment_id = db.session.execute(
            select(Payment.id)
            .join(CaptureRequest, CaptureRequest.id == Payment.capture_request_id)
            .where(CaptureRequest.public_id == public_id)
        ).scalar_one()
        db.session.add(
            Refund(
                payment_id=payment_id,
                amount_minor=250,
                currency="GBP",
                reason_code="requested_by_customer",
                status="pending_approval",
                requested_by_id=staff_id,
                created_at=summer,
                updated_at=summer,
            )
        )
        db.session.commit()


def test_a_clerk_reads_plain_words(screen, app_factory, stripe_sandbox, make_staff):
    app = app_factory(**sandbox_settings(stripe_sandbox))
    agent = make_staff("agent").id
    declined = opened_pay_page(customer_at_payment(app, agent))
    intent = load_payment(app, declined.public_id)[1].stripe_payment_intent_id
    confirm_in_browser(stripe_sandbox, intent, "pm_card_chargeDeclinedInsufficientFunds")
    declined.client.get(declined.pay_path + "/status")
    paid = paid_request(app, stripe_sandbox, agent)
    clerk = make_staff("backoffice", mfa=True)
    _ask_refund_in_summer(app, paid, clerk.id)
    audit = AxeAudit()

    with live_portal(app) as base:
        screen.goto(base + "/login")
        screen.get_by_label("Username").fill(clerk.username)
        screen.get_by_label("Password").fill(DEFAULT_PASSWORD)
        screen.get_by_role("button", name="Sign in").click()
        screen.get_by_label("Code").fill(pyotp.TOTP(clerk.totp_secret).now())
        screen.get_by_role("button", name="Continue").click()
        expect(screen.get_by_role("heading", name="Back office")).to_be_visible()

        # The id as heard over the phone: lower case, spaced.
        typed = declined.public_id.replace("-", " ").lower()
        screen.goto(f"{base}/backoffice/transactions/{typed}")
        expect(screen.get_by_text("Right answer to the identity question")).to_be_visible()
        expect(
            screen.get_by_text("why: there is not enough money available on the card").first
        ).to_be_visible()
        expect(screen.get_by_text("insufficient_funds")).to_have_count(0)
        look(screen, audit, "transaction-declined")

        screen.goto(f"{base}/backoffice/data-requests/{paid}")
        expect(screen.get_by_text("Paid, card ending 4242")).to_be_visible()
        look(screen, audit, "data-request")

        screen.goto(f"{base}/backoffice/refunds")
        expect(screen.get_by_role("heading", name="Refunds", exact=True)).to_be_visible()
        expect(screen.get_by_text("01 Jul 2026 13:05 UK time").first).to_be_visible()
        look(screen, audit, "refunds")

        refused = screen.goto(f"{base}/agent/")
        assert refused.status == 403
        screen.get_by_role("link", name="Go to the back office home page").click()
        expect(screen.get_by_role("heading", name="Back office")).to_be_visible()
        screen.goto(f"{base}/agent/")
        look(screen, audit, "refused")
    audit.assert_clean()
