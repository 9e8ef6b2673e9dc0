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


# --- refunds and disputes whose events were lost ---------------------------------------------


@pytest.fixture
def officer(pay_app, make_staff):
    from tests.support.backoffice_write import reauth
    from tests.support.web import login

    client = pay_app.test_client()
    user = make_staff("backoffice", mfa=True)
    login(client, user)
    assert reauth(client, user).status_code == 303
    return client


def _paid(pay_app, stripe_sandbox, make_staff, payment_method):
    from tests.support.refund_journeys import paid_with

    return paid_with(pay_app, stripe_sandbox, make_staff("agent").id, payment_method)


def _refund(client, public_id):
    from tests.support.backoffice_write import ask_refund

    fields = {"scope": "full", "amount": "", "reason_code": "goodwill", "note": "Sorry"}
    assert ask_refund(client, public_id, fields).status_code == 303


def test_a_refund_whose_events_were_lost_is_repaired(pay_app, make_staff, stripe_sandbox, officer):
    """The sandbox has no webhook endpoint: the pending refund succeeds at Stripe and nobody
    tells us. Reconcile lists the intent's refunds, applies each, and says what it changed."""
    from tests.support.refund_journeys import PENDING_REFUND, refunds_of

    public_id, intent_id = _paid(pay_app, stripe_sandbox, make_staff, PENDING_REFUND)
    _refund(officer, public_id)
    [refund] = refunds_of(pay_app, public_id)
    assert refund.status == "pending"
    stripe_sandbox.advance_refunds()

    result = reconcile(pay_app)

    assert result.exit_code == 0, result.output
    assert f"changed {public_id} {intent_id}: refund {refund.id} pending -> succeeded" in (
        result.output
    )
    assert "refunds of 1 and disputes of 1 payment(s) asked about" in result.output
    assert refunds_of(pay_app, public_id)[0].status == "succeeded"
    _assert_actor(pay_app, "refund.succeeded", "reconcile")
    # Succeeded refunds are still asked about (they can still fail); nothing changes now.
    again = reconcile(pay_app)
    assert "0 changed" in again.output and "refunds of 1 and" in again.output


def test_a_refund_that_failed_after_succeeding_is_repaired(
    pay_app, make_staff, stripe_sandbox, officer
):
    from tests.support.refund_journeys import REFUND_FAILS, refunds_of

    public_id, intent_id = _paid(pay_app, stripe_sandbox, make_staff, REFUND_FAILS)
    _refund(officer, public_id)
    [refund] = refunds_of(pay_app, public_id)
    stripe_sandbox.advance_refunds()

    result = reconcile(pay_app)

    assert f"refund {refund.id} succeeded -> failed" in result.output
    [refund] = refunds_of(pay_app, public_id)
    assert (refund.status, refund.failure_code) == ("failed", "expired_or_canceled_card")
    _assert_actor(pay_app, "refund.failed", "reconcile")


def test_a_dispute_whose_events_were_all_lost_is_found_and_followed(
    pay_app, make_staff, stripe_sandbox
):
    from tests.support.refund_journeys import DISPUTED, actions_starting, disputes_of

    public_id, intent_id = _paid(pay_app, stripe_sandbox, make_staff, DISPUTED)
    dispute_id = stripe_sandbox.list_disputes(intent_id)[0]["id"]

    found = reconcile(pay_app)

    assert f"changed {public_id} {intent_id}: dispute {dispute_id} not known -> needs_response" in (
        found.output
    )
    [dispute] = disputes_of(pay_app, public_id)
    assert (dispute.status, dispute.funds_withdrawn_minor) == ("needs_response", 1250)

    # An open dispute is asked about whatever its payment's age.
    stripe_sandbox.close_dispute(dispute_id, "lost")
    closed = pay_app.test_cli_runner().invoke(args=["payments", "reconcile", "--dispute-days", "0"])
    assert f"dispute {dispute_id} needs_response -> lost" in closed.output
    assert disputes_of(pay_app, public_id)[0].status == "lost"
    assert actions_starting(pay_app, public_id, "dispute.") == [
        "dispute.opened",
        "dispute.funds_withdrawn",
        "dispute.closed",
    ]
    _assert_actor(pay_app, "dispute.closed", "reconcile")
    # Closed and older than the look-back: no longer asked about.
    quiet = pay_app.test_cli_runner().invoke(args=["payments", "reconcile", "--dispute-days", "0"])
    assert "disputes of 0 payment(s)" in quiet.output


def test_stripe_down_while_listing_refunds_is_reported_and_repaired_next_time(
    pay_app, make_staff, stripe_sandbox, officer
):
    from tests.support.refund_journeys import PENDING_REFUND, refunds_of

    public_id, intent_id = _paid(pay_app, stripe_sandbox, make_staff, PENDING_REFUND)
    _refund(officer, public_id)
    stripe_sandbox.advance_refunds()
    arm_fault(stripe_sandbox, "500", count=3, path_prefix="/v1/refunds")

    down = reconcile(pay_app)

    assert down.exit_code == 1
    assert f"could not check {public_id} {intent_id}: refunds: server" in down.output
    assert refunds_of(pay_app, public_id)[0].status == "pending"
    assert "pending -> succeeded" in reconcile(pay_app).output
