"""portal.payments.sync.apply_intent: idempotent and monotonic, whatever order facts arrive in.

The facts are what the gateway returns; here some are built by hand to play a stale or
out-of-order answer, which real Stripe can produce when reads and writes race.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.payments.facts import ChargeFacts, IntentFacts
from tests.support.capture import audit_actions
from tests.support.payments import confirm_in_browser, load_payment, opened_pay_page


@pytest.fixture
def customer(customer):
    """Here the customer has opened the payment page, so the PaymentIntent exists."""
    return opened_pay_page(customer)


def apply(app, public_id, facts):
    from portal.audit import SYSTEM
    from portal.extensions import db
    from portal.models.capture import CaptureRequest
    from portal.models.payment import Payment
    from portal.payments.gateway import StripeGateway
    from portal.payments.sync import apply_intent

    with app.app_context():
        payment = db.session.execute(
            select(Payment).join(CaptureRequest).where(CaptureRequest.public_id == public_id)
        ).scalar_one()
        outcome = apply_intent(payment, facts, gateway=StripeGateway.for_app(), actor=SYSTEM)
        db.session.commit()
        return outcome


def facts(intent_id, status, **extra):
    return IntentFacts(id=intent_id, status=status, amount=1250, currency="GBP", **extra)


def test_stale_facts_never_move_a_finished_payment(pay_app, customer, stripe_sandbox):
    intent_id = load_payment(pay_app, customer.public_id)[1].stripe_payment_intent_id
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_visa")
    assert customer.client.get(customer.pay_path + "/status").get_json()["state"] == "succeeded"
    before = audit_actions(pay_app, customer.public_id)

    for stale in (
        facts(intent_id, "requires_action"),
        facts(intent_id, "requires_payment_method", error_code="card_declined",
              error_decline_code="generic_decline", error_charge_id="ch_old"),
        facts(intent_id, "canceled"),
    ):  # fmt: skip
        outcome = apply(pay_app, customer.public_id, stale)
        assert not outcome.changed

    request, payment = load_payment(pay_app, customer.public_id)
    assert (request.status, payment.status, payment.failed_attempts) == (
        "succeeded",
        "succeeded",
        0,
    )
    assert audit_actions(pay_app, customer.public_id) == before


def test_the_same_facts_twice_change_things_once(pay_app, customer):
    intent_id = load_payment(pay_app, customer.public_id)[1].stripe_payment_intent_id
    charge = ChargeFacts(id="ch_3ds", status="succeeded", brand="visa", last4="3184",
                         exp_month=12, exp_year=2034, three_d_secure="authenticated")  # fmt: skip

    first = apply(pay_app, customer.public_id, facts(intent_id, "requires_action"))
    second = apply(pay_app, customer.public_id, facts(intent_id, "requires_action"))
    assert first.changed and first.request_after == "in_progress"
    assert not second.changed

    done = facts(intent_id, "succeeded", charge=charge)
    assert apply(pay_app, customer.public_id, done).request_after == "succeeded"
    assert not apply(pay_app, customer.public_id, done).changed
    actions = audit_actions(pay_app, customer.public_id)
    for action in ("capture.in_progress", "capture.succeeded", "payment.succeeded"):
        assert actions.count(action) == 1, action
    _, payment = load_payment(pay_app, customer.public_id)
    assert (payment.card_last4, payment.three_d_secure) == ("3184", "authenticated")


def test_charges_are_listed_only_when_stripe_has_a_charge_we_have_not_seen(
    pay_app, customer, stripe_sandbox
):
    """Polling costs one call to Stripe, not two: the charge list is asked for only when the
    intent's latest charge is new to us (charges come one after another, so every earlier one
    was listed with it)."""
    intent_id = load_payment(pay_app, customer.public_id)[1].stripe_payment_intent_id
    status_path = customer.pay_path + "/status"
    assert customer.client.get(status_path).get_json()["attempts_left"] == 5
    assert stripe_sandbox.requests("GET", "/v1/charges") == []  # no charge yet: nothing to list

    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_chargeDeclined")
    for _ in range(3):
        assert customer.client.get(status_path).get_json()["attempts_left"] == 4
    assert len(stripe_sandbox.requests("GET", "/v1/charges")) == 1

    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_chargeDeclined")
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_chargeDeclined")
    assert customer.client.get(status_path).get_json()["attempts_left"] == 2
    assert len(stripe_sandbox.requests("GET", "/v1/charges")) == 2


def test_stale_facts_about_a_decline_neither_count_it_twice_nor_lose_a_later_one(
    pay_app, customer, stripe_sandbox
):
    """A late answer (taken before a later decline) applied after a newer one: each charge is
    counted once, and the customer is told about the newest failure, not the older one."""
    from portal.payments.gateway import StripeGateway

    intent_id = load_payment(pay_app, customer.public_id)[1].stripe_payment_intent_id
    with pay_app.app_context():
        gateway = StripeGateway.for_app()
        confirm_in_browser(stripe_sandbox, intent_id, "pm_card_chargeDeclinedExpiredCard")
        older = gateway.retrieve_payment_intent(intent_id)
        confirm_in_browser(stripe_sandbox, intent_id, "pm_card_chargeDeclinedInsufficientFunds")
        newer = gateway.retrieve_payment_intent(intent_id)

    for answer in (newer, older, newer, older):
        apply(pay_app, customer.public_id, answer)

    _, payment = load_payment(pay_app, customer.public_id)
    assert payment.failed_attempts == 2
    assert payment.decline_code == "insufficient_funds"
    assert audit_actions(pay_app, customer.public_id).count("payment.failed") == 2


def test_the_limit_cancels_an_intent_waiting_for_a_bank_check(
    app_factory, stripe_sandbox, make_staff
):
    """Declines up to the limit, then a 3-D Secure card: the intent is waiting for the bank
    when Postern learns of the declines; it is canceled all the same."""
    from tests.support.payments import customer_at_payment, sandbox_settings, stripe_api

    app = app_factory(**sandbox_settings(stripe_sandbox, PAYMENT_MAX_ATTEMPTS=2))
    customer = opened_pay_page(customer_at_payment(app, make_staff("agent").id))
    intent_id = load_payment(app, customer.public_id)[1].stripe_payment_intent_id
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_chargeDeclined")
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_chargeDeclined")
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_authenticationRequired")
    assert stripe_api(stripe_sandbox, "GET", f"/v1/payment_intents/{intent_id}")["status"] == (
        "requires_action"
    )

    assert customer.client.get(customer.pay_path + "/status").get_json()["state"] == "failed"

    assert stripe_api(stripe_sandbox, "GET", f"/v1/payment_intents/{intent_id}")["status"] == (
        "canceled"
    )
    request, payment = load_payment(app, customer.public_id)
    assert (payment.failed_attempts, payment.status) == (2, "canceled")
    assert request.status_reason == "too_many_attempts"


def test_a_radar_block_is_counted_with_stripes_decline_code(pay_app, customer, stripe_sandbox):
    """Blocked by Radar: a failed charge like any decline; the customer learns nothing that
    would help a card thief (the generic words)."""
    from portal.payments.messages import GENERIC_DECLINE

    intent_id = load_payment(pay_app, customer.public_id)[1].stripe_payment_intent_id
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_radarBlock")

    status = customer.client.get(customer.pay_path + "/status").get_json()

    assert (status["state"], status["message"]) == ("ready", GENERIC_DECLINE)
    _, payment = load_payment(pay_app, customer.public_id)
    assert (payment.failed_attempts, payment.failure_code) == (1, "card_declined")
    assert payment.decline_code == "fraudulent"
