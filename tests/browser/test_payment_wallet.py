"""A wallet payment in a real browser: on the portal's payment page the Payment Element (the
Stripe sandbox's stand-in) offers its test wallet above the card fields, as Stripe's offers
Apple Pay and Google Pay; pressing it pays, and the payment is stored with the brand and last
four of the wallet's card.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.stripe_card import wallet_button
from tests.support.artifacts import ARTIFACTS
from tests.support.capture import create_direct, path_of
from tests.support.payments import (
    WEBHOOK_SECRET,
    created_intents,
    live_portal,
    load_payment,
    sandbox_settings,
    stripe_api,
    wait_for,
    webhook_worker,
)

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
SCREENSHOT = ARTIFACTS / "payment-page-test-wallet-390x844.png"


@pytest.fixture
def portal(app_factory, stripe_sandbox) -> Iterator[tuple]:
    """The portal served live, its webhook worker running, the sandbox's webhooks aimed at it."""
    app = app_factory(**sandbox_settings(stripe_sandbox, STRIPE_TIMEOUT_SECONDS=5))
    with live_portal(app) as base_url, webhook_worker(app):
        stripe_sandbox.set_webhook(f"{base_url}/webhooks/stripe", WEBHOOK_SECRET)
        yield app, base_url
        stripe_sandbox.set_webhook(None)


def reach_payment_page(page: Page, link: str) -> None:
    """Open the link, press Start, answer the question and continue to the payment page."""
    page.goto(link)
    page.get_by_role("button", name="Start").click()
    page.get_by_label("What is the postcode of your address?").fill("SW1A 1AA")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("link", name="Continue to payment").click()
    expect(page.get_by_role("heading", name="Pay £12.50 to Postern Demo Ltd")).to_be_visible()


def test_wallet_button_pays_with_the_wallets_card(page, portal, stripe_sandbox, make_staff):
    app, base_url = portal
    page.set_viewport_size(PHONE)
    public_id, url = create_direct(app, make_staff("agent").id)
    reach_payment_page(page, base_url + path_of(url))

    button = wallet_button(page)
    expect(button).to_be_visible()
    expect(button).to_have_text("Pay with test wallet")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    assert SCREENSHOT.stat().st_size > 0

    button.click()

    expect(page.get_by_role("heading", name="Payment received")).to_be_visible()
    expect(page.get_by_text("Visa ending 4242")).to_be_visible()
    request, payment = load_payment(app, public_id)
    assert (request.status, payment.status) == ("succeeded", "succeeded")
    assert (payment.card_brand, payment.card_last4) == ("visa", "4242")
    assert len(created_intents(stripe_sandbox)) == 1
    # Stripe saw a wallet payment: a tokenised card, never a typed number.
    methods = stripe_sandbox.requests("POST", "/v1/payment_methods")
    assert [call["params"].get("card[token]") for call in methods] == ["tok_sandbox_google_pay"]
    assert all("card[number]" not in call["params"] for call in methods)
    intent_id = payment.stripe_payment_intent_id
    intent = stripe_api(stripe_sandbox, "GET", f"/v1/payment_intents/{intent_id}")
    charge = stripe_api(stripe_sandbox, "GET", f"/v1/charges/{intent['latest_charge']}")
    assert charge["payment_method_details"]["card"]["wallet"]["type"] == "google_pay"
    # The webhooks agree with what the page showed.
    wait_for(lambda: stripe_sandbox.sandbox.webhooks.pending() == 0)
    assert load_payment(app, public_id)[1].card_last4 == "4242"
