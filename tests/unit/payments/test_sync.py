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
