"""Refunds and disputes as the back-office clerk sees them in Chromium, with the Stripe sandbox
delivering its webhooks to the live portal and the webhook worker running: a refund pending
then succeeded, a refund that fails after succeeding and is tried again, and a payment the
cardholder's bank disputes (no refund offered, the dispute on the detail and the timeline)."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from playwright.sync_api import expect

from tests.support.payments import WEBHOOK_SECRET, sandbox_settings, wait_for, webhook_worker
from tests.support.refund_journeys import (
    DISPUTED,
    PENDING_REFUND,
    REFUND_FAILS,
    disputes_of,
    paid_with,
    refunds_of,
)
from tests.support.staff import DEFAULT_PASSWORD
from tests.support.web import current_totp

pytestmark = pytest.mark.browser


@pytest.fixture
def app(app_factory, stripe_sandbox):
    """The live server's app, talking to the session's Stripe sandbox."""
    return app_factory(**sandbox_settings(stripe_sandbox), DELIVERY_TIMEZONE="Europe/London")


@contextmanager
def stripe_sends_webhooks(live_server, stripe_sandbox):
    """The sandbox delivers its events to the live portal; the webhook worker applies them."""
    stripe_sandbox.set_webhook(f"{live_server.url}/webhooks/stripe", WEBHOOK_SECRET)
    try:
        with webhook_worker(live_server.app):
            yield
            wait_for(lambda: stripe_sandbox.sandbox.webhooks.pending() == 0)
    finally:
        stripe_sandbox.set_webhook(None)


def sign_in_and_confirm(page, base: str, officer) -> None:
    """Sign in (password, code), then confirm it's you, as a refund needs."""
    page.goto(base + "/login")
    page.get_by_label("Username").fill(officer.username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code").fill(current_totp(officer))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(base + "/backoffice/")
    page.goto(base + "/backoffice/reauth")
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    # The sign-in just used this 30-second step's code; a code works once, so take the next.
    page.get_by_label("Code from your authenticator app").fill(
        current_totp(officer, offset_steps=1)
    )
    page.get_by_role("button", name="Confirm").click()
    expect(page).to_have_url(base + "/backoffice/")


def refund_everything(page, base: str, public_id: str) -> None:
    page.goto(f"{base}/backoffice/transactions/{public_id}")
    page.get_by_role("link", name="Refund this payment").click()
    page.get_by_label("Everything that is left").check()
    page.get_by_label("Reason").select_option("goodwill")
    page.get_by_label("Note for the audit trail").fill("Sorry for the trouble")
    page.get_by_role("button", name="Refund").click()
    expect(page.get_by_role("heading", name="Refund #")).to_be_visible()


def test_a_refund_pending_then_succeeded(live_server, page, app, stripe_sandbox, make_staff):
    base = live_server.url
    public_id, _ = paid_with(app, stripe_sandbox, make_staff("agent").id, PENDING_REFUND)
    sign_in_and_confirm(page, base, make_staff("backoffice", mfa=True))

    with stripe_sends_webhooks(live_server, stripe_sandbox):
        refund_everything(page, base, public_id)
        expect(page.get_by_test_id("refund-status")).to_have_text(
            "Sent to Stripe, waiting for the bank"
        )
        page.get_by_role("link", name="Back to the payment").click()
        expect(page.get_by_test_id("remaining-amount")).to_have_text(
            "£0.00 (£0.00 refunded, £12.50 on its way)"
        )
        expect(page.get_by_role("link", name="Refund this payment")).to_have_count(0)

        stripe_sandbox.advance_refunds()  # the customer's bank accepts it
        wait_for(lambda: refunds_of(app, public_id)[0].status == "succeeded")

    page.reload()
    expect(page.get_by_test_id("remaining-amount")).to_have_text("£0.00")
    expect(page.get_by_test_id("payment-standing")).to_have_text("Refunded")
    expect(page.get_by_text("Refund succeeded").first).to_be_visible()  # the timeline


def test_a_refund_that_fails_is_tried_again(live_server, page, app, stripe_sandbox, make_staff):
    base = live_server.url
    public_id, _ = paid_with(app, stripe_sandbox, make_staff("agent").id, REFUND_FAILS)
    sign_in_and_confirm(page, base, make_staff("backoffice", mfa=True))

    with stripe_sends_webhooks(live_server, stripe_sandbox):
        refund_everything(page, base, public_id)
        expect(page.get_by_test_id("refund-status")).to_have_text("Refunded")
        stripe_sandbox.advance_refunds()  # the card was closed: the money comes back to us
        wait_for(lambda: refunds_of(app, public_id)[0].status == "failed")

    page.get_by_role("link", name="Back to the payment").click()
    expect(page.get_by_test_id("remaining-amount")).to_have_text("£12.50")
    expect(page.get_by_test_id("failed-refund")).to_contain_text(
        "The customer's card has expired or been cancelled"
    )
    page.get_by_test_id("failed-refund").get_by_role("link").click()
    expect(page.get_by_test_id("refund-status")).to_have_text("Failed: no money went back")
    expect(page.get_by_test_id("refund-failure")).to_contain_text("expired or been cancelled")

    page.get_by_test_id("refund-try-again").click()

    expect(page.get_by_role("status")).to_contain_text("Refund sent to Stripe")
    expect(page.get_by_test_id("refund-status")).to_have_text("Refunded")
    expect(page.get_by_text("Tries again")).to_be_visible()
    first, retry = refunds_of(app, public_id)
    assert (retry.retry_of_id, retry.amount_minor, retry.status) == (first.id, 1250, "succeeded")


def test_a_disputed_payment_in_the_back_office(live_server, page, app, stripe_sandbox, make_staff):
    base = live_server.url
    with stripe_sends_webhooks(live_server, stripe_sandbox):
        public_id, intent_id = paid_with(app, stripe_sandbox, make_staff("agent").id, DISPUTED)
        wait_for(lambda: [d.funds_withdrawn_minor for d in disputes_of(app, public_id)] == [1250])
    sign_in_and_confirm(page, base, make_staff("backoffice", mfa=True))

    page.goto(f"{base}/backoffice/transactions/{public_id}")
    notice = page.get_by_test_id("open-dispute")
    expect(notice).to_contain_text("Disputed: evidence is needed")
    expect(notice).to_contain_text("The cardholder says they did not make this payment")
    expect(notice).to_contain_text("£12.50")
    expect(notice).to_contain_text("UK time")
    expect(page.get_by_role("link", name="Refund this payment")).to_have_count(0)
    expect(page.get_by_text("Dispute opened by the cardholder's bank")).to_be_visible()

    page.goto(f"{base}/backoffice/refunds/new/{public_id}")  # straight to the refund page
    expect(page.get_by_test_id("refund-disputed")).to_contain_text(
        "This payment is disputed by the cardholder's bank, so it cannot be refunded here."
    )
    expect(page.get_by_role("button", name="Refund")).to_have_count(0)

    with stripe_sends_webhooks(live_server, stripe_sandbox):
        stripe_sandbox.close_dispute(stripe_sandbox.list_disputes(intent_id)[0]["id"], "won")
        wait_for(lambda: disputes_of(app, public_id)[0].status == "won")

    page.goto(f"{base}/backoffice/transactions/{public_id}")
    expect(page.get_by_text("Dispute closed: won (the money stays with us)")).to_be_visible()
    expect(page.get_by_test_id("open-dispute")).to_have_count(0)
