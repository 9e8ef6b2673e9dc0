"""The agent and the customer, each in their own browser, on the development server and on the
production-like stack (``portal``, tests/browser/journey_support.py).

The agent creates one request by copy link and one by email; the email reaches the SMTP server
through the outbox worker, and the customer opens the link it carries. The customer of the
emailed request (payment and personal details) confirms who they are, gives their address,
has a card declined, then pays with a card that asks for 3-D Secure and completes the bank's
check in the sandbox's frame. The agent's panel follows along without a reload.
"""

from __future__ import annotations

import secrets

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.browser.journey_support import (
    OUTCOME_MS,
    Portal,
    give_address,
    open_emailed_link,
    pay_button,
    press_pay,
    sign_in,
    start_and_confirm,
)
from tests.browser.stripe_card import DECLINED_CARD, THREE_DS_CARD, challenge, enter_card
from tests.support.loopback import wait_until
from tests.support.payments import load_payment

pytestmark = pytest.mark.browser


def agent_console(portal: Portal, actor) -> Page:
    username, secret = portal.make_staff("agent")
    page = actor()
    sign_in(page, portal, username, secret, lands_on="Agent console")
    return page


def create_request(
    page: Page,
    reference: str,
    *,
    amount: str,
    channel: str,
    destination: str = "",
    with_address: bool = False,
) -> None:
    """Fill in the console's create form as the agent does, and send it."""
    form = page.locator("form.create-form")
    if with_address:
        form.get_by_label("Payment and personal details", exact=True).check()
        form.get_by_label("Details to collect").select_option(label="Postal address")
    form.get_by_label("Amount").fill(amount)
    form.get_by_label("What the payment is for").fill("Gas bill for March")
    form.get_by_label("Your reference").fill(reference)
    form.get_by_label("Identity check").select_option("postcode")
    form.get_by_label("Expected answer").fill("SW1A 1AA")
    form.get_by_label(channel, exact=True).check()
    if destination:
        form.get_by_label("Customer's mobile number or email address").fill(destination)
    form.get_by_role("button", name="Create and send").click()


def applied_webhooks(app, intent_id: str) -> set[str]:
    """Types of Stripe's events about ``intent_id`` that the webhook worker applied."""
    from portal.extensions import db
    from portal.models.payment import ProcessedWebhookEvent as Event

    with app.app_context():
        return set(
            db.session.execute(
                select(Event.event_type).where(
                    Event.payment_intent_id == intent_id, Event.outcome == "applied"
                )
            ).scalars()
        )


def panel_of(page: Page, reference: str):
    return page.locator("[data-request]").filter(has_text=reference)


def test_a_copy_link_reaches_the_customer_who_confirms_who_they_are(portal, actor):
    agent = agent_console(portal, actor)
    reference = f"ACC-{secrets.token_hex(3).upper()}"
    create_request(agent, reference, amount="12.50", channel="Copy link / QR code")

    expect(agent.get_by_role("heading", name=f"Link ready: {reference}")).to_be_visible()
    expect(agent.get_by_role("img", name="QR code for the link")).to_be_visible()
    link = agent.locator("#issued-link-url").input_value()
    assert link.startswith(portal.url + "/c/"), "the link names the address customers reach"
    panel = panel_of(agent, reference)
    expect(panel.locator(".js-label")).to_have_text("Link ready to give")
    agent_code = panel.locator(".readback-code").inner_text()

    customer = actor()
    customer_code = start_and_confirm(customer, portal, link)
    assert customer_code == agent_code, "agent and customer read the same code"
    expect(customer.get_by_text("£12.50")).to_be_visible()
    expect(customer.get_by_role("link", name="Continue to payment")).to_be_visible()
    expect(panel.locator(".js-label")).to_have_text("Identity confirmed", timeout=OUTCOME_MS)


def test_an_emailed_link_gets_details_then_a_decline_then_a_3ds_payment(portal, actor):
    agent = agent_console(portal, actor)
    reference = f"ACC-{secrets.token_hex(3).upper()}"
    address = f"jane.{secrets.token_hex(3)}@example.com"
    create_request(
        agent, reference, amount="24.99", channel="Email", destination=address, with_address=True
    )

    expect(agent.get_by_role("status")).to_contain_text(
        "Request created and the link is on its way. Read-back code:"
    )
    panel = panel_of(agent, reference)
    expect(panel).to_contain_text("Payment and personal details · £24.99 · Postal address")
    # The outbox worker hands the email to the SMTP server; the panel says so by itself.
    expect(panel.locator(".js-delivery")).to_contain_text(": Sent", timeout=OUTCOME_MS)
    email = portal.email_to(address)
    assert email["Subject"] == f"{portal.org_name}: your secure link from our call"
    text = email.get_body(preferencelist=("plain",)).get_content()
    assert "never ask for your card details" in text and "expires at" in text

    customer = actor()
    open_emailed_link(customer, portal, email)
    start_and_confirm(customer, portal)
    expect(customer.locator(".summary-amount")).to_have_text("£24.99")
    expect(panel.locator(".js-label")).to_have_text("Identity confirmed", timeout=OUTCOME_MS)
    give_address(customer)

    expect(customer.get_by_role("heading", name=f"Pay £24.99 to {portal.org_name}")).to_be_visible()
    expect(panel.locator('[data-field="postcode"]')).to_have_text(
        "Postcode: Received", timeout=OUTCOME_MS
    )
    pay = pay_button(customer, "£24.99")
    expect(pay).to_be_enabled()
    enter_card(customer, DECLINED_CARD)
    press_pay(pay)
    message = customer.locator("#payment-message")
    expect(message).to_contain_text("Your bank declined this payment", timeout=OUTCOME_MS)
    expect(message).to_contain_text("No money has been taken")
    expect(pay).to_be_enabled()

    enter_card(customer, THREE_DS_CARD)
    press_pay(pay)
    challenge(customer).get_by_role("button", name="Complete authentication").click()

    expect(customer.get_by_role("heading", name="Payment received")).to_be_visible(
        timeout=OUTCOME_MS
    )
    expect(customer.get_by_role("status")).to_contain_text("Your payment of £24.99")
    expect(customer.get_by_text("Visa ending 3184")).to_be_visible()
    expect(customer.get_by_text(reference)).to_be_visible()
    # The agent, still on the call, sees it finish without reloading.
    expect(panel.locator(".js-label")).to_have_text("Paid", timeout=OUTCOME_MS)
    expect(panel.locator('[data-step="finished"]')).to_have_class("step step-done")

    public_id = panel.get_attribute("data-request")
    request, payment = load_payment(portal.app, public_id)
    assert (request.status, payment.status) == ("succeeded", "succeeded")
    assert (payment.failed_attempts, payment.three_d_secure) == (1, "authenticated")
    assert payment.card_last4 == "3184"
    intent_id = payment.stripe_payment_intent_id
    confirms = portal.sandbox.requests("POST", f"/v1/payment_intents/{intent_id}/confirm")
    assert len(confirms) == 2, "one PaymentIntent for both tries: the decline and the 3-D Secure"
    # Stripe's word reached the app (on the stack: through nginx, to the webhook worker).
    wait_until(
        lambda: "payment_intent.succeeded" in applied_webhooks(portal.app, intent_id),
        OUTCOME_MS / 1000,
        "the webhook worker to apply payment_intent.succeeded",
    )
    portal.assert_audit_chain_verifies()
