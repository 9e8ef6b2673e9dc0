"""``flask payments reconcile`` against the Stripe sandbox: what a lost webhook left behind."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.support.capture import audit_actions, expire
from tests.support.payments import (
    arm_fault,
    confirm_in_browser,
    load_payment,
    opened_pay_page,
    stripe_api,
)


@pytest.fixture
def customer(customer):
    """Here the customer has opened the payment page, so the PaymentIntent exists."""
    return opened_pay_page(customer)


def reconcile(app):
    return app.test_cli_runner().invoke(args=["payments", "reconcile"])


def test_a_success_whose_webhook_was_lost_is_repaired(pay_app, customer, stripe_sandbox):
    """The sandbox has no webhook endpoint: the payment succeeds at Stripe and nobody tells
    us. Reconcile asks, fixes the records, and says what it changed."""
    intent_id = load_payment(pay_app, customer.public_id)[1].stripe_payment_intent_id
    assert stripe_sandbox.sandbox.webhooks.endpoint_url() is None
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_visa")
    assert load_payment(pay_app, customer.public_id)[0].status == "verified"

    result = reconcile(pay_app)

    assert result.exit_code == 0, result.output
    assert (
        f"changed {customer.public_id} {intent_id}: payment requires_payment_method -> "
        "succeeded, request verified -> succeeded"
    ) in result.output
    assert "reconciled 1 payment(s): 1 changed, 0 could not be checked" in result.output
    request, payment = load_payment(pay_app, customer.public_id)
    assert (request.status, payment.status, payment.card_last4) == (
        "succeeded",
        "succeeded",
        "4242",
    )
    actions = audit_actions(pay_app, customer.public_id)
    assert actions.count("payment.succeeded") == 1 and actions.count("payment.reconciled") == 1
    _assert_actor(pay_app, "payment.reconciled", "reconcile")

    again = reconcile(pay_app)
    assert "reconciled 0 payment(s): 0 changed" in again.output


def test_an_expired_request_has_its_intent_canceled(pay_app, customer, stripe_sandbox):
    intent_id = load_payment(pay_app, customer.public_id)[1].stripe_payment_intent_id
    expire(pay_app, customer.public_id, ago=timedelta(minutes=1))

    result = reconcile(pay_app)

    assert result.exit_code == 0, result.output
    assert "payment requires_payment_method -> canceled, request verified -> expired" in (
        result.output
    )
    assert stripe_api(stripe_sandbox, "GET", f"/v1/payment_intents/{intent_id}")["status"] == (
        "canceled"
    )


def test_stripe_down_is_reported_and_retried_next_time(pay_app, customer, stripe_sandbox):
    intent_id = load_payment(pay_app, customer.public_id)[1].stripe_payment_intent_id
    confirm_in_browser(stripe_sandbox, intent_id, "pm_card_visa")
    arm_fault(stripe_sandbox, "500", count=3, path_prefix="/v1/payment_intents/")

    down = reconcile(pay_app)
    assert down.exit_code == 1
    assert f"could not check {customer.public_id} {intent_id}: server" in down.output
    assert load_payment(pay_app, customer.public_id)[1].status == "requires_payment_method"

    assert "1 changed" in reconcile(pay_app).output


def test_a_payment_that_makes_reconcile_raise_does_not_stop_the_others(
    pay_app, customer, make_staff, stripe_sandbox
):
    """Proves: an unforeseen failure while checking one payment (here Stripe's client raising
    for that PaymentIntent only) is reported by its class name, and every other payment is
    still checked and repaired in the same run; the next run repairs the first as well."""
    from portal.audit import RECONCILE
    from portal.payments.gateway import StripeGateway
    from portal.payments.reconcile import reconcile as run_reconcile
    from tests.support.payments import customer_at_payment

    other = opened_pay_page(customer_at_payment(pay_app, make_staff("agent").id))
    first_intent = load_payment(pay_app, customer.public_id)[1].stripe_payment_intent_id
    other_intent = load_payment(pay_app, other.public_id)[1].stripe_payment_intent_id
    for intent_id in (first_intent, other_intent):
        confirm_in_browser(stripe_sandbox, intent_id, "pm_card_visa")

    class FailsForTheFirst(StripeGateway):  # Stripe's side of the edge, failing unforeseeably
        def retrieve_payment_intent(self, intent_id):
            if intent_id == first_intent:
                raise RuntimeError(f"unforeseen failure about {intent_id}")
            return super().retrieve_payment_intent(intent_id)

    with pay_app.app_context():
        report = run_reconcile(gateway=FailsForTheFirst.from_config(), actor=RECONCILE)

    assert report.errors == [(customer.public_id, first_intent, "RuntimeError")]
    assert [change.payment_intent for change in report.changes] == [other_intent]
    assert load_payment(pay_app, other.public_id)[0].status == "succeeded"
    assert load_payment(pay_app, customer.public_id)[0].status == "verified"

    assert "1 changed, 0 could not be checked" in reconcile(pay_app).output
    assert load_payment(pay_app, customer.public_id)[0].status == "succeeded"


def _assert_actor(app, action: str, label: str) -> None:
    from portal.extensions import db
    from portal.models.audit import AuditEvent

    with app.app_context():
        actors = db.session.execute(
            select(AuditEvent.actor_label).where(AuditEvent.action == action)
        ).scalars()
        assert set(actors) == {label}
