"""A back-office refund in Chromium: the refund is refused until the officer confirms it is
them (password and a fresh code), comes back filled in as it was sent, then goes to the Stripe
sandbox once, with our key."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.support.artifacts import ARTIFACTS
from tests.support.backoffice_write import paid_request, refund_calls, refunds_in_db
from tests.support.payments import sandbox_settings
from tests.support.staff import DEFAULT_PASSWORD
from tests.support.web import current_totp

pytestmark = pytest.mark.browser


@pytest.fixture
def app(app_factory, stripe_sandbox):
    """The live server's app, talking to the session's Stripe sandbox."""
    return app_factory(**sandbox_settings(stripe_sandbox))


def save_screenshot(page, name: str) -> None:
    folder = ARTIFACTS / "backoffice"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def fill_refund(page) -> None:
    page.get_by_label("Part of it").check()
    page.get_by_label("Amount to refund").fill("5.00")
    page.get_by_label("Reason").select_option("wrong_amount")
    page.get_by_label("Note for the audit trail").fill("Customer was charged for two months")
    page.get_by_role("button", name="Refund").click()


def test_a_refund_asks_for_reauthentication_then_goes_through(
    live_server, page, app, stripe_sandbox, make_staff
):
    public_id = paid_request(app, stripe_sandbox, make_staff("agent").id)
    officer = make_staff("backoffice", mfa=True)
    base = live_server.url

    page.goto(base + "/login")
    page.get_by_label("Username").fill(officer.username)
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("Code").fill(current_totp(officer))
    page.get_by_role("button", name="Continue").click()
    expect(page).to_have_url(base + "/backoffice/")

    page.goto(f"{base}/backoffice/refunds/new/{public_id}")
    expect(page.get_by_role("heading", name="Refund a payment")).to_be_visible()
    expect(page.get_by_test_id("remaining")).to_have_text("£12.50")
    fill_refund(page)

    # Refused without a recent re-authentication: sent to confirm it's you, nothing refunded.
    expect(page.get_by_role("heading", name="Confirm it's you")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("confirm it is you")
    assert refunds_in_db(app) == [] and refund_calls(stripe_sandbox) == []
    page.get_by_label("Password").fill(DEFAULT_PASSWORD)
    # The sign-in just used this 30-second step's code; a code works once, so take the next.
    page.get_by_label("Code from your authenticator app").fill(
        current_totp(officer, offset_steps=1)
    )
    page.get_by_role("button", name="Confirm").click()

    # Back on the form, filled in as it was sent: check it and press Refund once more.
    expect(page).to_have_url(f"{base}/backoffice/refunds/new/{public_id}")
    expect(page.get_by_role("status")).to_contain_text("What you entered is filled in again")
    expect(page.get_by_label("Part of it")).to_be_checked()
    expect(page.get_by_label("Amount to refund")).to_have_value("5.00")
    expect(page.get_by_label("Reason")).to_have_value("wrong_amount")
    expect(page.get_by_label("Note for the audit trail")).to_have_value(
        "Customer was charged for two months"
    )
    save_screenshot(page, "refund-form-after-reauthentication")
    page.get_by_role("button", name="Refund").click()

    expect(page.get_by_role("heading", name="Refund #")).to_be_visible()
    expect(page.get_by_test_id("refund-status")).to_have_text("Refunded")
    expect(page.get_by_role("status")).to_contain_text("Refund sent to Stripe")
    [refund] = refunds_in_db(app, public_id)
    assert (refund.amount_minor, refund.status) == (500, "succeeded")
    [call] = refund_calls(stripe_sandbox)
    assert call["idempotency_key"] == f"postern-refund-{refund.id}"
    page.goto(f"{base}/backoffice/refunds/new/{public_id}")
    expect(page.get_by_test_id("remaining")).to_have_text("£7.50")
